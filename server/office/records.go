package office

import (
	"context"
	"errors"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Records is the storage of the office's records that the office uses
// (fieldsync/store's Office).
type Records interface {
	InsertWorker(ctx context.Context, w *schemas.Worker) error
	Worker(ctx context.Context, id string) (*schemas.Worker, error)
	ReplaceWorker(ctx context.Context, w *schemas.Worker, version int64) error
	Workers(ctx context.Context, f store.WorkerFilter) ([]schemas.Worker, string, error)
	InsertCustomer(ctx context.Context, c *schemas.Customer) error
	Customer(ctx context.Context, id string) (*schemas.Customer, error)
	ReplaceCustomer(ctx context.Context, c *schemas.Customer, version int64) error
	Customers(ctx context.Context, f store.CustomerFilter) ([]schemas.Customer, string, error)
	CustomerIDsOfTeam(ctx context.Context, team string) ([]string, error)
	InsertServiceType(ctx context.Context, st *schemas.ServiceType) error
	ServiceType(ctx context.Context, id string) (*schemas.ServiceType, error)
	ReplaceServiceType(ctx context.Context, st *schemas.ServiceType, version int64) error
	ServiceTypes(ctx context.Context, activeOnly bool, after string, limit int) ([]schemas.ServiceType, string, error)
}

// ScheduleStore is the storage of recurring schedules (fieldsync/store's
// Schedules).
type ScheduleStore interface {
	Insert(ctx context.Context, sch *schemas.Schedule) error
	Get(ctx context.Context, id string) (*schemas.Schedule, error)
	Replace(ctx context.Context, sch *schemas.Schedule, version int64) error
	List(ctx context.Context, customerIDs []string, after string, limit int) ([]schemas.Schedule, string, error)
	Open(ctx context.Context, day string) ([]schemas.Schedule, error)
}

// recordErr gives the store's errors about a record the codes clients see.
func recordErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrVersion):
		return schemas.Errorf(schemas.ECONFLICT, "the %s was changed by someone else; reload and retry", what).With("reason", "version_mismatch")
	case errors.Is(err, store.ErrCursor):
		return schemas.FieldError("after", "after is not a cursor this server issued")
	}
	return err
}

// The reads of one record that other records point to, with the codes
// clients see.

func (s *Service) worker(ctx context.Context, id string) (*schemas.Worker, error) {
	w, err := s.records.Worker(ctx, id)
	return w, recordErr(err, "worker")
}

func (s *Service) customer(ctx context.Context, id string) (*schemas.Customer, error) {
	c, err := s.records.Customer(ctx, id)
	return c, recordErr(err, "customer")
}

func (s *Service) serviceType(ctx context.Context, id string) (*schemas.ServiceType, error) {
	st, err := s.records.ServiceType(ctx, id)
	return st, recordErr(err, "service type")
}

func (s *Service) schedule(ctx context.Context, id string) (*schemas.Schedule, error) {
	sch, err := s.schedules.Get(ctx, id)
	return sch, recordErr(err, "schedule")
}

// allWorkers reads every page of workers f selects.
func (s *Service) allWorkers(ctx context.Context, f store.WorkerFilter) ([]schemas.Worker, error) {
	var out []schemas.Worker
	f.Limit = 500
	for {
		ws, next, err := s.records.Workers(ctx, f)
		if err != nil {
			return nil, recordErr(err, "worker")
		}
		out = append(out, ws...)
		if next == "" {
			return out, nil
		}
		f.After = next
	}
}
