package office

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Alerts is a supervisor's feed: everything that needs them (incidents,
// late or missed check-ins, far check-ins, disputes, low ratings, sync
// conflicts), newest first. Admins see every team's and their own (push
// configuration, escalations).
func (s *Service) Alerts(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Alert], error) {
	f := p.Filter
	q := store.AlertQuery{Open: f.Open, Kind: f.Kind, Priority: f.Priority, WorkerID: f.WorkerID, VisitID: f.VisitID, From: f.From, To: f.To,
		After: p.After, Limit: p.Limit}
	switch a.Role {
	case schemas.RoleAdmin:
		q.AllTeams = true
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return schemas.Page[schemas.Alert]{Items: []schemas.Alert{}}, nil // not the admins' own
		}
		q.Team = a.Team
	default:
		return schemas.Page[schemas.Alert]{}, forbidden()
	}
	as, err := s.cases().ListAlerts(ctx, q)
	return as, caseErr(err, "alert")
}

// Alert actions.
const (
	AlertAck     = "acknowledge"
	AlertResolve = "resolve"
)

// ActOnAlert acknowledges or resolves an alert of the actor's team, with
// an optional note (required to resolve). Audited.
func (s *Service) ActOnAlert(ctx context.Context, a *schemas.Actor, id, action, note string) (*schemas.Alert, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	note = strings.TrimSpace(note)
	if len([]rune(note)) > 2000 {
		return nil, schemas.FieldError("note", "note is at most 2000 characters")
	}
	if action == AlertResolve && note == "" {
		return nil, schemas.FieldError("note", "say how it was resolved")
	}
	now := s.now().UTC()
	before, after, err := s.cases().UpdateAlert(ctx, id, func(al *schemas.Alert) error {
		if a.Role == schemas.RoleSupervisor && (a.Team == "" || al.Team != a.Team) {
			return errNotFound("alert")
		}
		switch {
		case al.State == schemas.AlertResolved:
			return schemas.Errorf(schemas.ECONFLICT, "the alert is resolved already")
		case action == AlertAck && al.State == schemas.AlertAcknowledged:
			return schemas.Errorf(schemas.ECONFLICT, "the alert is acknowledged already")
		case action == AlertAck:
			al.State, al.AckBy, al.AckAt = schemas.AlertAcknowledged, a.UserID, &now
		default:
			if al.AckAt == nil {
				al.AckBy, al.AckAt = a.UserID, &now
			}
			al.State, al.ResolvedBy, al.ResolvedAt = schemas.AlertResolved, a.UserID, &now
		}
		if note != "" {
			al.Note = note
		}
		return nil
	})
	if err != nil {
		return nil, caseErr(err, "alert")
	}
	version := int64(1)
	if after.State == schemas.AlertResolved {
		version = 2
	}
	// Audit ids are per version: acknowledge is 1, resolve 2.
	if err := s.audit(ctx, a, schemas.EntityAlert, id, action, version, before, after, nil, note); err != nil {
		return nil, err
	}
	return after, s.tellRequestAnswered(ctx, before, after)
}

// ConfirmVisit is the household confirming an upcoming visit.
func (s *Service) ConfirmVisit(ctx context.Context, a *schemas.Actor, id string) (*schemas.Visit, error) {
	if a.Role != schemas.RoleCustomer {
		return nil, forbidden()
	}
	v, err := s.changeVisit(ctx, a, id, "confirm", "", func(v *schemas.Visit) error {
		switch {
		case !canSeeVisit(a, v):
			return errNotFound("visit")
		case v.OfficeStatus == schemas.VisitConfirmed:
			return errNoChange // confirming twice is fine
		case v.Status != schemas.VisitScheduled || v.ScheduledStart.Before(s.now()):
			return schemas.Errorf(schemas.ECONFLICT, "only an upcoming, scheduled visit can be confirmed (this one is %s)", v.Status)
		}
		v.OfficeStatus = schemas.VisitConfirmed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ChangeRequest is a household asking the office to move or cancel a visit.
type ChangeRequest struct {
	Kind           string    `json:"kind"` // reschedule or cancel
	Reason         string    `json:"reason"`
	PreferredStart time.Time `json:"preferredStart,omitempty"` // for reschedule
}

// Validate checks the request.
func (r *ChangeRequest) Validate() error {
	if r.Kind != "reschedule" && r.Kind != "cancel" {
		return schemas.FieldError("kind", "kind must be reschedule or cancel")
	}
	if strings.TrimSpace(r.Reason) == "" || len([]rune(r.Reason)) > 1000 {
		return schemas.FieldError("reason", "a reason of 1 to 1000 characters is required")
	}
	return nil
}

// RequestChange records the household's request on the visit's trail and
// puts it in the team's alert feed; the office decides with the visit
// actions, and the worker learns the outcome through sync and push.
func (s *Service) RequestChange(ctx context.Context, a *schemas.Actor, id string, in ChangeRequest) error {
	if a.Role != schemas.RoleCustomer {
		return forbidden()
	}
	if err := in.Validate(); err != nil {
		return err
	}
	v, err := s.db.Visits.Get(ctx, id)
	if err != nil {
		return err
	}
	if !canSeeVisit(a, v) {
		return errNotFound("visit")
	}
	if !v.Status.BeforeArrival() {
		return schemas.Errorf(schemas.ECONFLICT, "a %s visit can no longer be moved or cancelled", v.Status).With("status", v.Status)
	}
	now := s.now().UTC()
	detail := strings.TrimSpace(in.Reason)
	if !in.PreferredStart.IsZero() {
		detail += " (preferred " + in.PreferredStart.UTC().Format(time.RFC3339) + ")"
	}
	key := fmt.Sprintf("request/%s/%s/%d", v.ID, in.Kind, now.UnixNano())
	if err := s.db.Audit.Insert(ctx, &schemas.AuditEntry{ID: key, Entity: schemas.EntityVisit, EntityID: v.ID, Action: "request_" + in.Kind,
		Version: v.Version, ActorID: a.UserID, Role: a.Role, DeviceID: a.DeviceID, At: now, Changes: []schemas.FieldChange{}, Note: detail}); err != nil {
		return err
	}
	return s.raise(ctx, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte(key)).String(), Kind: "customer_request_" + in.Kind,
		Team: v.Team, VisitID: v.ID, WorkerID: v.WorkerID, Priority: "normal", Detail: detail, CreatedAt: now})
}
