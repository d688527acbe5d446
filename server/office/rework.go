package office

import (
	"context"
	"time"

	"fieldsync/schemas"
)

// ReworkBody plans a rework visit.
type ReworkBody struct {
	ScheduledStart time.Time `json:"scheduledStart"`
	ScheduledEnd   time.Time `json:"scheduledEnd,omitempty"` // default: start + 1 hour per disputed item, at least 1 hour
	WorkerID       string    `json:"workerId,omitempty"`     // default: the same worker
	Notes          string    `json:"notes,omitempty"`
	OverrideReason string    `json:"overrideReason,omitempty"` // books the worker despite hard constraints (supervisors, admins; audited)
}

// PlanRework opens a follow-up visit for the items the customer disputed
// on a visit, for the same or another worker. The disputed visit shows as
// rework until the customer accepts the rework visit.
func (s *Service) PlanRework(ctx context.Context, a *schemas.Actor, id string, in ReworkBody) (*VisitView, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if in.ScheduledStart.IsZero() {
		return nil, schemas.FieldError("scheduledStart", "scheduledStart is required")
	}
	orig, err := s.db.Visits.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canManageVisit(a, orig) {
		return nil, errNotFound("visit")
	}
	if orig.Status != schemas.VisitDisputed || orig.Field.SignOff == nil {
		return nil, schemas.Errorf(schemas.ECONFLICT, "only a disputed visit gets a rework (this one is %s)", orig.Status).With("status", orig.Status)
	}
	disputed := map[string]bool{}
	for _, it := range orig.Field.SignOff.Items {
		if !it.Accepted {
			disputed[it.ItemID] = true
		}
	}
	workerID := in.WorkerID
	if workerID == "" {
		workerID = orig.WorkerID
	}
	c, addr, st, w, team, err := s.planned(ctx, a, orig.CustomerID, orig.Address.AddressID, orig.ServiceTypeID, workerID)
	if err != nil {
		return nil, err
	}
	end := in.ScheduledEnd
	if end.IsZero() {
		end = in.ScheduledStart.Add(time.Duration(max(1, len(disputed))) * time.Hour)
	}
	notes := in.Notes
	if notes == "" {
		notes = "返工 / rework of " + orig.ID
	}
	now := s.now().UTC()
	rw := newVisit(schemas.NewIDAt(now), c, addr, st, w, team, in.ScheduledStart, end, notes, now)
	rw.Checklist = rw.Checklist[:0]
	for _, it := range orig.Checklist {
		if disputed[it.ID] {
			rw.Checklist = append(rw.Checklist, schemas.VisitChecklistItem{ID: it.ID, Text: it.Text})
		}
	}
	rw.ReworkOf = orig.ID
	if err := rw.Reschedule(in.ScheduledStart, end); err != nil { // validates the window
		return nil, err
	}
	rw.OfficeEdited = false
	var overridden []schemas.Violation
	if w != nil {
		if overridden, err = s.book(ctx, a, w, rw, in.OverrideReason); err != nil {
			return nil, err
		}
	}
	if err := s.db.Visits.Insert(ctx, rw); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, a, schemas.EntityVisit, rw.ID, "create", 1, nil, rw, maskVisit, overrideNote(overridden, in.OverrideReason, "rework of "+orig.ID)); err != nil {
		return nil, err
	}
	if _, err := s.changeVisit(ctx, a, orig.ID, "rework", "rework "+rw.ID, func(v *schemas.Visit) error {
		if !canManageVisit(a, v) {
			return errNotFound("visit")
		}
		v.ReworkID = rw.ID
		return nil
	}); err != nil {
		return nil, err
	}
	return &VisitView{Visit: *rw}, nil
}

// ReworkAccepted marks a disputed visit done once its rework visit was
// signed off with every item accepted. Calling it again changes nothing.
func (s *Service) ReworkAccepted(ctx context.Context, reworkVisit *schemas.Visit) error {
	if reworkVisit.ReworkOf == "" || reworkVisit.Status != schemas.VisitSignedOff {
		return nil
	}
	_, err := s.changeVisit(ctx, System, reworkVisit.ReworkOf, "rework_accepted", "rework "+reworkVisit.ID, func(v *schemas.Visit) error {
		if v.ReworkAccepted || v.ReworkID != reworkVisit.ID {
			return errNoChange
		}
		v.ReworkAccepted = true
		return nil
	})
	return err
}
