package office

import (
	"context"
	"errors"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// caseStore is what the office uses of the alerts and cases aggregate.
type caseStore interface {
	RaiseAlert(ctx context.Context, a *schemas.Alert, group, cause string, window time.Duration) (bool, error)
	UpdateAlert(ctx context.Context, id string, change func(*schemas.Alert) error) (before, after *schemas.Alert, err error)
	ListAlerts(ctx context.Context, q store.AlertQuery) (schemas.Page[schemas.Alert], error)
	InsertComplaint(ctx context.Context, c *schemas.Complaint) error
	Complaint(ctx context.Context, id string) (*schemas.Complaint, error)
	ReplaceComplaint(ctx context.Context, c *schemas.Complaint, version int64) error
	ListComplaints(ctx context.Context, q store.ComplaintQuery) (schemas.Page[schemas.Complaint], error)
	ComplaintsPastDue(ctx context.Context, t time.Time, limit int) ([]schemas.Complaint, error)
	Incident(ctx context.Context, id string) (*schemas.Incident, error)
	ReplaceIncident(ctx context.Context, i *schemas.Incident, version int64) error
	ListIncidents(ctx context.Context, q store.IncidentQuery) (schemas.Page[schemas.Incident], error)
	IncidentsToEscalate(ctx context.Context, t time.Time, limit int) ([]schemas.Incident, error)
	RecordFollowUp(ctx context.Context, f *schemas.FollowUp) (bool, error)
	FollowUp(ctx context.Context, id string) (*schemas.FollowUp, error)
	ReplaceFollowUp(ctx context.Context, f *schemas.FollowUp, version int64) error
	ListFollowUps(ctx context.Context, q store.FollowUpQuery) (schemas.Page[schemas.FollowUp], error)
}

func (s *Service) cases() caseStore { return s.db.Cases }

// caseErr says what a store error means to the caller: a record that is
// not there, one that changed meanwhile, a cursor from elsewhere.
func caseErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrVersion):
		return schemas.Errorf(schemas.ECONFLICT, "the %s changed meanwhile; reload", what)
	case errors.Is(err, store.ErrCursor):
		return schemas.FieldError("after", "after is not a cursor this server issued")
	}
	return err
}

// Page asks for one page of a list: after a page's nextCursor, at most
// Limit items, narrowed by Filter.
type Page struct {
	After  string
	Limit  int
	Filter Filter
}

// Filter is what a supervisor narrows a queue to. Each list reads the
// fields that apply to its records (the API declares which, per list);
// the caller's scope (their team) always applies on top.
type Filter struct {
	Open       bool // not closed, resolved or done
	Done       bool // follow-ups: only those done
	Overdue    bool // past what is due: a complaint's answer, a follow-up's latest time
	Unanswered bool // complaints: a remedy the customer has not answered for the answer wait
	State      string
	Kind       string
	Priority   string
	Category   string
	Severity   string
	WorkerID   string
	CustomerID string
	VisitID    string
	OwnerID    string
	From, To   time.Time
}
