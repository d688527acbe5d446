package store

import (
	"context"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

// slowEngine logs engine calls slower than limit: the call, the
// collection and the duration, never a document (values of personal
// fields are sealed anyway). The wall clock only measures the duration.
type slowEngine struct {
	e     doc.Engine
	log   *slog.Logger
	limit time.Duration
}

func (s slowEngine) done(op, coll string, start time.Time) {
	if d := time.Since(start); d >= s.limit {
		s.log.Warn("slow store call", "op", op, "collection", coll, "ms", d.Milliseconds())
	}
}

func (s slowEngine) Get(ctx context.Context, coll, id string) (doc.Doc, error) {
	defer s.done("get", coll, time.Now())
	return s.e.Get(ctx, coll, id)
}

func (s slowEngine) GetMany(ctx context.Context, coll string, ids []string) ([]doc.Doc, error) {
	defer s.done("getMany", coll, time.Now())
	return s.e.GetMany(ctx, coll, ids)
}

func (s slowEngine) Insert(ctx context.Context, coll string, d bson.Raw) (int64, error) {
	defer s.done("insert", coll, time.Now())
	return s.e.Insert(ctx, coll, d)
}

func (s slowEngine) Replace(ctx context.Context, coll string, version int64, d bson.Raw) (int64, error) {
	defer s.done("replace", coll, time.Now())
	return s.e.Replace(ctx, coll, version, d)
}

func (s slowEngine) Delete(ctx context.Context, coll, id string, version int64) error {
	defer s.done("delete", coll, time.Now())
	return s.e.Delete(ctx, coll, id, version)
}

func (s slowEngine) Scan(ctx context.Context, coll string, q doc.Query) (doc.Page, error) {
	defer s.done("scan", coll+"."+q.Index, time.Now())
	return s.e.Scan(ctx, coll, q)
}

func (s slowEngine) Apply(ctx context.Context, writes []doc.Write) ([]int64, error) {
	coll := ""
	if len(writes) > 0 {
		coll = writes[0].Coll
	}
	defer s.done("apply", coll, time.Now())
	return s.e.Apply(ctx, writes)
}
