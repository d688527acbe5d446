package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const (
	colAlerts      = "alerts"
	colAlertCauses = "alert_causes"
	colComplaints  = "complaints"
	colIncidents   = "incidents"
	colFollowUps   = "followups"
)

// caseCollections are the collections Cases writes. Every list is a scan
// of one index: its scope (a team, a customer, a worker, a visit, a
// category, or all), optionally only the open ones, then the time it sorts
// by, so a date range is a range on the last field and every page resumes
// by cursor. What a query asks for beyond the index it scans (a worker
// within a team's complaints, a kind of alert) is filtered from that
// index's range, which its prefix keeps small; fields a record may lack
// (a complaint's visit) cannot be indexed (see doc.Index).
var caseCollections = []doc.Collection{
	{Name: colAlerts, Indexes: []doc.Index{
		{Name: "created", Fields: []string{"createdAt"}},
		{Name: "team_created", Fields: []string{"team", "createdAt"}},
		{Name: "open_created", Fields: []string{"open", "createdAt"}},
		{Name: "team_open_created", Fields: []string{"team", "open", "createdAt"}},
	}},
	// One document per coalesced cause, naming the window it was first
	// counted in (causes are an array on the alert, which no index holds).
	{Name: colAlertCauses},
	{Name: colComplaints, Indexes: []doc.Index{
		{Name: "received", Fields: []string{"receivedAt"}},
		{Name: "team_received", Fields: []string{"team", "receivedAt"}},
		{Name: "customer_received", Fields: []string{"customerId", "receivedAt"}},
		{Name: "open_received", Fields: []string{"open", "receivedAt"}},
		{Name: "team_open_received", Fields: []string{"team", "open", "receivedAt"}},
		{Name: "category_received", Fields: []string{"category", "receivedAt"}},
		{Name: "team_category_received", Fields: []string{"team", "category", "receivedAt"}},
		// The response-time sweep: received, not yet breached, by due time.
		{Name: "sla", Fields: []string{"state", "breached", "ackDueAt"}},
		// The overdue queue: still only received, by answer due time.
		{Name: "state_due", Fields: []string{"state", "ackDueAt"}},
		{Name: "team_state_due", Fields: []string{"team", "state", "ackDueAt"}},
	}},
	{Name: colIncidents, Indexes: []doc.Index{
		{Name: "reported", Fields: []string{"reportedAt"}},
		{Name: "team_reported", Fields: []string{"team", "reportedAt"}},
		{Name: "worker_reported", Fields: []string{"workerId", "reportedAt"}},
		{Name: "visit_reported", Fields: []string{"visitId", "reportedAt"}},
		{Name: "open_reported", Fields: []string{"open", "reportedAt"}},
		{Name: "team_open_reported", Fields: []string{"team", "open", "reportedAt"}},
		// The escalation sweep: open, not yet escalated, critical, by report time.
		{Name: "escalation", Fields: []string{"status", "escalated", "critical", "reportedAt"}},
	}},
	{Name: colFollowUps, Indexes: []doc.Index{
		{Name: "due", Fields: []string{"dueAt"}},
		{Name: "team_due", Fields: []string{"team", "dueAt"}},
		{Name: "open_due", Fields: []string{"done", "dueAt"}},
		{Name: "team_open_due", Fields: []string{"team", "done", "dueAt"}},
	}},
}

// Cases stores alerts and cases: alerts, complaints, incidents, follow-ups.
// Times in these records are the callers' (from the one injected clock):
// an alert is dated by its cause, a complaint by its receipt.
type Cases struct{ s *Store }

// Stored forms: the domain record and the fields its indexes need.
type (
	alertDoc struct {
		schemas.Alert `bson:",inline"`
		Open          bool `bson:"open"` // not resolved
	}
	alertCauseDoc struct {
		ID     string    `bson:"_id"`
		Group  string    `bson:"group"`
		Window time.Time `bson:"window"` // the start of the window it was first counted in
	}
	complaintDoc struct {
		schemas.Complaint `bson:",inline"`
		Open              bool `bson:"open"` // not closed
	}
	incidentDoc struct {
		schemas.Incident `bson:",inline"`
		Open             bool `bson:"open"` // not resolved
		Critical         bool `bson:"critical"`
	}
)

func newAlertDoc(a schemas.Alert) alertDoc {
	if a.State == "" {
		a.State = schemas.AlertOpen
	}
	if a.Count == 0 {
		a.Count = 1
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return alertDoc{Alert: a, Open: a.State != schemas.AlertResolved}
}

func newComplaintDoc(c schemas.Complaint) complaintDoc {
	return complaintDoc{Complaint: c, Open: c.State != schemas.ComplaintClosed}
}

func newIncidentDoc(i schemas.Incident) incidentDoc {
	if i.Photos == nil {
		i.Photos = []string{}
	}
	if i.Events == nil {
		i.Events = []schemas.ComplaintEvent{}
	}
	return incidentDoc{Incident: i, Open: i.Status != schemas.IncidentResolved, Critical: i.Critical()}
}

// ---- Alerts ----

// MaxAlertCauses is how many causes one coalesced alert counts; the next
// cause starts a new alert (and a new notification), so no document grows
// without bound.
const MaxAlertCauses = 500

var nsAlerts = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/alerts"))

func alertID(group string, window time.Time, gen int) string {
	nanos := int64(0)
	if !window.IsZero() {
		nanos = window.UnixNano()
	}
	return uuid.NewSHA1(nsAlerts, fmt.Appendf(nil, "%s/%d/%d", group, nanos, gen)).String()
}

var (
	errCounted = errors.New("cause counted already")
	errFull    = errors.New("alert closed or full")
)

// RaiseAlert records a, coalesced with the open alert of its group (same
// kind, priority and subject, e.g. a customer or a visit) in the same
// window of the clock (a.CreatedAt truncated to window): the group's alert
// counts one more cause instead of a new alert being made. The alert's id
// derives from the group, the window and a generation (a new generation
// starts when the window's alert was acknowledged or resolved, or is
// full), so instances racing on one group meet on the same id.
//
// A cause is counted once, ever: the window it was first raised in is
// recorded under an id derived from the group and the cause, so raising it
// again later (a retried batch, a lock named by each code it refuses)
// finds it where it was first counted and changes nothing. That record is
// written before the alert, so a crash in between is finished by the retry
// in the same window.
//
// It sets *a to the stored alert and reports whether the cause is the
// alert's first: only then is it notified, so a flood sends one
// notification, and a retried first cause notifies again (the
// notification's dedupe key makes that a no-op). window <= 0 is no
// coalescing: the alert is the cause's own, with an id derived from the
// group and the cause.
func (c *Cases) RaiseAlert(ctx context.Context, a *schemas.Alert, group, cause string, window time.Duration) (first bool, err error) {
	at := a.CreatedAt.UTC()
	var bucket time.Time
	if window > 0 {
		if bucket, err = c.causeWindow(ctx, group, cause, at.Truncate(window)); err != nil {
			return false, err
		}
	} else {
		group += "/" + cause
	}
	for gen := 0; ; {
		first, err := c.count(ctx, a, alertID(group, bucket, gen), group, cause, at)
		switch {
		case errors.Is(err, errFull):
			gen++
		case errors.Is(err, doc.ErrDuplicate):
			// Another instance made it meanwhile: count the cause in theirs.
		case err != nil:
			return false, fmt.Errorf("raise alert %s: %w", group, err)
		default:
			return first, nil
		}
	}
}

// count counts cause in the alert id, making it from a if it does not
// exist: errFull if that alert takes no more causes, ErrDuplicate if
// another writer made it first.
func (c *Cases) count(ctx context.Context, a *schemas.Alert, id, group, cause string, at time.Time) (first bool, err error) {
	var seen alertDoc
	d, _, err := doc.Modify(ctx, c.s.engine, colAlerts, id, func(d *alertDoc) error {
		switch {
		case slices.Contains(d.Causes, cause):
			seen = *d
			return errCounted
		case d.State != schemas.AlertOpen || len(d.Causes) >= MaxAlertCauses:
			return errFull
		}
		d.Causes = append(d.Causes, cause)
		d.Count = len(d.Causes)
		d.LastAt = &at
		return nil
	})
	switch {
	case err == nil:
		*a = d.Alert
		c.s.alertRaised(a.Kind)
		return false, nil
	case errors.Is(err, errCounted):
		*a = seen.Alert
		return seen.Causes[0] == cause, nil
	case !errors.Is(err, doc.ErrNotFound):
		return false, err
	}
	n := *a
	n.ID, n.Group, n.Causes, n.Count, n.LastAt, n.State, n.CreatedAt = id, group, []string{cause}, 1, nil, schemas.AlertOpen, at
	nd := newAlertDoc(n)
	if _, err := doc.Insert(ctx, c.s.engine, colAlerts, nd); err != nil {
		return false, err
	}
	*a = nd.Alert
	c.s.alertRaised(a.Kind)
	return true, nil
}

// causeWindow returns the window the cause was first raised in, recording
// window as that if it is the first time.
func (c *Cases) causeWindow(ctx context.Context, group, cause string, window time.Time) (time.Time, error) {
	id := uuid.NewSHA1(nsAlerts, []byte("cause\x00"+group+"\x00"+cause)).String()
	_, err := doc.Insert(ctx, c.s.engine, colAlertCauses, alertCauseDoc{ID: id, Group: group, Window: window})
	if err == nil {
		return window, nil
	}
	if !errors.Is(err, doc.ErrDuplicate) {
		return time.Time{}, fmt.Errorf("record alert cause: %w", err)
	}
	prev, _, err := doc.Get[alertCauseDoc](ctx, c.s.engine, colAlertCauses, id)
	if err != nil {
		return time.Time{}, fmt.Errorf("read alert cause: %w", err)
	}
	return prev.Window.UTC(), nil
}

// RecordAlert stores an alert whose id its caller derived from the cause,
// uncoalesced, and reports whether it is new (an existing one means it was
// recorded already, and nothing changes).
func (c *Cases) RecordAlert(ctx context.Context, a *schemas.Alert) (bool, error) {
	d := newAlertDoc(*a)
	if _, err := doc.Insert(ctx, c.s.engine, colAlerts, d); err != nil {
		if errors.Is(err, doc.ErrDuplicate) {
			return false, nil
		}
		return false, fmt.Errorf("record alert: %w", err)
	}
	*a = d.Alert
	c.s.alertRaised(a.Kind)
	return true, nil
}

// Alert returns the alert, or ErrNotFound.
func (c *Cases) Alert(ctx context.Context, id string) (*schemas.Alert, error) {
	d, _, err := doc.Get[alertDoc](ctx, c.s.engine, colAlerts, id)
	if err != nil {
		return nil, fmt.Errorf("alert %s: %w", id, err)
	}
	return &d.Alert, nil
}

// UpdateAlert applies change to the alert (again, to a fresh copy, if
// someone wrote it meanwhile) and returns it before and after the change
// that was written. An error from change leaves it unwritten.
func (c *Cases) UpdateAlert(ctx context.Context, id string, change func(*schemas.Alert) error) (before, after *schemas.Alert, err error) {
	var b schemas.Alert
	d, _, err := doc.Modify(ctx, c.s.engine, colAlerts, id, func(d *alertDoc) error {
		b = d.Alert
		b.Causes = slices.Clone(d.Causes)
		if err := change(&d.Alert); err != nil {
			return err
		}
		d.Open = d.State != schemas.AlertResolved
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("update alert %s: %w", id, err)
	}
	return &b, &d.Alert, nil
}

// AlertQuery selects a page of alerts, newest first.
type AlertQuery struct {
	AllTeams bool   // every team's and those of no team (admins)
	Team     string // else this team's ("": those of no team)
	Open     bool   // only those not resolved
	Kind     string // only this kind
	Priority string // only this priority
	WorkerID string // only those about this worker
	VisitID  string // only those about this visit
	From, To time.Time
	After    string // a page's NextCursor
	Limit    int    // <= 0: every match
}

// ListAlerts returns a page of alerts.
func (c *Cases) ListAlerts(ctx context.Context, q AlertQuery) (schemas.Page[schemas.Alert], error) {
	var eq []any
	ix := "created"
	if !q.AllTeams {
		ix, eq = "team_created", append(eq, q.Team)
	}
	if q.Open {
		ix, eq = ix[:len(ix)-len("created")]+"open_created", append(eq, true)
	}
	keep := func(d *alertDoc) bool {
		return match(q.Kind, d.Kind) && match(q.Priority, d.Priority) && match(q.WorkerID, d.WorkerID) && match(q.VisitID, d.VisitID)
	}
	return filtered(ctx, c.s.engine, colAlerts, doc.Query{Index: ix, Eq: eq, Range: timeRange(q.From, q.To), Desc: true, After: q.After},
		q.Limit, keep, func(d alertDoc, _ int64) (schemas.Alert, error) { return d.Alert, nil })
}

// match reports whether want is unset or is have.
func match(want, have string) bool { return want == "" || want == have }

// ---- Complaints ----

// InsertComplaint stores a new complaint, at version 1.
func (c *Cases) InsertComplaint(ctx context.Context, cp *schemas.Complaint) error {
	v, err := doc.Insert(ctx, c.s.engine, colComplaints, newComplaintDoc(*cp))
	if err != nil {
		return fmt.Errorf("insert complaint: %w", err)
	}
	cp.Version = v
	return nil
}

// Complaint returns the complaint, or ErrNotFound.
func (c *Cases) Complaint(ctx context.Context, id string) (*schemas.Complaint, error) {
	d, v, err := doc.Get[complaintDoc](ctx, c.s.engine, colComplaints, id)
	if err != nil {
		return nil, fmt.Errorf("complaint %s: %w", id, err)
	}
	d.Version = v
	return &d.Complaint, nil
}

// ReplaceComplaint stores cp if the stored one is still at version (else
// ErrVersion), and sets cp.Version to the new version.
func (c *Cases) ReplaceComplaint(ctx context.Context, cp *schemas.Complaint, version int64) error {
	v, err := doc.Replace(ctx, c.s.engine, colComplaints, version, newComplaintDoc(*cp))
	if err != nil {
		return fmt.Errorf("replace complaint %s: %w", cp.ID, err)
	}
	cp.Version = v
	return nil
}

// ComplaintQuery selects a page of complaints, newest first: a customer's,
// or a team's, or all (both empty). With Overdue, only those still not
// acknowledged by their answer due time at Overdue, the most overdue first.
type ComplaintQuery struct {
	CustomerID string
	Team       string
	Open       bool   // only those not closed
	State      string // only those in this state
	Category   string
	WorkerID   string
	VisitID    string
	OwnerID    string
	Overdue    time.Time
	// Unanswered: only remedies proposed at or before it that the
	// customer has not answered.
	Unanswered time.Time
	From, To   time.Time // received
	After      string
	Limit      int // <= 0: every match
}

// ListComplaints returns a page of complaints.
func (c *Cases) ListComplaints(ctx context.Context, q ComplaintQuery) (schemas.Page[schemas.Complaint], error) {
	var ix string
	var eq []any
	rng, desc := timeRange(q.From, q.To), true
	received := func(*schemas.Complaint) bool { return true }
	switch {
	case !q.Overdue.IsZero():
		// By due time: the range is on ackDueAt, the received range filters.
		ix, eq, rng, desc = "state_due", []any{schemas.ComplaintReceived}, doc.Range{Lt: q.Overdue.UTC()}, false
		if q.Team != "" {
			ix, eq = "team_state_due", []any{q.Team, schemas.ComplaintReceived}
		}
		received = func(cp *schemas.Complaint) bool {
			return (q.From.IsZero() || !cp.ReceivedAt.Before(q.From)) && (q.To.IsZero() || cp.ReceivedAt.Before(q.To))
		}
	case q.CustomerID != "":
		ix, eq = "customer_received", []any{q.CustomerID}
	case q.Category != "" && q.Team != "":
		ix, eq = "team_category_received", []any{q.Team, q.Category}
	case q.Category != "":
		ix, eq = "category_received", []any{q.Category}
	case q.Team != "" && q.Open:
		ix, eq = "team_open_received", []any{q.Team, true}
	case q.Team != "":
		ix, eq = "team_received", []any{q.Team}
	case q.Open:
		ix, eq = "open_received", []any{true}
	default:
		ix = "received"
	}
	keep := func(d *complaintDoc) bool {
		cp := &d.Complaint
		return match(q.Team, cp.Team) && match(q.CustomerID, cp.CustomerID) && (!q.Open || d.Open) && match(q.State, cp.State) &&
			match(q.Category, cp.Category) && match(q.WorkerID, cp.WorkerID) && match(q.VisitID, cp.VisitID) && match(q.OwnerID, cp.OwnerID) &&
			(q.Unanswered.IsZero() || cp.State == schemas.ComplaintRemedyProposed && !cp.RemedyProposedAt().After(q.Unanswered)) && received(cp)
	}
	return filtered(ctx, c.s.engine, colComplaints, doc.Query{Index: ix, Eq: eq, Range: rng, Desc: desc, After: q.After},
		q.Limit, keep, func(d complaintDoc, v int64) (schemas.Complaint, error) { d.Version = v; return d.Complaint, nil })
}

// ComplaintsPastDue returns complaints still only received, not yet marked
// breached, whose acknowledgement was due before t, the most overdue first.
func (c *Cases) ComplaintsPastDue(ctx context.Context, t time.Time, limit int) ([]schemas.Complaint, error) {
	p, err := list(ctx, c.s.engine, colComplaints, doc.Query{Index: "sla", Eq: []any{schemas.ComplaintReceived, false}, Range: doc.Range{Lt: t.UTC()}},
		limit, func(d complaintDoc, v int64) schemas.Complaint { d.Version = v; return d.Complaint })
	return p.Items, err
}

// ---- Incidents ----

// RecordIncident stores an incident whose id its caller derived from its
// cause, at version 1, and reports whether it is new (an existing one was
// recorded already, and is left as it is).
func (c *Cases) RecordIncident(ctx context.Context, i *schemas.Incident) (bool, error) {
	d := newIncidentDoc(*i)
	v, err := doc.Insert(ctx, c.s.engine, colIncidents, d)
	if err != nil {
		if errors.Is(err, doc.ErrDuplicate) {
			return false, nil
		}
		return false, fmt.Errorf("record incident: %w", err)
	}
	*i = d.Incident
	i.Version = v
	return true, nil
}

// Incident returns the incident, or ErrNotFound.
func (c *Cases) Incident(ctx context.Context, id string) (*schemas.Incident, error) {
	d, v, err := doc.Get[incidentDoc](ctx, c.s.engine, colIncidents, id)
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	d.Version = v
	return &d.Incident, nil
}

// IncidentsByID returns the incidents of ids that exist, in that order
// (the ones a phone pulls with its visits).
func (c *Cases) IncidentsByID(ctx context.Context, ids []string) ([]schemas.Incident, error) {
	out := make([]schemas.Incident, 0, len(ids))
	for part := range slices.Chunk(ids, 500) {
		ds, err := c.s.engine.GetMany(ctx, colIncidents, part)
		if err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		for _, d := range ds {
			var x incidentDoc
			if err := d.Decode(&x); err != nil {
				return nil, fmt.Errorf("read incidents: %w", err)
			}
			x.Version = d.Version
			out = append(out, x.Incident)
		}
	}
	return out, nil
}

// ReplaceIncident stores i if the stored one is still at version (else
// ErrVersion), and sets i.Version to the new version.
func (c *Cases) ReplaceIncident(ctx context.Context, i *schemas.Incident, version int64) error {
	v, err := doc.Replace(ctx, c.s.engine, colIncidents, version, newIncidentDoc(*i))
	if err != nil {
		return fmt.Errorf("replace incident %s: %w", i.ID, err)
	}
	i.Version = v
	return nil
}

// IncidentQuery selects a page of incidents, newest reported first: a
// visit's, a worker's or a team's (the first given is the index scanned,
// the others filter it), or all.
type IncidentQuery struct {
	Team     string
	WorkerID string
	VisitID  string
	Open     bool   // only those not resolved
	Status   string // only those in this state
	Category string
	Severity string
	From, To time.Time
	After    string
	Limit    int // <= 0: every match
}

// ListIncidents returns a page of incidents.
func (c *Cases) ListIncidents(ctx context.Context, q IncidentQuery) (schemas.Page[schemas.Incident], error) {
	var ix string
	var eq []any
	switch {
	case q.VisitID != "":
		ix, eq = "visit_reported", []any{q.VisitID}
	case q.WorkerID != "":
		ix, eq = "worker_reported", []any{q.WorkerID}
	case q.Team != "" && q.Open:
		ix, eq = "team_open_reported", []any{q.Team, true}
	case q.Team != "":
		ix, eq = "team_reported", []any{q.Team}
	case q.Open:
		ix, eq = "open_reported", []any{true}
	default:
		ix = "reported"
	}
	keep := func(d *incidentDoc) bool {
		i := &d.Incident
		return match(q.Team, i.Team) && match(q.WorkerID, i.WorkerID) && match(q.VisitID, i.VisitID) && (!q.Open || d.Open) &&
			match(q.Status, i.Status) && match(q.Category, i.Category) && match(q.Severity, i.Severity)
	}
	return filtered(ctx, c.s.engine, colIncidents, doc.Query{Index: ix, Eq: eq, Range: timeRange(q.From, q.To), Desc: true, After: q.After},
		q.Limit, keep, func(d incidentDoc, v int64) (schemas.Incident, error) { d.Version = v; return d.Incident, nil })
}

// IncidentsToEscalate returns critical incidents still open and not yet
// escalated that were reported at or before t, the oldest first.
func (c *Cases) IncidentsToEscalate(ctx context.Context, t time.Time, limit int) ([]schemas.Incident, error) {
	p, err := list(ctx, c.s.engine, colIncidents, doc.Query{Index: "escalation", Eq: []any{schemas.IncidentOpen, false, true}, Range: doc.Range{Lte: t.UTC()}},
		limit, func(d incidentDoc, v int64) schemas.Incident { d.Version = v; return d.Incident })
	return p.Items, err
}

// ---- Follow-ups ----

// RecordFollowUp stores a follow-up whose id its caller derived from the
// visit, at version 1, and reports whether it is new (the visit has one
// already otherwise, left as it is).
func (c *Cases) RecordFollowUp(ctx context.Context, f *schemas.FollowUp) (bool, error) {
	v, err := doc.Insert(ctx, c.s.engine, colFollowUps, f)
	if err != nil {
		if errors.Is(err, doc.ErrDuplicate) {
			return false, nil
		}
		return false, fmt.Errorf("record follow-up: %w", err)
	}
	f.Version = v
	return true, nil
}

// FollowUp returns the follow-up, or ErrNotFound.
func (c *Cases) FollowUp(ctx context.Context, id string) (*schemas.FollowUp, error) {
	f, v, err := doc.Get[schemas.FollowUp](ctx, c.s.engine, colFollowUps, id)
	if err != nil {
		return nil, fmt.Errorf("follow-up %s: %w", id, err)
	}
	f.Version = v
	return &f, nil
}

// ReplaceFollowUp stores f if the stored one is still at version (else
// ErrVersion), and sets f.Version to the new version.
func (c *Cases) ReplaceFollowUp(ctx context.Context, f *schemas.FollowUp, version int64) error {
	v, err := doc.Replace(ctx, c.s.engine, colFollowUps, version, f)
	if err != nil {
		return fmt.Errorf("replace follow-up %s: %w", f.ID, err)
	}
	f.Version = v
	return nil
}

// FollowUpQuery selects a page of follow-ups: the open ones first, soonest
// due first, then the done ones, soonest due first (so a new one is never
// behind every finished one); a team's, or all ("").
type FollowUpQuery struct {
	Team       string
	Open       bool      // only those not done
	Done       bool      // only those done
	Overdue    time.Time // non-zero: only open ones past their latest time at it
	WorkerID   string
	CustomerID string
	VisitID    string
	From, To   time.Time // due
	After      string
	Limit      int // <= 0: every match
}

// ListFollowUps returns a page of follow-ups.
func (c *Cases) ListFollowUps(ctx context.Context, q FollowUpQuery) (schemas.Page[schemas.FollowUp], error) {
	if q.Done && (q.Open || !q.Overdue.IsZero()) {
		return schemas.Page[schemas.FollowUp]{}, fmt.Errorf("%w: follow-ups both open and done", doc.ErrInvalid)
	}
	scan := func(done bool) doc.Query {
		if q.Team != "" {
			return doc.Query{Index: "team_open_due", Eq: []any{q.Team, done}, Range: timeRange(q.From, q.To)}
		}
		return doc.Query{Index: "open_due", Eq: []any{done}, Range: timeRange(q.From, q.To)}
	}
	var scans []doc.Query
	switch {
	case q.Done:
		scans = []doc.Query{scan(true)}
	case q.Open || !q.Overdue.IsZero():
		scans = []doc.Query{scan(false)}
	default:
		scans = []doc.Query{scan(false), scan(true)}
	}
	keep := func(f *schemas.FollowUp) bool {
		return match(q.WorkerID, f.WorkerID) && match(q.CustomerID, f.CustomerID) && match(q.VisitID, f.VisitID) &&
			(q.Overdue.IsZero() || q.Overdue.After(f.LatestAt))
	}
	return phased(ctx, c.s.engine, colFollowUps, scans, q.After, q.Limit, keep,
		func(f schemas.FollowUp, v int64) (schemas.FollowUp, error) { f.Version = v; return f, nil })
}

// ---- Scans ----

func timeRange(from, to time.Time) doc.Range {
	var r doc.Range
	if !from.IsZero() {
		r.Gte = from.UTC()
	}
	if !to.IsZero() {
		r.Lt = to.UTC()
	}
	return r
}

// list reads one page of q of at most limit records, or with limit <= 0
// every match, page by page.
func list[D, T any](ctx context.Context, e doc.Engine, coll string, q doc.Query, limit int, out func(D, int64) T) (schemas.Page[T], error) {
	return filtered(ctx, e, coll, q, limit, nil, func(d D, v int64) (T, error) { return out(d, v), nil })
}

// scanBudget is how many records one page of a filtered list reads at
// most: past it, the page ends short (even empty) with the cursor of the
// last record read, so a filter that matches little never holds a request
// for a scan of a whole range.
var scanBudget = 5000

// filtered is list keeping only the records keep accepts (nil: all), for
// what a query asks beyond the index's prefix and range. The next cursor
// is that of the last record kept, so paging stays exact whatever is
// inserted meanwhile, and it is given only when another record is kept
// after the page, or when the page read scanBudget records.
func filtered[D, T any](ctx context.Context, e doc.Engine, coll string, q doc.Query, limit int, keep func(*D) bool, out func(D, int64) (T, error)) (schemas.Page[T], error) {
	ix, err := declaredIndex(coll, q.Index)
	if err != nil {
		return schemas.Page[T]{}, err
	}
	all := limit <= 0
	q.Limit = min(500, scanBudget)
	switch {
	case !all && keep == nil:
		q.Limit = limit + 1 // the one past the page says there is more
	case !all:
		q.Limit = min(q.Limit, max(limit+1, 100)) // room for what the filter drops
	}
	p := schemas.Page[T]{Items: []T{}}
	var last doc.Doc
	scanned := 0
	for {
		page, err := e.Scan(ctx, coll, q)
		if err != nil {
			return schemas.Page[T]{}, fmt.Errorf("list %s: %w", coll, err)
		}
		for _, d := range page.Docs {
			var v D
			if err := d.Decode(&v); err != nil {
				return schemas.Page[T]{}, fmt.Errorf("list %s: %w", coll, err)
			}
			if keep != nil && !keep(&v) {
				continue
			}
			if !all && len(p.Items) == limit {
				if p.NextCursor, err = doc.CursorAt(ix, last); err != nil {
					return schemas.Page[T]{}, fmt.Errorf("list %s: %w", coll, err)
				}
				return p, nil
			}
			t, err := out(v, d.Version)
			if err != nil {
				return schemas.Page[T]{}, err
			}
			p.Items = append(p.Items, t)
			last = d
		}
		if page.Next == "" {
			return p, nil
		}
		if scanned += len(page.Docs); !all && keep != nil && scanned >= scanBudget {
			p.NextCursor = page.Next
			return p, nil
		}
		q.After = page.Next
	}
}

// phased reads scans one after the other as one list (the open follow-ups,
// then the done ones). Its cursor is the scan's number and that scan's
// cursor; a page that ends a scan names the next one, if it holds more.
func phased[D, T any](ctx context.Context, e doc.Engine, coll string, scans []doc.Query, after string, limit int, keep func(*D) bool, out func(D, int64) (T, error)) (schemas.Page[T], error) {
	at := 0
	if after != "" {
		n, rest, ok := strings.Cut(after, ".")
		var err error
		if at, err = strconv.Atoi(n); !ok || err != nil || at < 0 || at >= len(scans) || n != strconv.Itoa(at) {
			return schemas.Page[T]{}, fmt.Errorf("list %s: %w: not a cursor of this list", coll, doc.ErrCursor)
		}
		scans[at].After = rest
	}
	p := schemas.Page[T]{Items: []T{}}
	for ; at < len(scans); at++ {
		left := 0
		if limit > 0 {
			if left = limit - len(p.Items); left == 0 {
				// The page is full at the end of a scan: say where the
				// next page starts only if something is there.
				more, err := filtered(ctx, e, coll, scans[at], 1, keep, out)
				if err != nil {
					return schemas.Page[T]{}, err
				}
				if len(more.Items) > 0 || more.NextCursor != "" {
					p.NextCursor = strconv.Itoa(at) + "."
					return p, nil
				}
				continue
			}
		}
		got, err := filtered(ctx, e, coll, scans[at], left, keep, out)
		if err != nil {
			return schemas.Page[T]{}, err
		}
		p.Items = append(p.Items, got.Items...)
		if got.NextCursor != "" {
			p.NextCursor = strconv.Itoa(at) + "." + got.NextCursor
			return p, nil
		}
	}
	return p, nil
}

// declaredIndex is the index of coll as declared.
func declaredIndex(coll, name string) (doc.Index, error) {
	for _, c := range collections() {
		if c.Name == coll {
			return c.Index(name)
		}
	}
	return doc.Index{}, fmt.Errorf("%w: no collection %s", doc.ErrInvalid, coll)
}
