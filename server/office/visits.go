package office

import (
	"context"
	"errors"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

func canSeeVisit(a *schemas.Actor, v *schemas.Visit) bool {
	switch a.Role {
	case schemas.RoleAdmin:
		return true
	case schemas.RoleSupervisor:
		return v.Team != "" && v.Team == a.Team
	case schemas.RoleWorker:
		return a.WorkerID != "" && v.WorkerID == a.WorkerID
	case schemas.RoleCustomer:
		return a.CustomerID != "" && v.CustomerID == a.CustomerID
	}
	return false
}

func canManageVisit(a *schemas.Actor, v *schemas.Visit) bool {
	return a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor && v.Team == a.Team && v.Team != ""
}

// Visit returns one visit the actor may see; ViewVisit shapes it.
func (s *Service) Visit(ctx context.Context, a *schemas.Actor, id string) (*schemas.Visit, error) {
	v, err := s.db.Visits.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeVisit(a, v) {
		return nil, errNotFound("visit")
	}
	return v, nil
}

// ListVisits lists the visits the actor may see, narrowed by f; ViewVisit
// shapes each.
func (s *Service) ListVisits(ctx context.Context, a *schemas.Actor, f store.VisitFilter) ([]schemas.Visit, error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" { // no team is no team's visits ("" would list every team's)
			return []schemas.Visit{}, nil
		}
		f.Team = a.Team
	case schemas.RoleWorker:
		if a.WorkerID == "" || (f.WorkerID != "" && f.WorkerID != a.WorkerID) {
			return []schemas.Visit{}, nil
		}
		f.WorkerID = a.WorkerID
	case schemas.RoleCustomer:
		if a.CustomerID == "" || (f.CustomerID != "" && f.CustomerID != a.CustomerID) {
			return []schemas.Visit{}, nil
		}
		f.CustomerID = a.CustomerID
	default:
		return nil, forbidden()
	}
	if f.Team == "" && a.Role == schemas.RoleSupervisor {
		return []schemas.Visit{}, nil
	}
	return s.db.Visits.List(ctx, f)
}

// planned resolves what a new visit needs: the customer, the address, the
// service, the worker (if any) and the team.
func (s *Service) planned(ctx context.Context, a *schemas.Actor, customerID, addressID, serviceID, workerID string) (*schemas.Customer, schemas.Address, *schemas.ServiceType, *schemas.Worker, string, error) {
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return nil, schemas.Address{}, nil, nil, "", asField(err, "customerId")
	}
	addr, ok := c.Address(addressID)
	if !ok {
		return nil, schemas.Address{}, nil, nil, "", schemas.FieldError("addressId", "the customer has no address with that id")
	}
	st, err := s.serviceType(ctx, serviceID)
	if err != nil {
		return nil, schemas.Address{}, nil, nil, "", asField(err, "serviceTypeId")
	}
	if !st.Active {
		return nil, schemas.Address{}, nil, nil, "", schemas.FieldError("serviceTypeId", "the service is no longer offered")
	}
	team := c.Team
	var w *schemas.Worker
	if workerID != "" {
		if w, err = s.assignable(ctx, a, workerID); err != nil {
			return nil, schemas.Address{}, nil, nil, "", err
		}
		team = w.Team
	}
	if a.Role == schemas.RoleSupervisor && team != a.Team {
		return nil, schemas.Address{}, nil, nil, "", schemas.FieldError("workerId", "a visit of another team needs a worker of your team")
	}
	return c, addr, st, w, team, nil
}

// assignable returns a worker the actor may assign: visible and active.
func (s *Service) assignable(ctx context.Context, a *schemas.Actor, workerID string) (*schemas.Worker, error) {
	w, err := s.Worker(ctx, a, workerID)
	if err != nil {
		return nil, asField(err, "workerId")
	}
	if w.Status != schemas.WorkerActive {
		return nil, schemas.FieldError("workerId", "the worker is %s", w.Status)
	}
	return w, nil
}

// asField turns a not-found reference in a request body into a 400 that
// names the field: the request is wrong, the URL is not.
func asField(err error, field string) error {
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return schemas.FieldError(field, "%s does not name anything you can use", field)
	}
	return err
}

// CreateVisit plans a visit; admins, or supervisors for their team.
func (s *Service) CreateVisit(ctx context.Context, a *schemas.Actor, in schemas.NewVisit) (*VisitView, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c, addr, st, w, team, err := s.planned(ctx, a, in.CustomerID, in.AddressID, in.ServiceTypeID, in.WorkerID)
	if err != nil {
		return nil, err
	}
	end := in.ScheduledEnd
	if end.IsZero() {
		end = in.ScheduledStart.Add(time.Duration(st.DefaultMinutes) * time.Minute)
	}
	now := s.now().UTC()
	v := newVisit(schemas.NewIDAt(now), c, addr, st, w, team, in.ScheduledStart, end, in.Notes, now)
	var overridden []schemas.Violation
	if w != nil {
		if overridden, err = s.book(ctx, a, w, v, in.OverrideReason); err != nil {
			return nil, err
		}
	}
	if err := s.db.Visits.Insert(ctx, v); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, a, schemas.EntityVisit, v.ID, "create", 1, nil, v, maskVisit, overrideNote(overridden, in.OverrideReason, "")); err != nil {
		return nil, err
	}
	if err := s.tellVisit(ctx, nil, v); err != nil {
		return nil, err
	}
	return &VisitView{Visit: *v}, nil
}

func newVisit(id string, c *schemas.Customer, addr schemas.Address, st *schemas.ServiceType, w *schemas.Worker, team string, start, end time.Time, notes string, now time.Time) *schemas.Visit {
	v := &schemas.Visit{
		ID: id, CustomerID: c.ID, ServiceTypeID: st.ID, TimeZone: c.TimeZone, Team: team,
		Address:        schemas.VisitAddress{AddressID: addr.ID, Text: addr.Text, Location: addr.Location, AccessNotes: addr.AccessNotes},
		ScheduledStart: start.UTC(), ScheduledEnd: end.UTC(), Notes: notes,
		Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if w != nil {
		v.WorkerID, v.AssignedAt = w.ID, schemas.AssignedAt(now)
	}
	v.Checklist = make([]schemas.VisitChecklistItem, len(st.Checklist))
	for i, it := range st.Checklist {
		v.Checklist[i] = schemas.VisitChecklistItem{ID: it.ID, Text: it.Text}
	}
	return v
}

// VisitAction is one office action on a visit.
type VisitAction struct {
	Kind           string    `json:"-"`
	Version        int64     `json:"version"` // the version the office saw; 0 skips the check
	ScheduledStart time.Time `json:"scheduledStart,omitempty"`
	ScheduledEnd   time.Time `json:"scheduledEnd,omitempty"`
	WorkerID       string    `json:"workerId,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	OverrideReason string    `json:"overrideReason,omitempty"` // books the worker despite hard constraints (audited)
	Party          string    `json:"party,omitempty"`          // no-show: customer or worker
}

// Office action kinds.
const (
	ActReschedule = "reschedule"
	ActReassign   = "reassign"
	ActUnassign   = "unassign"
	ActCancel     = "cancel"
	ActNoShow     = "no_show"
)

// ActOnVisit applies an office action at the version the office saw. A
// concurrent change of the same visit is retried against the new state
// when the caller did not pin a version.
func (s *Service) ActOnVisit(ctx context.Context, a *schemas.Actor, id string, act VisitAction) (*VisitView, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	for attempt := 0; ; attempt++ {
		before, err := s.db.Visits.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if !canManageVisit(a, before) {
			return nil, errNotFound("visit")
		}
		if act.Version != 0 && act.Version != before.Version {
			return nil, staleVersion("visit", before.Version)
		}
		after := *before
		after.Checklist = append([]schemas.VisitChecklistItem(nil), before.Checklist...)
		if err := s.apply(ctx, a, &after, act); err != nil {
			return nil, err
		}
		after.Version = before.Version + 1
		after.UpdatedAt = s.now().UTC()
		if after.WorkerID != before.WorkerID {
			after.AssignedAt = schemas.AssignedAt(after.UpdatedAt) // a new assignment: earlier answers no longer stand
		}
		overridden, err := s.bookChange(ctx, a, before, &after, act.OverrideReason)
		if err != nil {
			return nil, err
		}
		err = s.db.Visits.Replace(ctx, &after, before.Version)
		if schemas.ErrorCode(err) == schemas.ECONFLICT && act.Version == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if before.WorkerID != after.WorkerID || after.Status == schemas.VisitCancelled {
			s.unbook(ctx, before.WorkerID, id)
		}
		if err := s.audit(ctx, a, schemas.EntityVisit, id, act.Kind, after.Version, before, &after, maskVisit, overrideNote(overridden, act.OverrideReason, act.Reason)); err != nil {
			return nil, err
		}
		if err := s.tellVisit(ctx, before, &after); err != nil {
			return nil, err
		}
		return &VisitView{Visit: after}, nil
	}
}

// bookChange books the worker of a changed visit when the change gives
// it a worker or moves it (reassign, reschedule), so that every way a
// worker comes to a time goes through the hard constraints.
func (s *Service) bookChange(ctx context.Context, a *schemas.Actor, before, after *schemas.Visit, override string) ([]schemas.Violation, error) {
	if after.WorkerID == "" || after.Status == schemas.VisitCancelled ||
		after.WorkerID == before.WorkerID && after.ScheduledStart.Equal(before.ScheduledStart) && after.ScheduledEnd.Equal(before.ScheduledEnd) {
		return nil, schemas.ValidateOverrideReason(override)
	}
	w, err := s.worker(ctx, after.WorkerID)
	if err != nil {
		return nil, err
	}
	return s.book(ctx, a, w, after, override)
}

func (s *Service) apply(ctx context.Context, a *schemas.Actor, v *schemas.Visit, act VisitAction) error {
	switch act.Kind {
	case ActReschedule:
		if act.ScheduledStart.IsZero() || act.ScheduledEnd.IsZero() {
			return schemas.FieldError("scheduledStart", "scheduledStart and scheduledEnd are required")
		}
		return v.Reschedule(act.ScheduledStart, act.ScheduledEnd)
	case ActReassign:
		if !schemas.ValidID(act.WorkerID) {
			return schemas.FieldError("workerId", "workerId is required and must be an id")
		}
		w, err := s.assignable(ctx, a, act.WorkerID)
		if err != nil {
			return err
		}
		return v.Reassign(w.ID, w.Team)
	case ActUnassign:
		if v.WorkerID == "" {
			return schemas.Errorf(schemas.ECONFLICT, "the visit has no worker")
		}
		return v.Reassign("", "")
	case ActCancel:
		return v.Cancel(act.Reason)
	case ActNoShow:
		return v.MarkNoShow(act.Party, act.Reason, a.UserID, s.now())
	}
	return errors.New("unknown visit action " + act.Kind)
}

// errNoChange, returned by a change function, means the visit is already
// as wanted: nothing is written or audited.
var errNoChange = errors.New("no change")

// changeVisit applies change to a visit with optimistic concurrency
// (re-read and retried when someone else wrote it meanwhile), refreshes
// the derived status, stores it and audits it. It returns the visit as
// stored.
func (s *Service) changeVisit(ctx context.Context, a *schemas.Actor, id, action, note string, change func(*schemas.Visit) error) (*schemas.Visit, error) {
	for attempt := 0; ; attempt++ {
		before, err := s.db.Visits.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		after := *before
		if err := change(&after); err == errNoChange {
			return before, nil
		} else if err != nil {
			return nil, err
		}
		after.Refresh()
		after.Version++
		after.UpdatedAt = s.now().UTC()
		err = s.db.Visits.Replace(ctx, &after, before.Version)
		if schemas.ErrorCode(err) == schemas.ECONFLICT && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &after, s.audit(ctx, a, schemas.EntityVisit, id, action, after.Version, before, &after, maskVisit, note)
	}
}
