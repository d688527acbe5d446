package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store"
)

// actor is the domain view of the caller.
func actor(c *fiber.Ctx) *schemas.Actor {
	p := principal(c)
	return &schemas.Actor{UserID: p.User.ID, Role: p.User.Role, Team: p.User.Team, WorkerID: p.User.WorkerID,
		CustomerID: p.User.CustomerID, DeviceID: p.DeviceID}
}

// Request bodies that carry the version the client edited (optimistic
// concurrency: a stale version is 409 with the current one).

// WorkerPut replaces a worker's editable fields.
type WorkerPut struct {
	Version int64 `json:"version"`
	schemas.WorkerInput
}

// Validate checks the version and the fields.
func (p *WorkerPut) Validate() error { return versioned(p.Version, p.WorkerInput.Validate) }

// CustomerPut replaces a customer's editable fields.
type CustomerPut struct {
	Version int64 `json:"version"`
	schemas.CustomerInput
}

// Validate checks the version and the fields.
func (p *CustomerPut) Validate() error { return versioned(p.Version, p.CustomerInput.Validate) }

// ServiceTypePut replaces a catalog entry.
type ServiceTypePut struct {
	Version int64 `json:"version"`
	schemas.ServiceTypeInput
}

// Validate checks the version and the fields.
func (p *ServiceTypePut) Validate() error { return versioned(p.Version, p.ServiceTypeInput.Validate) }

// SchedulePut replaces a schedule.
type SchedulePut struct {
	Version int64 `json:"version"`
	schemas.ScheduleInput
}

// Validate checks the version and the fields.
func (p *SchedulePut) Validate() error { return versioned(p.Version, p.ScheduleInput.Validate) }

// ScheduleEnd ends a schedule.
type ScheduleEnd struct {
	Version int64  `json:"version"`
	EndsOn  string `json:"endsOn"`
}

// Validate checks the version.
func (p *ScheduleEnd) Validate() error { return versioned(p.Version, nil) }

func versioned(v int64, next func() error) error {
	if v < 1 {
		return schemas.FieldError("version", "version is required: the version you loaded")
	}
	if next == nil {
		return nil
	}
	return next()
}

// RescheduleBody moves a visit.
type RescheduleBody struct {
	Version        int64     `json:"version,omitempty"`
	ScheduledStart time.Time `json:"scheduledStart"`
	ScheduledEnd   time.Time `json:"scheduledEnd"`
	Reason         string    `json:"reason,omitempty"`
	OverrideReason string    `json:"overrideReason,omitempty"` // keeps the worker though the new time breaks hard constraints (supervisors, admins; audited)
}

// ReassignBody gives a visit to another worker.
type ReassignBody struct {
	Version        int64  `json:"version,omitempty"`
	WorkerID       string `json:"workerId"`
	Reason         string `json:"reason,omitempty"`
	OverrideReason string `json:"overrideReason,omitempty"` // books the worker despite the hard constraints they break (supervisors, admins; audited)
}

// CancelBody cancels a visit, or takes its worker away (unassign).
type CancelBody struct {
	Version int64  `json:"version,omitempty"`
	Reason  string `json:"reason"`
}

// GenerateResult says what a generation run did.
type GenerateResult = office.ReflowResult

// Workers.

func (a *API) listWorkers(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.WorkerFilter{Team: c.Query("team"), Status: schemas.WorkerStatus(c.Query("status")),
		Skill: schemas.Skill(c.Query("skill")), After: c.Query("after"), Limit: limit}
	if err := checkAfterID(f.After); err != nil {
		return err
	}
	ws, next, err := a.office.ListWorkers(c.UserContext(), actor(c), f)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[schemas.Worker]{Items: ws, NextCursor: next})
}

func (a *API) createWorker(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.CreateWorker)
}

func (a *API) getWorker(c *fiber.Ctx) error {
	return byID(a, c, a.office.Worker)
}

func (a *API) putWorker(c *fiber.Ctx) error {
	return replaceByID(a, c, func(ctx context.Context, act *schemas.Actor, id string, in WorkerPut) (*schemas.Worker, error) {
		return a.office.UpdateWorker(ctx, act, id, in.Version, in.WorkerInput)
	})
}

// Customers.

func (a *API) listCustomers(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.CustomerFilter{Phone: schemas.NormalizePhone(c.Query("phone")), After: c.Query("after"), Limit: limit}
	if err := checkAfterID(f.After); err != nil {
		return err
	}
	if a := actor(c); a.Role == schemas.RoleAdmin {
		f.Team = c.Query("team")
	}
	cs, next, err := a.office.ListCustomers(c.UserContext(), actor(c), f)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[schemas.Customer]{Items: cs, NextCursor: next})
}

func (a *API) createCustomer(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.CreateCustomer)
}

func (a *API) getCustomer(c *fiber.Ctx) error {
	return byID(a, c, a.office.Customer)
}

func (a *API) putCustomer(c *fiber.Ctx) error {
	return replaceByID(a, c, func(ctx context.Context, act *schemas.Actor, id string, in CustomerPut) (*schemas.Customer, error) {
		return a.office.UpdateCustomer(ctx, act, id, in.Version, in.CustomerInput)
	})
}

func (a *API) getNotificationChannel(c *fiber.Ctx) error {
	return byID(a, c, a.office.NotificationChannelOf)
}

func (a *API) putNotificationChannel(c *fiber.Ctx) error {
	return withIDBody(a, c, fiber.StatusOK, a.office.SetNotificationChannel)
}

// Service catalog.

func (a *API) listServiceTypes(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	after := c.Query("after")
	if err := checkAfterID(after); err != nil {
		return err
	}
	ss, next, err := a.office.ListServiceTypes(c.UserContext(), actor(c), after, limit)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[schemas.ServiceType]{Items: ss, NextCursor: next})
}

func (a *API) createServiceType(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.CreateServiceType)
}

func (a *API) getServiceType(c *fiber.Ctx) error {
	return byID(a, c, func(ctx context.Context, _ *schemas.Actor, id string) (*schemas.ServiceType, error) {
		return a.office.ServiceType(ctx, id)
	})
}

func (a *API) putServiceType(c *fiber.Ctx) error {
	return replaceByID(a, c, func(ctx context.Context, act *schemas.Actor, id string, in ServiceTypePut) (*schemas.ServiceType, error) {
		return a.office.UpdateServiceType(ctx, act, id, in.Version, in.ServiceTypeInput)
	})
}

// Visits.

func (a *API) listVisits(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.VisitFilter{WorkerID: c.Query("workerId"), CustomerID: c.Query("customerId"), Limit: limit + 1}
	for field, id := range map[string]string{"workerId": f.WorkerID, "customerId": f.CustomerID} {
		if id != "" && !schemas.ValidID(id) {
			return schemas.FieldError(field, "%s must be an id", field)
		}
	}
	if s := c.Query("status"); s != "" {
		for _, st := range strings.Split(s, ",") {
			if !schemas.VisitStatus(st).Valid() {
				return schemas.FieldError("status", "unknown status %q", st)
			}
			f.Statuses = append(f.Statuses, schemas.VisitStatus(st))
		}
	}
	if day := c.Query("day"); day != "" {
		loc, err := schemas.LoadZone(c.Query("tz"))
		if err != nil {
			return err
		}
		d, err := schemas.ParseDate("day", day)
		if err != nil {
			return err
		}
		f.From = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		f.To = f.From.AddDate(0, 0, 1)
	}
	for field, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(field); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return schemas.FieldError(field, "%s must be an RFC 3339 time", field)
			}
			*dst = t
		}
	}
	if after := c.Query("after"); after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil {
			return schemas.FieldError("after", "after is not a cursor this server issued")
		}
		f.After = string(raw)
	}
	vs, err := a.office.ListVisits(c.UserContext(), actor(c), f)
	if err != nil {
		return err
	}
	return replyPage(a, c, pageOf(vs, limit, func(v schemas.Visit) string {
		return base64.RawURLEncoding.EncodeToString([]byte(store.VisitCursor(&v)))
	}))
}

func (a *API) createVisit(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.CreateVisit)
}

func (a *API) getVisit(c *fiber.Ctx) error {
	return byID(a, c, a.office.Visit)
}

func (a *API) rescheduleVisit(c *fiber.Ctx) error {
	var in RescheduleBody
	return a.visitAction(c, &in, func() office.VisitAction {
		return office.VisitAction{Kind: office.ActReschedule, Version: in.Version, ScheduledStart: in.ScheduledStart, ScheduledEnd: in.ScheduledEnd, Reason: in.Reason, OverrideReason: in.OverrideReason}
	})
}

func (a *API) reassignVisit(c *fiber.Ctx) error {
	var in ReassignBody
	return a.visitAction(c, &in, func() office.VisitAction {
		return office.VisitAction{Kind: office.ActReassign, Version: in.Version, WorkerID: in.WorkerID, Reason: in.Reason, OverrideReason: in.OverrideReason}
	})
}

func (a *API) unassignVisit(c *fiber.Ctx) error {
	var in CancelBody
	return a.visitAction(c, &in, func() office.VisitAction {
		return office.VisitAction{Kind: office.ActUnassign, Version: in.Version, Reason: in.Reason}
	})
}

func (a *API) cancelVisit(c *fiber.Ctx) error {
	var in CancelBody
	return a.visitAction(c, &in, func() office.VisitAction {
		return office.VisitAction{Kind: office.ActCancel, Version: in.Version, Reason: in.Reason}
	})
}

// NoShowBody marks a visit a no-show: whose, and why.
type NoShowBody struct {
	Version int64  `json:"version,omitempty"`
	Party   string `json:"party"` // customer or worker
	Reason  string `json:"reason"`
}

func (a *API) noShowVisit(c *fiber.Ctx) error {
	var in NoShowBody
	return a.visitAction(c, &in, func() office.VisitAction {
		return office.VisitAction{Kind: office.ActNoShow, Version: in.Version, Party: in.Party, Reason: in.Reason}
	})
}

func (a *API) visitAction(c *fiber.Ctx, body any, act func() office.VisitAction) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := decode(c, body); err != nil {
		return err
	}
	v, err := a.office.ActOnVisit(c.UserContext(), actor(c), id, act())
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, v)
}

func (a *API) visitCandidates(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cs, err := a.office.Candidates(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[office.Candidate]{Items: cs})
}

// Schedules.

func (a *API) listSchedules(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	after := c.Query("after")
	if err := checkAfterID(after); err != nil {
		return err
	}
	ss, next, err := a.office.ListSchedules(c.UserContext(), actor(c), after, limit)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[schemas.Schedule]{Items: ss, NextCursor: next})
}

func (a *API) createSchedule(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.CreateSchedule)
}

func (a *API) getSchedule(c *fiber.Ctx) error {
	return byID(a, c, a.office.Schedule)
}

func (a *API) putSchedule(c *fiber.Ctx) error {
	return replaceByID(a, c, func(ctx context.Context, act *schemas.Actor, id string, in SchedulePut) (*office.ScheduleView, error) {
		return a.office.UpdateSchedule(ctx, act, id, in.Version, in.ScheduleInput)
	})
}

func (a *API) endSchedule(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, func(ctx context.Context, act *schemas.Actor, id string, in ScheduleEnd) (*office.ScheduleView, error) {
		return a.office.EndSchedule(ctx, act, id, in.Version, in.EndsOn)
	})
}

func (a *API) generateVisits(c *fiber.Ctx) error {
	r, err := a.office.GenerateAll(c.UserContext())
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, r)
}

// Audit.

func (a *API) auditTrail(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	entity, id := c.Params("entity"), c.Params("id")
	if !schemas.ValidID(id) {
		return schemas.Errorf(schemas.ENOTFOUND, "not found")
	}
	var after int64
	if s := c.Query("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return schemas.FieldError("after", "after is not a cursor this server issued")
		}
	}
	es, err := a.office.AuditTrail(c.UserContext(), actor(c), entity, id, after, limit+1)
	if err != nil {
		return err
	}
	return replyPage(a, c, pageOf(es, limit, func(e schemas.AuditEntry) string { return strconv.FormatInt(e.Version, 10) }))
}

// pageOf cuts a result fetched with limit+1 into a page and its cursor.
func pageOf[T any](items []T, limit int, cursor func(T) string) schemas.Page[T] {
	if len(items) > limit {
		return schemas.Page[T]{Items: items[:limit], NextCursor: cursor(items[limit-1])}
	}
	if items == nil {
		items = []T{}
	}
	return schemas.Page[T]{Items: items}
}

func checkAfterID(after string) error {
	if after != "" && !schemas.ValidID(after) {
		return schemas.FieldError("after", "after is not a cursor this server issued")
	}
	return nil
}

// casePage reads the page of a case list: ?after= is the store's opaque
// cursor, checked by the store.
func casePage(c *fiber.Ctx) (office.Page, error) {
	limit, err := pageLimit(c)
	return office.Page{After: c.Query("after"), Limit: limit}, err
}

// AlertNote is the body of an alert action.
type AlertNote struct {
	Note string `json:"note,omitempty"`
}

func (a *API) listAlerts(c *fiber.Ctx) error {
	return queue(a, c, alertFilter, a.office.Alerts)
}

func (a *API) ackAlert(c *fiber.Ctx) error     { return a.alertAction(c, office.AlertAck) }
func (a *API) resolveAlert(c *fiber.Ctx) error { return a.alertAction(c, office.AlertResolve) }

func (a *API) alertAction(c *fiber.Ctx, action string) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in AlertNote
	if len(c.Body()) > 0 {
		if err := decode(c, &in); err != nil {
			return err
		}
	}
	al, err := a.office.ActOnAlert(c.UserContext(), actor(c), id, action, in.Note)
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, al)
}

func (a *API) confirmVisit(c *fiber.Ctx) error {
	return byID(a, c, a.office.ConfirmVisit) // a POST without a body: the same shape
}

func (a *API) customerSignOff(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.sync.SignOffFromCustomer)
}

func (a *API) postMessage(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.sync.MessageFromCustomer)
}

func (a *API) getMessages(c *fiber.Ctx) error {
	return byID(a, c, a.sync.Thread)
}

func (a *API) fileComplaint(c *fiber.Ctx) error {
	return withBody(a, c, http.StatusCreated, a.office.FileComplaint)
}

func (a *API) fileComplaintFor(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusCreated, a.office.FileComplaintFor)
}

func (a *API) listComplaints(c *fiber.Ctx) error {
	return queue(a, c, complaintFilter, a.office.ListComplaints)
}

func (a *API) getComplaint(c *fiber.Ctx) error {
	return byID(a, c, a.office.Complaint)
}

func (a *API) actOnComplaint(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.office.ActOnComplaint)
}

func (a *API) listIncidents(c *fiber.Ctx) error {
	return queue(a, c, incidentFilter, a.office.Incidents)
}

func (a *API) getIncident(c *fiber.Ctx) error {
	return byID(a, c, a.office.Incident)
}

func (a *API) actOnIncident(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.office.ActOnIncident)
}

func (a *API) listEscalations(c *fiber.Ctx) error {
	return queue(a, c, escalationFilter, a.office.Escalations)
}

func (a *API) getEscalation(c *fiber.Ctx) error {
	return byID(a, c, a.office.Escalation)
}

func (a *API) actOnEscalation(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.office.ActOnEscalation)
}

func (a *API) planRework(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusCreated, a.office.PlanRework)
}

func (a *API) requestChange(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in office.ChangeRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := a.office.RequestChange(c.UserContext(), actor(c), id, in); err != nil {
		return err
	}
	return c.SendStatus(http.StatusAccepted)
}

func (a *API) monthlyReport(c *fiber.Ctx) error {
	month := c.Query("month")
	if month == "" {
		month = a.now().In(shanghai()).Format("2006-01")
	}
	rep, err := a.office.Figures(c.UserContext(), actor(c), month, c.Query("team"))
	if err != nil {
		return err
	}
	switch c.Query("format", "json") {
	case "json":
		return a.reply(c, http.StatusOK, rep)
	case "csv":
		rows := [][]string{append([]string{"month", "scope"}, figuresHeader...)}
		for _, f := range rep.Workers {
			rows = append(rows, append([]string{rep.Month, "worker"}, figuresRow(f)...))
		}
		for _, f := range rep.Teams {
			rows = append(rows, append([]string{rep.Month, "team"}, figuresRow(f)...))
		}
		rows = append(rows, append([]string{rep.Month, "total"}, figuresRow(rep.Total)...))
		return sendCSV(c, "fieldsync-"+rep.Month+".csv", rows)
	}
	return schemas.FieldError("format", "format must be json or csv")
}

var figuresHeader = []string{"team", "workerId", "name", "visitsDue", "visitsDone", "checkIns", "onTime", "missed", "onTimeRate", "earlyLeaves",
	"rated", "avgAttitude", "avgQuality", "avgEfficiency", "avgPrice", "avgScore", "selfEntered", "selfEnteredAvgScore",
	"disputes", "reworks", "complaints", "complaintsNoWorker", "incidents", "noShowsCustomer", "noShowsWorker"}

func figuresRow(f office.WorkerFigures) []string {
	n := strconv.Itoa
	r := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	return []string{f.Team, f.WorkerID, f.Name, n(f.VisitsDue), n(f.VisitsDone), n(f.CheckIns), n(f.OnTime), n(f.Missed), r(f.OnTimeRate), n(f.EarlyLeaves),
		n(f.Rated), r(f.AvgAttitude), r(f.AvgQuality), r(f.AvgEfficiency), r(f.AvgPrice), r(f.AvgScore), n(f.SelfEntered), r(f.SelfEnteredAvgScore),
		n(f.Disputes), n(f.Reworks), n(f.Complaints), n(f.ComplaintsNoWorker), n(f.Incidents), n(f.NoShowsCustomer), n(f.NoShowsWorker)}
}

func sendCSV(c *fiber.Ctx, filename string, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(rows)
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	return c.Send(buf.Bytes())
}

func (a *API) quarterlyReview(c *fiber.Ctx) error {
	quarter := c.Query("quarter")
	if quarter == "" {
		quarter = office.QuarterOf(a.now())
	}
	rep, err := a.office.QuarterReview(c.UserContext(), actor(c), quarter, c.Query("team"))
	if err != nil {
		return err
	}
	switch c.Query("format", "json") {
	case "json":
		return a.reply(c, http.StatusOK, rep)
	case "csv":
		head := []string{"quarter", "team", "workerId", "name"}
		checks := func(d office.ReviewDimension) {
			for _, k := range d.Checks {
				head = append(head, k.Metric, k.Metric+"Threshold", k.Metric+"Result")
			}
			head = append(head, d.Dimension)
		}
		var zero office.WorkerFigures
		dims, _ := office.Assess(zero, rep.Thresholds)
		for _, d := range dims {
			checks(d)
		}
		head = append(head, "result", "previousQuarter", "previousResult", "secondFailureInRow")
		rows := [][]string{head}
		r := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
		for _, w := range rep.Workers {
			row := []string{rep.Quarter, w.Team, w.WorkerID, w.Name}
			for _, d := range w.Dimensions {
				for _, k := range d.Checks {
					row = append(row, r(k.Value), r(k.Threshold), k.Result)
				}
				row = append(row, d.Result)
			}
			rows = append(rows, append(row, w.Result, w.PreviousQuarter, w.PreviousResult, strconv.FormatBool(w.SecondFailureInRow)))
		}
		return sendCSV(c, "fieldsync-review-"+rep.Quarter+".csv", rows)
	}
	return schemas.FieldError("format", "format must be json or csv")
}

func (a *API) breakdowns(c *fiber.Ctx) error {
	month := c.Query("month")
	if month == "" {
		month = a.now().In(shanghai()).Format("2006-01")
	}
	rep, err := a.office.MonthBreakdowns(c.UserContext(), actor(c), month, c.Query("team"))
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, rep)
}

func (a *API) trends(c *fiber.Ctx) error {
	to := c.Query("to")
	if to == "" {
		to = a.now().In(shanghai()).Format("2006-01")
	}
	from := c.Query("from")
	if from == "" {
		t, err := time.ParseInLocation("2006-01", to, shanghai())
		if err != nil {
			return schemas.FieldError("to", "to must look like 2026-11")
		}
		from = t.AddDate(0, -5, 0).Format("2006-01")
	}
	rep, err := a.office.MonthTrends(c.UserContext(), actor(c), from, to, c.Query("team"))
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, rep)
}

func shanghai() *time.Location {
	loc, _ := schemas.LoadZone(schemas.DefaultTimeZone)
	return loc
}

// FollowUpBody records what came of a follow-up.
type FollowUpBody struct {
	Outcome string `json:"outcome"`
}

func (a *API) listFollowUps(c *fiber.Ctx) error {
	return queue(a, c, followUpFilter, a.office.FollowUps)
}

func (a *API) completeFollowUp(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in FollowUpBody
	if err := decode(c, &in); err != nil {
		return err
	}
	f, err := a.office.CompleteFollowUp(c.UserContext(), actor(c), id, in.Outcome)
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, f)
}

// DisputeBody is a worker's objection.
type DisputeBody struct {
	Note string `json:"note"`
}

func (a *API) correctTime(c *fiber.Ctx) error {
	return withIDBody(a, c, http.StatusOK, a.office.CorrectTime)
}

func (a *API) disputeCorrection(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Params("n"))
	if err != nil {
		return schemas.Errorf(schemas.ENOTFOUND, "correction not found")
	}
	var in DisputeBody
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := a.office.DisputeCorrection(c.UserContext(), actor(c), id, n, in.Note)
	if err != nil {
		return err
	}
	return a.reply(c, http.StatusOK, v)
}
