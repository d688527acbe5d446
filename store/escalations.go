package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const colEscalations = "escalations"

// escalationCollections: escalations are a case of their own, beside
// incidents (another state machine: a promised time the office keeps or
// moves). Lists sort by the promised time, the soonest due first.
var escalationCollections = []doc.Collection{
	{Name: colEscalations, Indexes: []doc.Index{
		{Name: "promised", Fields: []string{"promisedBy"}},
		{Name: "team_promised", Fields: []string{"team", "promisedBy"}},
		{Name: "worker_promised", Fields: []string{"workerId", "promisedBy"}},
		{Name: "visit_promised", Fields: []string{"visitId", "promisedBy"}},
		{Name: "open_promised", Fields: []string{"open", "promisedBy"}},
		{Name: "team_open_promised", Fields: []string{"team", "open", "promisedBy"}},
		// The overdue sweep: open, the current promise not yet alerted, by promise.
		{Name: "overdue", Fields: []string{"open", "overdueRaised", "promisedBy"}},
	}},
}

type escalationDoc struct {
	schemas.Escalation `bson:",inline"`
	Open               bool `bson:"open"` // not resolved
}

func newEscalationDoc(e schemas.Escalation) escalationDoc {
	if e.Photos == nil {
		e.Photos = []string{}
	}
	if e.Events == nil {
		e.Events = []schemas.ComplaintEvent{}
	}
	e.PromisedBy, e.ReceivedAt, e.At = e.PromisedBy.UTC(), e.ReceivedAt.UTC(), e.At.UTC()
	return escalationDoc{Escalation: e, Open: e.Status != schemas.EscalationResolved}
}

// RecordEscalation stores an escalation whose id its caller derived from
// its cause, at version 1, and reports whether it is new (one recorded
// already is left as it is, its promise among it).
func (c *Cases) RecordEscalation(ctx context.Context, e *schemas.Escalation) (bool, error) {
	d := newEscalationDoc(*e)
	v, err := doc.Insert(ctx, c.s.engine, colEscalations, d)
	if err != nil {
		if errors.Is(err, doc.ErrDuplicate) {
			return false, nil
		}
		return false, fmt.Errorf("record escalation: %w", err)
	}
	*e = d.Escalation
	e.Version = v
	return true, nil
}

// Escalation returns the escalation, or ErrNotFound.
func (c *Cases) Escalation(ctx context.Context, id string) (*schemas.Escalation, error) {
	d, v, err := doc.Get[escalationDoc](ctx, c.s.engine, colEscalations, id)
	if err != nil {
		return nil, fmt.Errorf("escalation %s: %w", id, err)
	}
	d.Version = v
	return &d.Escalation, nil
}

// ReplaceEscalation stores e if the stored one is still at version (else
// ErrVersion), and sets e.Version to the new version.
func (c *Cases) ReplaceEscalation(ctx context.Context, e *schemas.Escalation, version int64) error {
	v, err := doc.Replace(ctx, c.s.engine, colEscalations, version, newEscalationDoc(*e))
	if err != nil {
		return fmt.Errorf("replace escalation %s: %w", e.ID, err)
	}
	e.Version = v
	return nil
}

// EscalationQuery selects a page of escalations, the soonest promised
// first: a visit's, a worker's or a team's (the first given is the index
// scanned, the others filter it), or all.
type EscalationQuery struct {
	Team     string
	WorkerID string
	VisitID  string
	Open     bool      // only those not resolved
	Before   time.Time // only those promised before it (the overdue ones: now)
	After    string
	Limit    int // <= 0: every match
}

// ListEscalations returns a page of escalations.
func (c *Cases) ListEscalations(ctx context.Context, q EscalationQuery) (schemas.Page[schemas.Escalation], error) {
	var ix string
	var eq []any
	switch {
	case q.VisitID != "":
		ix, eq = "visit_promised", []any{q.VisitID}
	case q.WorkerID != "":
		ix, eq = "worker_promised", []any{q.WorkerID}
	case q.Team != "" && q.Open:
		ix, eq = "team_open_promised", []any{q.Team, true}
	case q.Team != "":
		ix, eq = "team_promised", []any{q.Team}
	case q.Open:
		ix, eq = "open_promised", []any{true}
	default:
		ix = "promised"
	}
	keep := func(d *escalationDoc) bool {
		e := &d.Escalation
		return match(q.Team, e.Team) && match(q.WorkerID, e.WorkerID) && match(q.VisitID, e.VisitID) && (!q.Open || d.Open)
	}
	return filtered(ctx, c.s.engine, colEscalations, doc.Query{Index: ix, Eq: eq, Range: timeRange(time.Time{}, q.Before), After: q.After},
		q.Limit, keep, func(d escalationDoc, v int64) (schemas.Escalation, error) { d.Version = v; return d.Escalation, nil })
}

// EscalationsOverdue returns open escalations promised at or before t
// whose current promise has no overdue alert yet, the oldest first.
func (c *Cases) EscalationsOverdue(ctx context.Context, t time.Time, limit int) ([]schemas.Escalation, error) {
	p, err := list(ctx, c.s.engine, colEscalations, doc.Query{Index: "overdue", Eq: []any{true, false}, Range: doc.Range{Lte: t.UTC()}},
		limit, func(d escalationDoc, v int64) schemas.Escalation { d.Version = v; return d.Escalation })
	return p.Items, err
}
