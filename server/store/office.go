package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

const (
	colWorkers      = "workers"
	colCustomers    = "customers"
	colServiceTypes = "service_types"
	colSchedules    = "schedules"
	colAudit        = "audit"
)

func init() {
	Register(Migration{2, "office", func(ctx context.Context, db *DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colWorkers: {
				{Keys: bson.D{{Key: "team", Value: 1}, {Key: "_id", Value: 1}}},
				{Keys: bson.D{{Key: "userId", Value: 1}}},
			},
			colCustomers: {
				{Keys: bson.D{{Key: "phoneHash", Value: 1}}},
				{Keys: bson.D{{Key: "team", Value: 1}, {Key: "_id", Value: 1}}},
			},
			colServiceTypes: {
				{Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetUnique(true)},
			},
			colSchedules: {
				{Keys: bson.D{{Key: "customerId", Value: 1}}},
			},
			colAudit: {
				{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "entityId", Value: 1}, {Key: "version", Value: 1}}},
			},
			colComplaints: {{Keys: bson.D{{Key: "team", Value: 1}, {Key: "receivedAt", Value: -1}}}},
			colAlerts:     nil,
			colFollowUps:  {{Keys: bson.D{{Key: "team", Value: 1}, {Key: "dueAt", Value: 1}}}},
		})
	}})
}

func notFound(what string) error { return schemas.Errorf(schemas.ENOTFOUND, "%s not found", what) }

// getByID decodes the document with the id into T, or ENOTFOUND.
func getByID[T any](ctx context.Context, c *Collection, id, what string) (*T, error) {
	var v T
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&v); err != nil {
		if isNoDocs(err) {
			return nil, notFound(what)
		}
		return nil, fmt.Errorf("find %s: %w", what, err)
	}
	return &v, nil
}

// replaceVersioned replaces the document if it is still at version
// expected; doc carries version expected+1. A lost race is ECONFLICT.
func replaceVersioned(ctx context.Context, c *Collection, id string, expected int64, doc any, what string) error {
	ok, err := c.ReplaceIfVersion(ctx, id, expected, doc)
	return versionOutcome(ctx, c, id, ok, err, what)
}

// updateVersioned applies update if the document is still at expected.
func updateVersioned(ctx context.Context, c *Collection, id string, expected int64, update any, what string) error {
	ok, err := c.UpdateIfVersion(ctx, id, expected, update)
	return versionOutcome(ctx, c, id, ok, err, what)
}

func versionOutcome(ctx context.Context, c *Collection, id string, ok bool, err error, what string) error {
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if !ok {
		n, err := c.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return fmt.Errorf("find %s: %w", what, err)
		}
		if n == 0 {
			return notFound(what)
		}
		return schemas.Errorf(schemas.ECONFLICT, "the %s was changed by someone else; reload and retry", what).With("reason", "version_mismatch")
	}
	return nil
}

// page runs a find sorted by sort (ending in _id) and decodes at most limit,
// leaving out the fields in omit.
func page[T any](ctx context.Context, c *Collection, filter bson.D, sort bson.D, limit int, omit ...string) ([]T, error) {
	opts := options.Find().SetSort(sort).SetLimit(int64(limit))
	if len(omit) > 0 {
		proj := bson.D{}
		for _, f := range omit {
			proj = append(proj, bson.E{Key: f, Value: 0})
		}
		opts.SetProjection(proj)
	}
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.Name(), err)
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list %s: %w", c.Name(), err)
	}
	return out, nil
}

func afterID(filter bson.D, after string) bson.D {
	if after != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	return filter
}

var byID = bson.D{{Key: "_id", Value: 1}}

// Workers.

// InsertWorker stores a new worker.
func (db *DB) InsertWorker(ctx context.Context, w *schemas.Worker) error {
	if _, err := db.C(colWorkers).InsertOne(ctx, w); err != nil {
		return fmt.Errorf("insert worker: %w", err)
	}
	return nil
}

// WorkerByID returns the worker or ENOTFOUND.
func (db *DB) WorkerByID(ctx context.Context, id string) (*schemas.Worker, error) {
	return getByID[schemas.Worker](ctx, db.C(colWorkers), id, "worker")
}

// WorkerFilter selects workers.
type WorkerFilter struct {
	Team   string
	Status schemas.WorkerStatus
	Skill  schemas.Skill
	After  string
	Limit  int
}

// ListWorkers returns a page of workers in id order.
func (db *DB) ListWorkers(ctx context.Context, f WorkerFilter) ([]schemas.Worker, error) {
	filter := bson.D{}
	if f.Team != "" {
		filter = append(filter, bson.E{Key: "team", Value: f.Team})
	}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if f.Skill != "" {
		filter = append(filter, bson.E{Key: "skills", Value: f.Skill})
	}
	return page[schemas.Worker](ctx, db.C(colWorkers), afterID(filter, f.After), byID, f.Limit)
}

// ReplaceWorker stores w (at version expected+1) if it is still at expected.
func (db *DB) ReplaceWorker(ctx context.Context, w *schemas.Worker, expected int64) error {
	return replaceVersioned(ctx, db.C(colWorkers), w.ID, expected, w, "worker")
}

// Service types.

// InsertServiceType stores a new service type; a taken code is ECONFLICT.
func (db *DB) InsertServiceType(ctx context.Context, s *schemas.ServiceType) error {
	if _, err := db.C(colServiceTypes).InsertOne(ctx, s); err != nil {
		if isDup(err) {
			return schemas.Errorf(schemas.ECONFLICT, "service code %q is taken", s.Code).With("field", "code")
		}
		return fmt.Errorf("insert service type: %w", err)
	}
	return nil
}

// ServiceTypeByID returns the service type or ENOTFOUND.
func (db *DB) ServiceTypeByID(ctx context.Context, id string) (*schemas.ServiceType, error) {
	return getByID[schemas.ServiceType](ctx, db.C(colServiceTypes), id, "service type")
}

// ListServiceTypes returns a page of service types in id order.
func (db *DB) ListServiceTypes(ctx context.Context, activeOnly bool, after string, limit int) ([]schemas.ServiceType, error) {
	filter := bson.D{}
	if activeOnly {
		filter = append(filter, bson.E{Key: "active", Value: true})
	}
	return page[schemas.ServiceType](ctx, db.C(colServiceTypes), afterID(filter, after), byID, limit)
}

// ReplaceServiceType stores s if it is still at expected; a taken code is ECONFLICT.
func (db *DB) ReplaceServiceType(ctx context.Context, s *schemas.ServiceType, expected int64) error {
	err := replaceVersioned(ctx, db.C(colServiceTypes), s.ID, expected, s, "service type")
	if err != nil && isDup(err) {
		return schemas.Errorf(schemas.ECONFLICT, "service code %q is taken", s.Code).With("field", "code")
	}
	return err
}

// Schedules.

// InsertSchedule stores a new schedule.
func (db *DB) InsertSchedule(ctx context.Context, s *schemas.Schedule) error {
	if _, err := db.C(colSchedules).InsertOne(ctx, s); err != nil {
		return fmt.Errorf("insert schedule: %w", err)
	}
	return nil
}

// ScheduleByID returns the schedule or ENOTFOUND.
func (db *DB) ScheduleByID(ctx context.Context, id string) (*schemas.Schedule, error) {
	return getByID[schemas.Schedule](ctx, db.C(colSchedules), id, "schedule")
}

// ListSchedules returns a page of schedules, optionally of one customer.
func (db *DB) ListSchedules(ctx context.Context, customerIDs []string, after string, limit int) ([]schemas.Schedule, error) {
	filter := bson.D{}
	if customerIDs != nil {
		filter = append(filter, bson.E{Key: "customerId", Value: bson.D{{Key: "$in", Value: customerIDs}}})
	}
	return page[schemas.Schedule](ctx, db.C(colSchedules), afterID(filter, after), byID, limit)
}

// OpenSchedules lists schedules that have not ended before day (a date).
func (db *DB) OpenSchedules(ctx context.Context, day string) ([]schemas.Schedule, error) {
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "endsOn", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "endsOn", Value: bson.D{{Key: "$gte", Value: day}}}},
	}}}
	return page[schemas.Schedule](ctx, db.C(colSchedules), filter, byID, 0)
}

// ReplaceSchedule stores s if it is still at expected.
func (db *DB) ReplaceSchedule(ctx context.Context, s *schemas.Schedule, expected int64) error {
	return replaceVersioned(ctx, db.C(colSchedules), s.ID, expected, s, "schedule")
}

// Audit.

// InsertAudit records an entry. The id is derived from the entity version,
// so a retried write records it once.
func (db *DB) InsertAudit(ctx context.Context, e *schemas.AuditEntry) error {
	if _, err := db.C(colAudit).InsertOne(ctx, e); err != nil && !isDup(err) {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	return nil
}

// AuditTrail lists the entries of one entity, oldest first.
func (db *DB) AuditTrail(ctx context.Context, entity, id string, afterVersion int64, limit int) ([]schemas.AuditEntry, error) {
	filter := bson.D{{Key: "entity", Value: entity}, {Key: "entityId", Value: id}, {Key: "version", Value: bson.D{{Key: "$gt", Value: afterVersion}}}}
	return page[schemas.AuditEntry](ctx, db.C(colAudit), filter, bson.D{{Key: "version", Value: 1}, {Key: "_id", Value: 1}}, limit)
}
