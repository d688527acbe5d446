package office

import (
	"context"

	"fieldsync/schemas"
	"fieldsync/store"
)

// CreateWorker adds a worker; admins, or supervisors for their own team.
func (s *Service) CreateWorker(ctx context.Context, a *schemas.Actor, in schemas.WorkerInput) (*schemas.Worker, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if a.Role != schemas.RoleAdmin && !(a.Role == schemas.RoleSupervisor && in.Team == a.Team) {
		return nil, forbidden()
	}
	now := s.now().UTC()
	w := &schemas.Worker{ID: schemas.NewIDAt(now), WorkerInput: in, CreatedAt: now, UpdatedAt: now}
	if err := s.records.InsertWorker(ctx, w); err != nil {
		return nil, err
	}
	return w, s.audit(ctx, a, schemas.EntityWorker, w.ID, "create", w.Version, nil, w, maskWorker, "")
}

// Worker returns a worker the actor may see: admins any, supervisors their
// team's, workers themselves.
func (s *Service) Worker(ctx context.Context, a *schemas.Actor, id string) (*schemas.Worker, error) {
	w, err := s.worker(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeWorker(a, w) {
		return nil, errNotFound("worker")
	}
	return w, nil
}

func canSeeWorker(a *schemas.Actor, w *schemas.Worker) bool {
	switch a.Role {
	case schemas.RoleAdmin:
		return true
	case schemas.RoleSupervisor:
		return w.Team == a.Team
	case schemas.RoleWorker:
		return w.ID == a.WorkerID
	}
	return false
}

// ListWorkers lists a page of workers: admins all, supervisors their
// team. It returns the After of the next page ("" at the end).
func (s *Service) ListWorkers(ctx context.Context, a *schemas.Actor, f store.WorkerFilter) ([]schemas.Worker, string, error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		// No team is no team's workers ("" would list every team's).
		if a.Team == "" || f.Team != "" && f.Team != a.Team {
			return []schemas.Worker{}, "", nil
		}
		f.Team = a.Team
	default:
		return nil, "", forbidden()
	}
	ws, next, err := s.records.Workers(ctx, f)
	return ws, next, recordErr(err, "worker")
}

// UpdateWorker replaces the editable fields at the expected version.
func (s *Service) UpdateWorker(ctx context.Context, a *schemas.Actor, id string, version int64, in schemas.WorkerInput) (*schemas.Worker, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	before, err := s.worker(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Role == schemas.RoleAdmin:
	case a.Role == schemas.RoleSupervisor && before.Team == a.Team:
		if in.Team != a.Team {
			return nil, forbidden() // moving a worker between teams is an admin's call
		}
	case a.Role == schemas.RoleSupervisor || a.Role == schemas.RoleWorker:
		return nil, errNotFound("worker")
	default:
		return nil, forbidden()
	}
	if version != before.Version {
		return nil, staleVersion("worker", before.Version)
	}
	after := *before
	after.WorkerInput = in
	after.UpdatedAt = s.now().UTC()
	if err := s.records.ReplaceWorker(ctx, &after, before.Version); err != nil {
		return nil, recordErr(err, "worker")
	}
	return &after, s.audit(ctx, a, schemas.EntityWorker, id, "update", after.Version, before, &after, maskWorker, "")
}

func staleVersion(what string, current int64) error {
	return schemas.Errorf(schemas.ECONFLICT, "the %s was changed since you loaded it; reload and retry", what).
		With("reason", "version_mismatch").With("currentVersion", current)
}
