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
	"fieldsync/server/store"
)

// Service is the office logic over the store.
type Service struct {
	db       *store.DB
	now      func() time.Time
	log      *slog.Logger
	horizon  time.Duration // how far ahead schedules generate visits
	calendar schemas.WorkCalendar
	alerter  Alerter
}

// Alerter tells people about an alert (the push relay). Telling twice
// about one alert must be a no-op.
type Alerter interface {
	Alert(ctx context.Context, a *schemas.Alert) error
}

// SetAlerter makes the office tell supervisors and admins about alerts.
func (s *Service) SetAlerter(a Alerter) { s.alerter = a }

// SetCalendar sets the office's working hours, for response-time SLAs.
func (s *Service) SetCalendar(c schemas.WorkCalendar) { s.calendar = c }

// raise records an alert and tells people about it.
func (s *Service) raise(ctx context.Context, a *schemas.Alert) error {
	if _, err := s.db.InsertAlert(ctx, a); err != nil {
		return err
	}
	if s.alerter == nil {
		return nil
	}
	return s.alerter.Alert(ctx, a)
}

// New returns the office service.
func New(db *store.DB, now func() time.Time, log *slog.Logger, horizon time.Duration) *Service {
	return &Service{db: db, now: now, log: log, horizon: horizon, calendar: schemas.DefaultCalendar()}
}

// errNotFound is what any record the actor may not see looks like: the
// same answer as a record that does not exist.
func errNotFound(what string) error { return schemas.Errorf(schemas.ENOTFOUND, "%s not found", what) }

func forbidden() error { return schemas.Errorf(schemas.EFORBIDDEN, "your role may not do this") }

// Masked personal fields in audit trails.
var (
	maskCustomer = []string{"phone", "addresses.*.text", "addresses.*.location", "addresses.*.accessNotes", "household"}
	maskWorker   = []string{"phone", "home"}
	maskVisit    = []string{"address.text", "address.location", "address.accessNotes", "field.checkIn.location", "field.checkOut.location"}
)

// audit records a change. It is written after the change itself with an
// id derived from the new version, so a retry records it exactly once.
func (s *Service) audit(ctx context.Context, a *schemas.Actor, entity, id, action string, version int64, before, after any, mask []string, note string) error {
	return s.db.InsertAudit(ctx, &schemas.AuditEntry{
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
	case schemas.EntityWorker, schemas.EntityCustomer, schemas.EntityServiceType, schemas.EntityVisit, schemas.EntitySchedule, schemas.EntityAlert, schemas.EntityComplaint, "incident", "followup":
	default:
		return nil, schemas.FieldError("entity", "entity must be worker, customer, serviceType, visit or schedule")
	}
	return s.db.AuditTrail(ctx, entity, id, afterVersion, limit)
}
