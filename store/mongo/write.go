package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/store/doc"
)

// Insert implements doc.Engine.
func (db *DB) Insert(ctx context.Context, coll string, d bson.Raw) (int64, error) {
	w := doc.Write{Op: doc.OpInsert, Coll: coll, Doc: d}
	c, id, err := db.check(w)
	if err == nil {
		_, err = c.c.InsertOne(ctx, withVersion(d, 1))
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: insert %s/%s: %w", coll, id, mapErr(err))
	}
	return 1, nil
}

// Replace implements doc.Engine.
func (db *DB) Replace(ctx context.Context, coll string, version int64, d bson.Raw) (int64, error) {
	w := doc.Write{Op: doc.OpReplace, Coll: coll, Doc: d, Version: version}
	c, id, err := db.check(w)
	if err == nil {
		err = db.replace(ctx, c, id, w)
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: replace %s/%s: %w", coll, id, err)
	}
	return version + 1, nil
}

// Delete implements doc.Engine.
func (db *DB) Delete(ctx context.Context, coll, id string, version int64) error {
	c, _, err := db.check(doc.Write{Op: doc.OpDelete, Coll: coll, ID: id, Version: version})
	if err == nil {
		err = db.delete(ctx, c, id, version)
	}
	if err != nil {
		return fmt.Errorf("mongo: delete %s/%s: %w", coll, id, err)
	}
	return nil
}

func (db *DB) replace(ctx context.Context, c *collection, id string, w doc.Write) error {
	res, err := c.c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: doc.VersionField, Value: w.Version}}, withVersion(w.Doc, w.Version+1))
	if err != nil {
		return mapErr(err)
	}
	if res.MatchedCount == 0 {
		return db.why(ctx, c, id)
	}
	return nil
}

func (db *DB) delete(ctx context.Context, c *collection, id string, version int64) error {
	filter := bson.D{{Key: "_id", Value: id}}
	if version != 0 {
		filter = append(filter, bson.E{Key: doc.VersionField, Value: version})
	}
	res, err := c.c.DeleteOne(ctx, filter)
	if err != nil {
		return mapErr(err)
	}
	if res.DeletedCount == 0 {
		return db.why(ctx, c, id)
	}
	return nil
}

// why tells a conditional write that matched nothing apart: the document
// is missing, or has another version. (It may have changed again since;
// either answer was true at some point after the write was asked.)
func (db *DB) why(ctx context.Context, c *collection, id string) error {
	var v struct {
		Version int64 `bson:"_v"`
	}
	err := c.c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: doc.VersionField, Value: 1}})).Decode(&v)
	switch {
	case errors.Is(err, driver.ErrNoDocuments):
		return doc.ErrNotFound
	case err != nil:
		return mapErr(err)
	}
	return fmt.Errorf("%w: stored version is %d", doc.ErrVersion, v.Version)
}

// check finds the write's collection and checks its document.
func (db *DB) check(w doc.Write) (*collection, string, error) {
	c, err := db.coll(w.Coll)
	if err != nil {
		return nil, w.ID, err
	}
	if w.Op == doc.OpDelete {
		return c, w.ID, nil
	}
	id, _, err := c.decl.Keys(w.Doc)
	if err != nil {
		return nil, id, err
	}
	if w.Op == doc.OpReplace && w.Version < 1 {
		return nil, id, fmt.Errorf("%w: replace needs the stored version", doc.ErrInvalid)
	}
	if w.Op != doc.OpInsert && w.Op != doc.OpReplace {
		return nil, id, fmt.Errorf("%w: write op %s", doc.ErrInvalid, w.Op)
	}
	return c, id, nil
}

// Apply implements doc.Engine as ordered writes, not a transaction: a
// batch that fails leaves the writes before the failed one in place.
// Every document is checked before anything is sent. Consecutive inserts
// into one collection go as one ordered InsertMany; replaces and deletes
// go one by one, since each is conditional and must say why it failed.
func (db *DB) Apply(ctx context.Context, writes []doc.Write) ([]int64, error) {
	colls := make([]*collection, len(writes))
	ids := make([]string, len(writes))
	for i, w := range writes {
		var err error
		if colls[i], ids[i], err = db.check(w); err != nil {
			return nil, &doc.BatchError{Index: i, Op: w.Op, Coll: w.Coll, Err: fmt.Errorf("mongo: %s %s/%s: %w", w.Op, w.Coll, ids[i], err)}
		}
	}
	versions := make([]int64, len(writes))
	for i := 0; i < len(writes); {
		w, c := writes[i], colls[i]
		fail := func(at int, err error) error {
			return &doc.BatchError{Index: at, Op: writes[at].Op, Coll: writes[at].Coll, Err: fmt.Errorf("mongo: %s %s/%s: %w", writes[at].Op, writes[at].Coll, ids[at], err)}
		}
		switch w.Op {
		case doc.OpInsert:
			j := i
			var docs []any
			for ; j < len(writes) && writes[j].Op == doc.OpInsert && writes[j].Coll == w.Coll; j++ {
				docs = append(docs, withVersion(writes[j].Doc, 1))
				versions[j] = 1
			}
			if _, err := c.c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
				at := i
				var bwe driver.BulkWriteException
				if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
					at = i + bwe.WriteErrors[0].Index
				}
				return nil, fail(at, mapErr(err))
			}
			i = j
			continue
		case doc.OpReplace:
			if err := db.replace(ctx, c, ids[i], w); err != nil {
				return nil, fail(i, err)
			}
			versions[i] = w.Version + 1
		case doc.OpDelete:
			if err := db.delete(ctx, c, w.ID, w.Version); err != nil {
				return nil, fail(i, err)
			}
		}
		i++
	}
	return versions, nil
}
