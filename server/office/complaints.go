package office

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

var nsOffice = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/office"))

// FileComplaint records a customer's complaint, optionally about one of
// their visits, with its response-time SLA, and alerts the team's
// supervisors (at high priority when urgent).
func (s *Service) FileComplaint(ctx context.Context, a *schemas.Actor, in schemas.NewComplaint) (*schemas.Complaint, error) {
	if a.Role != schemas.RoleCustomer || a.CustomerID == "" {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c, err := s.customer(ctx, a.CustomerID)
	if err != nil {
		return nil, err
	}
	return s.fileComplaint(ctx, a, c, in, schemas.ChannelApp, "")
}

// FileComplaintFor records a complaint a customer phoned or messaged in
// (hotline, WeChat, the office's other channels), filed by staff with the
// channel it came by; from then on it is handled as one filed in the app.
// Its owner is whoever files it unless another is named. A supervisor files
// only complaints that are their team's: about their team's visit, or from
// their team's customer.
func (s *Service) FileComplaintFor(ctx context.Context, a *schemas.Actor, customerID string, in schemas.OfficeComplaint) (*schemas.Complaint, error) {
	if !isOffice(a) {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return nil, err
	}
	owner := in.OwnerID
	if owner == "" {
		owner = a.UserID
	}
	return s.fileComplaint(ctx, a, c, in.NewComplaint, in.Channel, owner)
}

func (s *Service) fileComplaint(ctx context.Context, a *schemas.Actor, c *schemas.Customer, in schemas.NewComplaint, channel, owner string) (*schemas.Complaint, error) {
	now := s.now().UTC()
	cp := &schemas.Complaint{ID: schemas.NewIDAt(now), CustomerID: c.ID, Team: c.Team, Category: in.Category, Text: strings.TrimSpace(in.Text),
		Urgent: schemas.UrgentCategory(in.Category), State: schemas.ComplaintReceived, ReceivedAt: now, Channel: channel, Version: 1}
	if in.VisitID != "" {
		v, err := s.db.Visits.Get(ctx, in.VisitID)
		if err != nil || v.CustomerID != c.ID {
			return nil, schemas.FieldError("visitId", "visitId does not name a visit of the customer")
		}
		cp.VisitID, cp.WorkerID, cp.Team = v.ID, v.WorkerID, v.Team
	}
	if a.Role == schemas.RoleSupervisor && cp.Team != a.Team {
		return nil, schemas.FieldError("visitId", "this customer is another team's: name the visit of your team the complaint is about, or pass it to their team")
	}
	if a.Role != schemas.RoleCustomer {
		cp.FiledBy = a.UserID
	}
	if owner != "" {
		if err := s.checkOwner(ctx, owner, cp.Team); err != nil {
			return nil, err
		}
		cp.OwnerID = owner
	}
	cp.AckDueAt = schemas.AckDue(now, cp.Urgent, s.calendar)
	cp.History = []schemas.ComplaintEvent{{At: now, By: a.UserID, Role: a.Role, Action: "filed", Note: channelNote(channel)}}
	if err := s.cases().InsertComplaint(ctx, cp); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, a, schemas.EntityComplaint, cp.ID, "create", 1, nil, cp, nil, ""); err != nil {
		return nil, err
	}
	prio := "normal"
	if cp.Urgent {
		prio = "high"
	}
	// A flood of complaints from one customer is one alert with a count.
	return cp, s.raiseAbout(ctx, "customer/"+cp.CustomerID, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("complaint/"+cp.ID)).String(), Kind: "complaint",
		Team: cp.Team, VisitID: cp.VisitID, WorkerID: cp.WorkerID, Priority: prio, Detail: cp.Category, CreatedAt: now})
}

func channelNote(channel string) string {
	if channel == schemas.ChannelApp {
		return ""
	}
	return "via " + channel
}

// checkOwner checks that the user may own a complaint of the team: an
// active admin, or an active supervisor of that team.
func (s *Service) checkOwner(ctx context.Context, id, team string) error {
	u, err := s.db.Accounts.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (u.Disabled || u.Role != schemas.RoleAdmin && (u.Role != schemas.RoleSupervisor || u.Team != team)) {
		return schemas.FieldError("ownerId", "ownerId must name an active admin, or an active supervisor of the complaint's team")
	}
	return err
}

func canSeeComplaint(a *schemas.Actor, c *schemas.Complaint) bool {
	switch a.Role {
	case schemas.RoleAdmin:
		return true
	case schemas.RoleSupervisor:
		return c.Team != "" && c.Team == a.Team
	case schemas.RoleCustomer:
		return c.CustomerID == a.CustomerID
	}
	return false
}

// Complaint returns one complaint the actor may see.
func (s *Service) Complaint(ctx context.Context, a *schemas.Actor, id string) (*schemas.Complaint, error) {
	c, err := s.cases().Complaint(ctx, id)
	if err != nil {
		return nil, caseErr(err, "complaint")
	}
	if !canSeeComplaint(a, c) {
		return nil, errNotFound("complaint")
	}
	return c, nil
}

// ListComplaints lists the complaints the actor may see, newest first; the
// overdue ones (not acknowledged by their answer due time) the most overdue
// first.
func (s *Service) ListComplaints(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Complaint], error) {
	f := p.Filter
	q := store.ComplaintQuery{Open: f.Open, State: f.State, Category: f.Category, WorkerID: f.WorkerID, CustomerID: f.CustomerID, VisitID: f.VisitID,
		OwnerID: f.OwnerID, From: f.From, To: f.To, After: p.After, Limit: p.Limit}
	now := s.now().UTC()
	if f.Overdue {
		q.Overdue = now
	}
	if f.Unanswered {
		q.Unanswered = now.Add(-s.answerWait)
	}
	none := schemas.Page[schemas.Complaint]{Items: []schemas.Complaint{}}
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return none, nil
		}
		q.Team = a.Team
	case schemas.RoleCustomer:
		if a.CustomerID == "" || f.CustomerID != "" && f.CustomerID != a.CustomerID {
			return none, nil
		}
		q.CustomerID = a.CustomerID
	default:
		return schemas.Page[schemas.Complaint]{}, forbidden()
	}
	cs, err := s.cases().ListComplaints(ctx, q)
	return cs, caseErr(err, "complaint")
}

// ComplaintAction is a step of handling.
type ComplaintAction struct {
	// acknowledge, investigate, propose, assign, close, close_unanswered
	// (office); accept, reject (customer)
	Action    string          `json:"action"`
	Note      string          `json:"note,omitempty"`
	Remedy    *schemas.Remedy `json:"remedy,omitempty"`
	OwnerID   string          `json:"ownerId,omitempty"`   // assign
	RootCause string          `json:"rootCause,omitempty"` // close, close_unanswered: one of schemas.RootCauses
}

var complaintActions = []string{"acknowledge", "investigate", "propose", "assign", "close", "close_unanswered", "accept", "reject"}

// Validate checks the shape.
func (c *ComplaintAction) Validate() error {
	if !slices.Contains(complaintActions, c.Action) {
		return schemas.FieldError("action", "action must be one of %s", strings.Join(complaintActions, ", "))
	}
	if len([]rune(c.Note)) > 2000 {
		return schemas.FieldError("note", "note is at most 2000 characters")
	}
	switch c.Action {
	case "propose":
		if c.Remedy == nil || !slices.Contains(schemas.Remedies, c.Remedy.Kind) {
			return schemas.FieldError("remedy", "a remedy of kind %s is required", strings.Join(schemas.Remedies, ", "))
		}
		if strings.TrimSpace(c.Remedy.Detail) == "" || len([]rune(c.Remedy.Detail)) > 2000 {
			return schemas.FieldError("remedy.detail", "say what the remedy is")
		}
	case "assign":
		if !schemas.ValidID(c.OwnerID) {
			return schemas.FieldError("ownerId", "ownerId must be an id")
		}
	case "close", "close_unanswered":
		if !slices.Contains(schemas.RootCauses, c.RootCause) {
			return schemas.FieldError("rootCause", "rootCause must be one of %s", strings.Join(schemas.RootCauses, ", "))
		}
		if (c.Action == "close_unanswered" || c.RootCause == "other") && strings.TrimSpace(c.Note) == "" {
			return schemas.FieldError("note", "say why it is closed")
		}
	}
	if c.Action != "propose" && c.Remedy != nil || c.Action != "assign" && c.OwnerID != "" || c.RootCause != "" && !strings.HasPrefix(c.Action, "close") {
		return schemas.Errorf(schemas.EINVALID, "remedy, ownerId and rootCause go only with propose, assign and close")
	}
	return nil
}

// complaintTargets is the state each action moves a complaint to.
var complaintTargets = map[string]string{"acknowledge": schemas.ComplaintAcknowledged, "investigate": schemas.ComplaintInvestigating,
	"propose": schemas.ComplaintRemedyProposed, "close": schemas.ComplaintClosed, "close_unanswered": schemas.ComplaintClosed,
	"accept": schemas.ComplaintAccepted, "reject": schemas.ComplaintInvestigating}

// ActOnComplaint moves a complaint through intake -> acknowledged ->
// investigating -> remedy proposed -> accepted (or back to investigating)
// -> closed, with its root cause. A remedy the customer has not answered
// for the answer wait may be closed without the answer, with a reason: the
// customer is told. Assigning names the office user who owns it. Office
// steps are the team's supervisors' and admins'; accepting or rejecting the
// remedy is the customer's. Each step is in the complaint's history and
// audited; closing schedules the follow-up.
func (s *Service) ActOnComplaint(ctx context.Context, a *schemas.Actor, id string, act ComplaintAction) (*schemas.Complaint, error) {
	if err := act.Validate(); err != nil {
		return nil, err
	}
	office := isOffice(a)
	customerStep := act.Action == "accept" || act.Action == "reject"
	if office == customerStep {
		return nil, forbidden()
	}
	for attempt := 0; ; attempt++ {
		before, err := s.Complaint(ctx, a, id)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		to := complaintTargets[act.Action]
		switch act.Action {
		case "assign":
			if before.State == schemas.ComplaintClosed {
				return nil, schemas.Errorf(schemas.ECONFLICT, "a closed complaint is not assigned").With("state", before.State)
			}
			to = before.State
			if err := s.checkOwner(ctx, act.OwnerID, before.Team); err != nil {
				return nil, err
			}
		case "close_unanswered":
			if before.State != schemas.ComplaintRemedyProposed {
				return nil, schemas.Errorf(schemas.ECONFLICT, "only a remedy waiting for the customer's answer can be closed without it (this complaint is %s)", before.State).With("state", before.State)
			}
			if due := before.RemedyProposedAt().Add(s.answerWait); now.Before(due) {
				return nil, schemas.Errorf(schemas.ECONFLICT, "the customer has until %s to answer the remedy", due.Format(time.RFC3339)).With("answerDueAt", due.Format(time.RFC3339))
			}
		default:
			if !schemas.ComplaintCanMove(before.State, to) {
				return nil, schemas.Errorf(schemas.ECONFLICT, "a %s complaint cannot be %sd", before.State, strings.TrimSuffix(act.Action, "e")).With("state", before.State)
			}
		}
		after := *before
		after.History = append(slices.Clone(before.History), schemas.ComplaintEvent{At: now, By: a.UserID, Role: a.Role, Action: act.Action, Note: strings.TrimSpace(act.Note)})
		after.State = to
		switch act.Action {
		case "acknowledge":
			after.AckedAt = &now
			after.Breached = before.Breached || now.After(before.AckDueAt)
		case "propose":
			after.Remedy = act.Remedy
		case "assign":
			after.OwnerID = act.OwnerID
		case "close", "close_unanswered":
			follow := now.Add(24 * time.Hour)
			after.ClosedAt, after.FollowUpDue, after.RootCause = &now, &follow, act.RootCause
		}
		err = s.cases().ReplaceComplaint(ctx, &after, before.Version)
		if errors.Is(err, store.ErrVersion) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, caseErr(err, "complaint")
		}
		if err := s.audit(ctx, a, schemas.EntityComplaint, id, act.Action, after.Version, before, &after, nil, act.Note); err != nil {
			return nil, err
		}
		if err := s.tellComplaintStep(ctx, act.Action, &after); err != nil {
			return nil, err
		}
		if after.State == schemas.ComplaintClosed {
			return &after, s.complaintClosed(ctx, &after, act.Action == "close_unanswered")
		}
		return &after, nil
	}
}

// complaintClosed schedules the follow-up call of a closed complaint (its
// id derived from the complaint, so once) and, when it was closed without
// the customer's answer, tells the customer (keyed by the complaint, so
// once).
func (s *Service) complaintClosed(ctx context.Context, c *schemas.Complaint, unanswered bool) error {
	at := *c.ClosedAt
	f := &schemas.FollowUp{ID: uuid.NewSHA1(nsOffice, []byte("followup/complaint/"+c.ID)).String(), ComplaintID: c.ID, VisitID: c.VisitID,
		CustomerID: c.CustomerID, WorkerID: c.WorkerID, Team: c.Team, DueAt: *c.FollowUpDue, LatestAt: at.Add(7 * 24 * time.Hour), Version: 1}
	if _, err := s.cases().RecordFollowUp(ctx, f); err != nil {
		return err
	}
	if !unanswered || s.teller == nil {
		return nil
	}
	return s.teller.TellCustomer(ctx, c.CustomerID, "complaint_closed_unanswered", "complaint-closed/"+c.ID, map[string]string{"complaintId": c.ID})
}

// EscalateBreaches marks complaints not acknowledged by their SLA as
// breached and alerts the admins, once each. It returns how many.
func (s *Service) EscalateBreaches(ctx context.Context) (int, error) {
	now := s.now().UTC()
	cs, err := s.cases().ComplaintsPastDue(ctx, now, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range cs {
		c := &cs[i]
		after := *c
		after.Breached = true
		after.History = append(slices.Clone(c.History), schemas.ComplaintEvent{At: now, By: System.UserID, Role: System.Role, Action: "sla_breached"})
		if err := s.cases().ReplaceComplaint(ctx, &after, c.Version); err != nil {
			if errors.Is(err, store.ErrVersion) {
				continue // acknowledged meanwhile
			}
			return n, err
		}
		if s.observer != nil { // counted once: the write above succeeds once per complaint
			s.observer.ComplaintBreached(c.Category)
		}
		if err := s.audit(ctx, System, schemas.EntityComplaint, c.ID, "sla_breached", after.Version, c, &after, nil, ""); err != nil {
			return n, err
		}
		if err := s.raiseAbout(ctx, "customer/"+c.CustomerID, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("breach/"+c.ID)).String(), Kind: "complaint_sla_breach",
			VisitID: c.VisitID, Priority: "high", Detail: fmt.Sprintf("complaint %s (%s) not acknowledged by %s", c.ID, c.Category, c.AckDueAt.Format(time.RFC3339)),
			CreatedAt: now}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunSLA escalates complaint breaches and unacknowledged critical
// incidents every interval until ctx ends.
func (s *Service) RunSLA(ctx context.Context, every time.Duration) {
	for {
		if _, err := s.EscalateBreaches(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("complaint SLA check", "err", err)
		}
		if _, err := s.EscalateIncidents(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("incident escalation", "err", err)
		}
		if _, err := s.EscalateUnanswered(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("unanswered assignments", "err", err)
		}
		if _, err := s.EscalateOverdue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("overdue escalations", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
