package office

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// System is the actor of changes the server makes on its own.
var System = &schemas.Actor{UserID: "system", Role: schemas.RoleAdmin}

// ReasonScheduleChanged cancels generated visits that an edit of their
// schedule no longer asks for.
const ReasonScheduleChanged = "schedule changed"

// ScheduleView is a schedule as written, with the occurrences generating
// its visits could not book its worker on.
type ScheduleView struct {
	schemas.Schedule
	Unbooked []Unbooked `json:"unbooked"`
}

// CreateSchedule adds a recurring schedule and generates its visits.
func (s *Service) CreateSchedule(ctx context.Context, a *schemas.Actor, in schemas.ScheduleInput) (*ScheduleView, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c, _, _, _, _, err := s.planned(ctx, a, in.CustomerID, in.AddressID, in.ServiceTypeID, in.WorkerID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	sch := &schemas.Schedule{ID: schemas.NewIDAt(now), ScheduleInput: in, TimeZone: c.TimeZone, CreatedAt: now, UpdatedAt: now}
	if err := s.schedules.Insert(ctx, sch); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, a, schemas.EntitySchedule, sch.ID, "create", 1, nil, sch, nil, ""); err != nil {
		return nil, err
	}
	view, err := s.reflowView(ctx, sch)
	if err != nil {
		return nil, err
	}
	if err := s.tellSchedule(ctx, nil, sch); err != nil {
		return nil, err
	}
	return view, nil
}

func (s *Service) reflowView(ctx context.Context, sch *schemas.Schedule) (*ScheduleView, error) {
	r, err := s.reflow(ctx, sch)
	if err != nil {
		return nil, err
	}
	if r.Unbooked == nil {
		r.Unbooked = []Unbooked{}
	}
	return &ScheduleView{Schedule: *sch, Unbooked: r.Unbooked}, nil
}

// Schedule returns a schedule the actor may manage.
func (s *Service) Schedule(ctx context.Context, a *schemas.Actor, id string) (*schemas.Schedule, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	sch, err := s.schedule(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.Customer(ctx, a, sch.CustomerID); err != nil {
		return nil, errNotFound("schedule")
	}
	return sch, nil
}

// ListSchedules lists a page of the schedules of the customers the actor
// may see, and returns the after of the next page ("" at the end).
func (s *Service) ListSchedules(ctx context.Context, a *schemas.Actor, after string, limit int) ([]schemas.Schedule, string, error) {
	var ids []string
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		var err error
		if ids, err = s.visibleCustomerIDs(ctx, a.Team); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", forbidden()
	}
	ss, next, err := s.schedules.List(ctx, ids, after, limit)
	return ss, next, recordErr(err, "schedule")
}

// UpdateSchedule replaces a schedule at the expected version and brings
// its future visits in line: visits nobody touched by hand follow the new
// pattern, visits for dates it no longer has are cancelled, new dates get
// visits. Visits the office edited one by one are left alone.
func (s *Service) UpdateSchedule(ctx context.Context, a *schemas.Actor, id string, version int64, in schemas.ScheduleInput) (*ScheduleView, error) {
	before, err := s.Schedule(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := s.canEditSchedule(ctx, a, before); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.CustomerID != before.CustomerID {
		return nil, schemas.FieldError("customerId", "a schedule cannot move to another customer; end it and create another")
	}
	if _, _, _, _, _, err := s.planned(ctx, a, in.CustomerID, in.AddressID, in.ServiceTypeID, in.WorkerID); err != nil {
		return nil, err
	}
	if version != before.Version {
		return nil, staleVersion("schedule", before.Version)
	}
	after := *before
	after.ScheduleInput = in
	after.UpdatedAt = s.now().UTC()
	if err := s.schedules.Replace(ctx, &after, before.Version); err != nil {
		return nil, recordErr(err, "schedule")
	}
	if err := s.audit(ctx, a, schemas.EntitySchedule, id, "update", after.Version, before, &after, nil, ""); err != nil {
		return nil, err
	}
	view, err := s.reflowView(ctx, &after)
	if err != nil {
		return nil, err
	}
	if err := s.tellSchedule(ctx, before, &after); err != nil {
		return nil, err
	}
	return view, nil
}

// canEditSchedule is the write rule of a schedule: admins any;
// supervisors those of their own team, which is the team of the
// schedule's worker (as it is now), or the customer's when it has none.
// Seeing a customer's schedules is not editing them.
func (s *Service) canEditSchedule(ctx context.Context, a *schemas.Actor, sch *schemas.Schedule) error {
	if a.Role == schemas.RoleAdmin {
		return nil
	}
	if a.Role != schemas.RoleSupervisor || a.Team == "" {
		return forbidden()
	}
	team := ""
	if sch.WorkerID != "" {
		w, err := s.worker(ctx, sch.WorkerID)
		if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
			return err
		}
		if w != nil {
			team = w.Team
		}
	}
	if team == "" {
		c, err := s.customer(ctx, sch.CustomerID)
		if err != nil {
			return err
		}
		team = c.Team
	}
	if team != a.Team {
		return forbidden()
	}
	return nil
}

// EndSchedule ends a schedule after the given date (today or later).
func (s *Service) EndSchedule(ctx context.Context, a *schemas.Actor, id string, version int64, endsOn string) (*ScheduleView, error) {
	before, err := s.Schedule(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if _, err := schemas.ParseDate("endsOn", endsOn); err != nil {
		return nil, err
	}
	loc, _ := schemas.LoadZone(before.TimeZone)
	if today := s.now().In(loc).Format(schemas.DateLayout); endsOn < today {
		return nil, schemas.FieldError("endsOn", "endsOn cannot be in the past (today is %s there)", today)
	}
	in := before.ScheduleInput
	in.EndsOn = endsOn
	if endsOn < in.StartsOn {
		in.StartsOn = endsOn
	}
	return s.UpdateSchedule(ctx, a, id, version, in)
}

// ReflowResult counts what a generation run did, and lists the
// occurrences it could not book the schedule's worker on safely: those
// visits are generated without a worker, for the office to assign.
type ReflowResult struct {
	Created, Updated, Cancelled, Revived int
	Unbooked                             []Unbooked `json:"unbooked"`
}

// Unbooked is an occurrence whose worker breaks hard constraints.
type Unbooked struct {
	VisitID    string              `json:"visitId"`
	ScheduleID string              `json:"scheduleId"`
	WorkerID   string              `json:"workerId"`
	Start      time.Time           `json:"start"`
	Violations []schemas.Violation `json:"violations"`
}

// reflow makes the schedule's visits from now to the horizon match it.
// Every step is idempotent: visit ids derive from schedule and date, and
// each change is a versioned replace, so two instances running it at once,
// or a run cut short and repeated, converge on the same visits.
func (s *Service) reflow(ctx context.Context, sch *schemas.Schedule) (ReflowResult, error) {
	var res ReflowResult
	now := s.now().UTC()
	want := map[string]schemas.Occurrence{}
	for _, o := range sch.Occurrences(now, now.Add(s.horizon)) {
		want[o.VisitID] = o
	}
	c, err := s.customer(ctx, sch.CustomerID)
	if err != nil {
		return res, err
	}
	addr, ok := c.Address(sch.AddressID)
	if !ok {
		s.log.Warn("schedule's address is gone; no visits generated", "schedule", sch.ID)
		return res, nil
	}
	st, err := s.serviceType(ctx, sch.ServiceTypeID)
	if err != nil {
		return res, err
	}
	var w *schemas.Worker
	team := c.Team
	if sch.WorkerID != "" {
		w, err = s.worker(ctx, sch.WorkerID)
		if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
			return res, err
		}
		if w != nil && w.Status != schemas.WorkerActive {
			w = nil // generate unassigned: the dispatcher sees them and assigns someone
		}
		if w != nil {
			team = w.Team
		}
	}
	existing, err := s.db.Visits.List(ctx, store.VisitFilter{ScheduleID: sch.ID, From: now,
		Statuses: []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitConfirmed, schemas.VisitCancelled}})
	if err != nil {
		return res, err
	}
	seen := map[string]bool{}
	for i := range existing {
		v := &existing[i]
		seen[v.ID] = true
		if v.OfficeEdited || v.Field.Ops > 0 {
			continue // changed by hand, or the worker already reported on it
		}
		o, wanted := want[v.ID]
		after := *v
		switch {
		case wanted && v.Status == schemas.VisitCancelled && v.CancelReason == ReasonScheduleChanged:
			after.OfficeStatus, after.CancelReason = schemas.VisitScheduled, ""
			after.Refresh()
			res.Revived++
		case wanted && v.Status != schemas.VisitCancelled:
			res.Updated++
		case !wanted && v.Status != schemas.VisitCancelled:
			if err := after.Cancel(ReasonScheduleChanged); err != nil {
				return res, err
			}
			after.OfficeEdited = false
			res.Cancelled++
		default:
			continue
		}
		if wanted {
			fresh := newVisit(v.ID, c, addr, st, w, team, o.Start, o.End, sch.Notes, now)
			fresh.Version = v.Version + 1
			if err := s.bookOccurrence(ctx, sch, c, st, w, fresh, v.WorkerID == fresh.WorkerID && v.ScheduledStart.Equal(fresh.ScheduledStart) && v.ScheduledEnd.Equal(fresh.ScheduledEnd), &res); err != nil {
				return res, err
			}
			fresh.OfficeStatus, fresh.CancelReason, fresh.ScheduleID, fresh.CreatedAt = after.OfficeStatus, after.CancelReason, sch.ID, v.CreatedAt
			fresh.PastWorkerIDs, fresh.Field, fresh.Review = v.PastWorkerIDs, v.Field, v.Review
			if fresh.WorkerID == v.WorkerID {
				fresh.AssignedAt = v.AssignedAt // the same assignment: its answer stands
			}
			if fresh.WorkerID != v.WorkerID && v.WorkerID != "" && !slices.Contains(fresh.PastWorkerIDs, v.WorkerID) {
				fresh.PastWorkerIDs = append(append([]string(nil), fresh.PastWorkerIDs...), v.WorkerID)
			}
			if fresh.OfficeStatus == schemas.VisitConfirmed && !(v.ScheduledStart.Equal(fresh.ScheduledStart) && v.WorkerID == fresh.WorkerID) {
				fresh.OfficeStatus = schemas.VisitScheduled // the confirmation was for another time or worker
			}
			fresh.Refresh()
			if sameVisit(v, fresh) {
				res.Updated--
				continue
			}
			after = *fresh
		}
		after.Version = v.Version + 1
		after.UpdatedAt = now
		if err := s.db.Visits.Replace(ctx, &after, v.Version); err != nil {
			if schemas.ErrorCode(err) == schemas.ECONFLICT {
				continue // changed meanwhile (by hand or by another run): leave it
			}
			return res, err
		}
		if err := s.audit(ctx, System, schemas.EntityVisit, v.ID, "schedule", after.Version, v, &after, maskVisit, "schedule "+sch.ID); err != nil {
			return res, err
		}
	}
	for id, o := range want {
		if seen[id] {
			continue
		}
		v := newVisit(id, c, addr, st, w, team, o.Start, o.End, sch.Notes, now)
		v.ScheduleID = sch.ID
		if err := s.bookOccurrence(ctx, sch, c, st, w, v, false, &res); err != nil {
			return res, err
		}
		err := s.db.Visits.Insert(ctx, v)
		if schemas.ErrorCode(err) == schemas.ECONFLICT {
			continue // generated by an earlier or concurrent run
		}
		if err != nil {
			return res, err
		}
		res.Created++
		if err := s.audit(ctx, System, schemas.EntityVisit, id, "create", 1, nil, v, maskVisit, "schedule "+sch.ID); err != nil {
			return res, err
		}
	}
	return res, nil
}

// bookOccurrence books the schedule's worker on a generated visit, or,
// when that breaks a hard constraint, takes the worker off it and reports
// it in res. A visit the worker already holds at the same time is
// checked again (a certificate may have expired since) but not claimed
// again: its booking is already held.
func (s *Service) bookOccurrence(ctx context.Context, sch *schemas.Schedule, c *schemas.Customer, st *schemas.ServiceType, w *schemas.Worker, v *schemas.Visit, held bool, res *ReflowResult) error {
	if w == nil || v.WorkerID == "" {
		return nil
	}
	var vs []schemas.Violation
	as := &schemas.Assignment{Worker: w, Visit: v, Customer: c, Service: st}
	if held {
		if err := s.assignment(ctx, as); err != nil {
			return err
		}
		// Not free is not checked again: the clash came after the booking,
		// by someone who overrode it.
		vs = slices.DeleteFunc(as.Violations(), func(x schemas.Violation) bool { return x.Code == schemas.ConstraintFree })
	} else if _, err := s.bookAs(ctx, System, as, ""); err != nil {
		var e *schemas.Error
		if !errors.As(err, &e) || e.Details["reason"] != "assignment_unsafe" {
			return err
		}
		vs, _ = e.Details["violations"].([]schemas.Violation)
	}
	if len(vs) == 0 {
		return nil
	}
	v.WorkerID = ""
	res.Unbooked = append(res.Unbooked, Unbooked{VisitID: v.ID, ScheduleID: sch.ID, WorkerID: w.ID, Start: v.ScheduledStart, Violations: vs})
	s.log.Warn("schedule occurrence not booked: the worker breaks hard constraints", "schedule", sch.ID, "visit", v.ID, "worker", w.ID, "violations", vs)
	return nil
}

// sameVisit reports whether regenerating changed nothing that matters.
func sameVisit(a, b *schemas.Visit) bool {
	if len(a.Checklist) != len(b.Checklist) {
		return false
	}
	for i := range a.Checklist {
		if a.Checklist[i] != b.Checklist[i] {
			return false
		}
	}
	return a.ScheduledStart.Equal(b.ScheduledStart) && a.ScheduledEnd.Equal(b.ScheduledEnd) && a.WorkerID == b.WorkerID &&
		a.Team == b.Team && a.ServiceTypeID == b.ServiceTypeID && a.Address == b.Address && a.Notes == b.Notes &&
		a.Status == b.Status && a.CancelReason == b.CancelReason
}

// GenerateAll reflows every open schedule up to the horizon.
func (s *Service) GenerateAll(ctx context.Context) (ReflowResult, error) {
	var total ReflowResult
	today := s.now().UTC().AddDate(0, 0, -1).Format(schemas.DateLayout)
	schs, err := s.schedules.Open(ctx, today)
	if err != nil {
		return total, err
	}
	for i := range schs {
		r, err := s.reflow(ctx, &schs[i])
		if err != nil {
			return total, fmt.Errorf("schedule %s: %w", schs[i].ID, err)
		}
		total.Created += r.Created
		total.Updated += r.Updated
		total.Cancelled += r.Cancelled
		total.Revived += r.Revived
		total.Unbooked = append(total.Unbooked, r.Unbooked...)
	}
	return total, nil
}

// RunGenerator runs GenerateAll now and then every interval until ctx ends.
func (s *Service) RunGenerator(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if r, err := s.GenerateAll(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("visit generation failed", "err", err)
		} else if r.Created+r.Updated+r.Cancelled+r.Revived+len(r.Unbooked) > 0 {
			s.log.Info("visits generated", "created", r.Created, "updated", r.Updated, "cancelled", r.Cancelled, "revived", r.Revived, "unbooked", len(r.Unbooked))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
