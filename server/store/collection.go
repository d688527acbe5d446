package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is a *mongo.Collection whose updates and deletes are atomic
// per document on both stores.
//
// MongoDB applies each single-document update atomically. FerretDB v1 over
// SQLite does not: it reads the document, applies the update in Go and
// writes it back with no isolation (FerretDB issue #3040), so concurrent
// $inc lose counts and two conditional updates can both "win". The
// embedded store has exactly one writer process (the data dir is locked),
// so there Collection serialises the modifying commands of a collection
// in-process; SQLite serialises writers anyway, so little is lost. Reads and
// inserts pass straight through: unique indexes are enforced by SQLite.
//
// Code outside this file must reach modifying commands through Collection,
// never through a raw *mongo.Collection; TestNoRawUpdates enforces it.
type Collection struct {
	*mongo.Collection
	sem chan struct{} // nil: no serialisation needed (MongoDB)
}

type collLocks struct {
	mu   sync.Mutex
	sems map[string]chan struct{}
}

func (l *collLocks) get(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sems[key]
	if !ok {
		s = make(chan struct{}, 1)
		l.sems[key] = s
	}
	return s
}

// C returns the named collection of this database.
func (db *DB) C(name string) *Collection {
	c := &Collection{Collection: db.DB.Collection(name)}
	if db.embedded {
		c.sem = db.locks.get(db.DB.Name() + "." + name)
	}
	return c
}

func (c *Collection) lock(ctx context.Context) (func(), error) {
	if c.sem == nil {
		return func() {}, nil
	}
	select {
	case c.sem <- struct{}{}:
		return func() { <-c.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for %s: %w", c.Name(), ctx.Err())
	}
}

// UpdateOne is mongo's UpdateOne, atomic on the embedded store too.
func (c *Collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.UpdateOne(ctx, filter, update, opts...)
}

// UpdateMany is mongo's UpdateMany, serialised on the embedded store.
func (c *Collection) UpdateMany(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateManyOptions]) (*mongo.UpdateResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.UpdateMany(ctx, filter, update, opts...)
}

// ReplaceOne is mongo's ReplaceOne, atomic on the embedded store too.
func (c *Collection) ReplaceOne(ctx context.Context, filter, repl any, opts ...options.Lister[options.ReplaceOptions]) (*mongo.UpdateResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.ReplaceOne(ctx, filter, repl, opts...)
}

// FindOneAndUpdate is mongo's FindOneAndUpdate, atomic on the embedded store too.
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...options.Lister[options.FindOneAndUpdateOptions]) *mongo.SingleResult {
	unlock, err := c.lock(ctx)
	if err != nil {
		return mongo.NewSingleResultFromDocument(nil, err, nil)
	}
	defer unlock()
	return c.Collection.FindOneAndUpdate(ctx, filter, update, opts...)
}

// FindOneAndDelete is mongo's FindOneAndDelete, atomic on the embedded store too.
func (c *Collection) FindOneAndDelete(ctx context.Context, filter any, opts ...options.Lister[options.FindOneAndDeleteOptions]) *mongo.SingleResult {
	unlock, err := c.lock(ctx)
	if err != nil {
		return mongo.NewSingleResultFromDocument(nil, err, nil)
	}
	defer unlock()
	return c.Collection.FindOneAndDelete(ctx, filter, opts...)
}

// DeleteOne is mongo's DeleteOne, serialised on the embedded store.
func (c *Collection) DeleteOne(ctx context.Context, filter any, opts ...options.Lister[options.DeleteOneOptions]) (*mongo.DeleteResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.DeleteOne(ctx, filter, opts...)
}

// DeleteMany is mongo's DeleteMany, serialised on the embedded store.
func (c *Collection) DeleteMany(ctx context.Context, filter any, opts ...options.Lister[options.DeleteManyOptions]) (*mongo.DeleteResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.DeleteMany(ctx, filter, opts...)
}

// BulkWrite is mongo's BulkWrite, serialised on the embedded store.
func (c *Collection) BulkWrite(ctx context.Context, models []mongo.WriteModel, opts ...options.Lister[options.BulkWriteOptions]) (*mongo.BulkWriteResult, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.Collection.BulkWrite(ctx, models, opts...)
}

// ReplaceIfVersion replaces the document with the id if its version field
// is still version, and reports whether it did. On MongoDB that is one
// conditional replace. FerretDB's SQLite backend pushes down only a filter
// that is exactly {_id: x} and scans the whole collection for anything
// more, so there the version is checked by a point read under the
// collection's lock, then the document replaced by _id.
func (c *Collection) ReplaceIfVersion(ctx context.Context, id string, version int64, doc any) (bool, error) {
	return c.ifVersion(ctx, id, version, func(filter bson.D) (*mongo.UpdateResult, error) {
		return c.Collection.ReplaceOne(ctx, filter, doc)
	})
}

// UpdateIfVersion applies update to the document with the id if its
// version is still version, and reports whether it did (see ReplaceIfVersion).
func (c *Collection) UpdateIfVersion(ctx context.Context, id string, version int64, update any) (bool, error) {
	return c.ifVersion(ctx, id, version, func(filter bson.D) (*mongo.UpdateResult, error) {
		return c.Collection.UpdateOne(ctx, filter, update)
	})
}

func (c *Collection) ifVersion(ctx context.Context, id string, version int64, write func(bson.D) (*mongo.UpdateResult, error)) (bool, error) {
	if c.sem == nil {
		res, err := write(bson.D{{Key: "_id", Value: id}, {Key: "version", Value: version}})
		if err != nil {
			return false, err
		}
		return res.MatchedCount == 1, nil
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	var cur struct {
		Version int64 `bson:"version"`
	}
	err = c.Collection.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if cur.Version != version {
		return false, nil
	}
	res, err := write(bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// Locked runs f holding the collection's lock on the embedded store, with
// the raw collection: a read-then-write f does is then atomic there. On
// MongoDB there is no lock and f must use conditional writes itself;
// embedded tells f which case it is in.
func (c *Collection) Locked(ctx context.Context, f func(raw *mongo.Collection, embedded bool) error) error {
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return f(c.Collection, c.sem != nil)
}
