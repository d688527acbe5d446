package store

import (
	"context"
	"fmt"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const colSchedules = "schedules"

// scheduleCollections are the collections Schedules writes.
var scheduleCollections = []doc.Collection{
	{Name: colSchedules, Indexes: []doc.Index{
		{Name: "customer", Fields: []string{"customerId", "_id"}},
		// endsOn is "" for an open-ended schedule.
		{Name: "ends", Fields: []string{"endsOn", "_id"}},
	}},
}

// Schedules stores recurring schedules.
type Schedules struct{ s *Store }

// Insert stores a new schedule at version 1.
func (ss *Schedules) Insert(ctx context.Context, sch *schemas.Schedule) error {
	v, err := doc.Insert(ctx, ss.s.engine, colSchedules, sch)
	if err != nil {
		return fmt.Errorf("insert schedule %s: %w", sch.ID, err)
	}
	sch.Version = v
	return nil
}

// Get returns the schedule id, or ErrNotFound.
func (ss *Schedules) Get(ctx context.Context, id string) (*schemas.Schedule, error) {
	sch, v, err := doc.Get[schemas.Schedule](ctx, ss.s.engine, colSchedules, id)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", id, err)
	}
	sch.Version = v
	return &sch, nil
}

// Replace stores sch if the stored schedule is at version (else
// ErrVersion), and sets sch.Version to the new version.
func (ss *Schedules) Replace(ctx context.Context, sch *schemas.Schedule, version int64) error {
	v, err := doc.Replace(ctx, ss.s.engine, colSchedules, version, sch)
	if err != nil {
		return fmt.Errorf("replace schedule %s: %w", sch.ID, err)
	}
	sch.Version = v
	return nil
}

// List returns a page of schedules in id order, of the customers named
// (nil: of everyone), and the after of the next page ("" at the end).
// Each customer is a scan of the customer index.
func (ss *Schedules) List(ctx context.Context, customerIDs []string, after string, limit int) ([]schemas.Schedule, string, error) {
	scans := []officeScan{{index: doc.ByID}}
	if customerIDs != nil {
		scans = scans[:0]
		for _, id := range customerIDs {
			scans = append(scans, officeScan{index: "customer", eq: []any{id}})
		}
	}
	items, next, err := officeList[schemas.Schedule](ctx, ss.s.engine, colSchedules, scans, nil, after, limit, nil)
	if err != nil {
		return nil, "", fmt.Errorf("list schedules: %w", err)
	}
	out := make([]schemas.Schedule, len(items))
	for i, it := range items {
		out[i] = it.v
		out[i].Version = it.version
	}
	return out, next, nil
}

// Open lists the schedules that have not ended before day (a date): the
// open-ended ones, then those ending on day or later, from the ends index.
func (ss *Schedules) Open(ctx context.Context, day string) ([]schemas.Schedule, error) {
	var out []schemas.Schedule
	for _, q := range []doc.Query{
		{Index: "ends", Eq: []any{""}, Limit: 500},
		{Index: "ends", Range: doc.Range{Gte: day}, Limit: 500},
	} {
		for {
			p, err := ss.s.engine.Scan(ctx, colSchedules, q)
			if err != nil {
				return nil, fmt.Errorf("open schedules: %w", err)
			}
			for _, d := range p.Docs {
				var sch schemas.Schedule
				if err := d.Decode(&sch); err != nil {
					return nil, fmt.Errorf("open schedules: %w", err)
				}
				sch.Version = d.Version
				out = append(out, sch)
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
	}
	return out, nil
}
