package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

// Observer watches the store for the program's metrics and traces; the
// store imports neither.
type Observer interface {
	// Command is called as an engine call starts (op: get, getMany,
	// insert, replace, delete, scan, apply; coll: the collection, or the
	// first one of a batch); the function it returns is called with the
	// call's error when it ends. The context it returns is the call's.
	Command(ctx context.Context, op, coll string) (context.Context, func(error))
	// AlertRaised is called once per alert recorded as new.
	AlertRaised(kind string)
}

// observedEngine reports every engine call to an Observer.
type observedEngine struct {
	e   doc.Engine
	obs Observer
}

func (o observedEngine) Get(ctx context.Context, coll, id string) (doc.Doc, error) {
	ctx, done := o.obs.Command(ctx, "get", coll)
	d, err := o.e.Get(ctx, coll, id)
	done(err)
	return d, err
}

func (o observedEngine) GetMany(ctx context.Context, coll string, ids []string) ([]doc.Doc, error) {
	ctx, done := o.obs.Command(ctx, "getMany", coll)
	ds, err := o.e.GetMany(ctx, coll, ids)
	done(err)
	return ds, err
}

func (o observedEngine) Insert(ctx context.Context, coll string, d bson.Raw) (int64, error) {
	ctx, done := o.obs.Command(ctx, "insert", coll)
	v, err := o.e.Insert(ctx, coll, d)
	done(err)
	return v, err
}

func (o observedEngine) Replace(ctx context.Context, coll string, version int64, d bson.Raw) (int64, error) {
	ctx, done := o.obs.Command(ctx, "replace", coll)
	v, err := o.e.Replace(ctx, coll, version, d)
	done(err)
	return v, err
}

func (o observedEngine) Delete(ctx context.Context, coll, id string, version int64) error {
	ctx, done := o.obs.Command(ctx, "delete", coll)
	err := o.e.Delete(ctx, coll, id, version)
	done(err)
	return err
}

func (o observedEngine) Scan(ctx context.Context, coll string, q doc.Query) (doc.Page, error) {
	ctx, done := o.obs.Command(ctx, "scan", coll)
	p, err := o.e.Scan(ctx, coll, q)
	done(err)
	return p, err
}

func (o observedEngine) Apply(ctx context.Context, writes []doc.Write) ([]int64, error) {
	coll := ""
	if len(writes) > 0 {
		coll = writes[0].Coll
	}
	ctx, done := o.obs.Command(ctx, "apply", coll)
	vs, err := o.e.Apply(ctx, writes)
	done(err)
	return vs, err
}

// alertRaised tells the observer of a cause newly counted in an alert
// (a coalesced alert counts each of its causes once).
func (s *Store) alertRaised(kind string) {
	if s.obs != nil {
		s.obs.AlertRaised(kind)
	}
}
