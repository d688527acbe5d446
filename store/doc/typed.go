package doc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Get reads the document id of coll into a T and returns its version.
func Get[T any](ctx context.Context, e Engine, coll, id string) (T, int64, error) {
	var v T
	d, err := e.Get(ctx, coll, id)
	if err != nil {
		return v, 0, err
	}
	return v, d.Version, d.Decode(&v)
}

// Insert encodes v and inserts it into coll.
func Insert(ctx context.Context, e Engine, coll string, v any) (int64, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("insert into %s: encode: %w", coll, err)
	}
	return e.Insert(ctx, coll, raw)
}

// Replace encodes v and replaces its document in coll if the stored
// version is version.
func Replace(ctx context.Context, e Engine, coll string, version int64, v any) (int64, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("replace in %s: encode: %w", coll, err)
	}
	return e.Replace(ctx, coll, version, raw)
}

// DecodeAll decodes the documents of a page.
func DecodeAll[T any](docs []Doc) ([]T, error) {
	out := make([]T, len(docs))
	for i, d := range docs {
		if err := d.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Modify reads the document id of coll, lets change edit it, and replaces
// it if no one wrote it meanwhile; on a version conflict it reads again
// and calls change again, on a fresh copy, until the write lands or ctx
// ends. So concurrent Modify calls lose nothing: change must only depend
// on what it is given. An error from change stops it, unwritten. It
// returns the value written and its version.
func Modify[T any](ctx context.Context, e Engine, coll, id string, change func(*T) error) (T, int64, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		v, version, err := Get[T](ctx, e, coll, id)
		if err != nil {
			return zero, 0, err
		}
		if err := change(&v); err != nil {
			return zero, 0, err
		}
		raw, err := bson.Marshal(v)
		if err != nil {
			return zero, 0, fmt.Errorf("modify %s/%s: encode: %w", coll, id, err)
		}
		if got, err := ID(raw); err != nil || got != id {
			return zero, 0, fmt.Errorf("%w: modify %s/%s: change altered the _id", ErrInvalid, coll, id)
		}
		version, err = e.Replace(ctx, coll, version, raw)
		if err == nil {
			return v, version, nil
		}
		if !errors.Is(err, ErrVersion) {
			return zero, 0, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return zero, 0, fmt.Errorf("modify %s/%s: %w", coll, id, err)
		}
	}
}

// backoff waits a little after a lost race, more after many, so that
// writers that keep colliding spread out instead of spinning.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return ctx.Err()
	}
	limit := time.Duration(min(attempt, 10)) * time.Millisecond
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
