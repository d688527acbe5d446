package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

const ()

func init() {
	Register(Migration{2, "office", func(ctx context.Context, db *DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{})
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
