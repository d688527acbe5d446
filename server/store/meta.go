package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Flag reports whether the one-off step named key has been recorded done.
func (db *DB) Flag(ctx context.Context, key string) (bool, error) {
	n, err := db.C(colMeta).CountDocuments(ctx, bson.D{{Key: "_id", Value: key}}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("read flag %s: %w", key, err)
	}
	return n > 0, nil
}

// SetFlag records the one-off step named key as done.
func (db *DB) SetFlag(ctx context.Context, key string, now time.Time) error {
	_, err := db.C(colMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "doneAt", Value: now.UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("set flag %s: %w", key, err)
	}
	return nil
}
