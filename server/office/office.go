// Package office is what the office does with its data: workers,
// customers, the service catalog, visits and recurring schedules, with the
// access rules of each role, an audit entry for every write, and matching
// of workers to visits.
package office

import (
	"context"
	"log/slog"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Service is the office logic over the store.
type Service struct {
	db       *store.Store
	now      func() time.Time
	log      *slog.Logger
	horizon  time.Duration // how far ahead schedules generate visits
	calendar schemas.WorkCalendar
	alerter  Alerter
	alertWin time.Duration // alerts of one kind about one subject within it are one
	buffer   time.Duration // kept free between two visits of a worker, for travel
	rating   RatingConfig
	figures  FiguresConfig
	observer Observer
	teller   CustomerTeller
	// answerWait is how long a proposed remedy waits for the customer's
	// answer before a supervisor may close the complaint without it.
	answerWait time.Duration
	answerBy   time.Duration

	records   Records       // workers, customers, the catalog
	schedules ScheduleStore // recurring schedules
}

// Alerter tells people about an alert (the push relay). Telling twice
// about one alert must be a no-op.
type Alerter interface {
	Alert(ctx context.Context, a *schemas.Alert) error
}

// CustomerTeller tells a customer what the office decided (the push
// relay). Telling twice with one key must be a no-op.
type CustomerTeller interface {
	TellCustomer(ctx context.Context, customerID, kind, key string, data map[string]string) error
	Tell(ctx context.Context, n schemas.CustomerNotice) error
}

// SetCustomerTeller makes the office tell customers what became of their
// complaints.
func (s *Service) SetCustomerTeller(t CustomerTeller) { s.teller = t }

// SetComplaintAnswerWait sets how long a proposed remedy waits for the
// customer's answer before a supervisor may close the complaint.
func (s *Service) SetComplaintAnswerWait(d time.Duration) { s.answerWait = d }

// DefaultComplaintAnswerWait is COMPLAINT_ANSWER_WAIT's default.
const DefaultComplaintAnswerWait = 72 * time.Hour

// SetAlerter makes the office tell supervisors and admins about alerts.
func (s *Service) SetAlerter(a Alerter) { s.alerter = a }

// Observer watches the office's escalations for the program's metrics.
type Observer interface {
	// ComplaintBreached is called once per complaint marked as having
	// missed its response SLA.
	ComplaintBreached(category string)
}

// SetObserver sets the observer of escalations.
func (s *Service) SetObserver(o Observer) { s.observer = o }

// SetCalendar sets the office's working hours, for response-time SLAs.
func (s *Service) SetCalendar(c schemas.WorkCalendar) { s.calendar = c }

// SetAlertWindow sets the window within which alerts of one kind about one
// subject are coalesced into one (0: never).
func (s *Service) SetAlertWindow(d time.Duration) { s.alertWin = d }

// raise records an alert about its visit (coalesced with the visit's
// others of its kind) and tells people about it.
func (s *Service) raise(ctx context.Context, a *schemas.Alert) error {
	subject := ""
	if a.VisitID != "" {
		subject = "visit/" + a.VisitID
	}
	return s.raiseAbout(ctx, subject, a)
}

// raiseAbout records an alert whose id names its cause, coalesced with the
// open alert of the same kind and priority about subject in the window (no
// subject: never coalesced), and tells people when it is a new alert: a
// flood is one alert with a count and one notification.
func (s *Service) raiseAbout(ctx context.Context, subject string, a *schemas.Alert) error {
	cause, window := a.ID, s.alertWin
	if subject == "" {
		window = 0
	}
	first, err := s.cases().RaiseAlert(ctx, a, a.Kind+"/"+a.Priority+"/"+subject, cause, window)
	if err != nil || !first || s.alerter == nil {
		return err
	}
	return s.alerter.Alert(ctx, a)
}

// New returns the office service.
func New(db *store.Store, now func() time.Time, log *slog.Logger, horizon time.Duration) *Service {
	return &Service{db: db, records: db.Office, schedules: db.Schedules, now: now, log: log, horizon: horizon, calendar: schemas.DefaultCalendar(), alertWin: 10 * time.Minute,
		buffer: DefaultTravelBuffer, rating: DefaultRatingConfig, figures: DefaultFiguresConfig, answerWait: DefaultComplaintAnswerWait, answerBy: DefaultAnswerBy}
}

// errNotFound is what any record the actor may not see looks like: the
// same answer as a record that does not exist.
func errNotFound(what string) error { return schemas.Errorf(schemas.ENOTFOUND, "%s not found", what) }

func forbidden() error { return schemas.Errorf(schemas.EFORBIDDEN, "your role may not do this") }

// Masked personal fields in audit trails.
var (
	maskCustomer = []string{"phone", "addresses.*.text", "addresses.*.location", "addresses.*.accessNotes", "household", "doNotSend"}
	maskWorker   = []string{"phone", "home"}
	maskVisit    = []string{"address.text", "address.location", "address.accessNotes", "field.checkIn.location", "field.checkOut.location"}
)

// audit records a change. It is written after the change itself with an
// id derived from the new version, so a retry records it exactly once.
func (s *Service) audit(ctx context.Context, a *schemas.Actor, entity, id, action string, version int64, before, after any, mask []string, note string) error {
	return s.db.Audit.Insert(ctx, &schemas.AuditEntry{
		ID: schemas.AuditID(entity, id, version), Entity: entity, EntityID: id, Action: action, Version: version,
		ActorID: a.UserID, Role: a.Role, DeviceID: a.DeviceID, At: s.now().UTC(),
		Changes: schemas.Diff(before, after, mask...), Note: note,
	})
}

// AuditTrail lists an entity's entries; admins only.
func (s *Service) AuditTrail(ctx context.Context, a *schemas.Actor, entity, id string, afterVersion int64, limit int) ([]schemas.AuditEntry, error) {
	if a.Role != schemas.RoleAdmin {
		return nil, forbidden()
	}
	switch entity {
	case schemas.EntityWorker, schemas.EntityCustomer, schemas.EntityServiceType, schemas.EntityVisit, schemas.EntitySchedule, schemas.EntityAlert, schemas.EntityComplaint, "incident", "followup",
		EntityNotificationChannel, "escalation":
	default:
		return nil, schemas.FieldError("entity", "entity must be worker, customer, serviceType, visit or schedule")
	}
	return s.db.Audit.Trail(ctx, entity, id, afterVersion, limit)
}
