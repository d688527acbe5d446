package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Migration is one versioned, idempotent change to the store's shape.
// Versions only grow; a released migration is never edited, only followed.
type Migration struct {
	Version int
	Name    string
	Up      func(ctx context.Context, db *DB) error
}

// Migrations is the ordered list the server applies at start. Other
// packages (sync, push) append theirs through Register before Migrate runs.
var migrations = []Migration{
	{1, "accounts", func(ctx context.Context, db *DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colMeta: nil,
		})
	}},
}

// Register adds migrations owned by another package. It panics on a
// version that is already taken, which is a programming error.
func Register(ms ...Migration) {
	for _, m := range ms {
		for _, x := range migrations {
			if x.Version == m.Version {
				panic(fmt.Sprintf("store: migration version %d registered twice (%s, %s)", m.Version, x.Name, m.Name))
			}
		}
		migrations = append(migrations, m)
	}
}

type migrationRecord struct {
	Version   int       `bson:"_id"`
	Name      string    `bson:"name"`
	AppliedAt time.Time `bson:"appliedAt"`
}

// Migrate applies, in version order, every migration not yet recorded, and
// returns the names of those it ran. Migrations are idempotent, so two
// instances starting at once may both run one; the record's unique _id
// keeps a single entry.
func (db *DB) Migrate(ctx context.Context, now time.Time) ([]string, error) {
	col := db.C(colMigrations)
	cur, err := col.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var done []migrationRecord
	if err := cur.All(ctx, &done); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	applied := make(map[int]bool, len(done))
	for _, r := range done {
		applied[r.Version] = true
	}
	ordered := append([]Migration(nil), migrations...)
	slices.SortFunc(ordered, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	var ran []string
	for _, m := range ordered {
		if applied[m.Version] {
			continue
		}
		if err := m.Up(ctx, db); err != nil {
			return ran, fmt.Errorf("migration %d %s: %w", m.Version, m.Name, err)
		}
		_, err := col.InsertOne(ctx, migrationRecord{Version: m.Version, Name: m.Name, AppliedAt: now.UTC()})
		if err != nil && !isDup(err) {
			return ran, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		ran = append(ran, fmt.Sprintf("%d_%s", m.Version, m.Name))
		db.log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	// Every start, not a migration: collections appear over time.
	if err := db.fixIDIndexes(ctx); err != nil {
		return ran, err
	}
	return ran, nil
}

// AppliedMigrations lists the recorded migrations, oldest first.
func (db *DB) AppliedMigrations(ctx context.Context) ([]migrationRecord, error) {
	cur, err := db.C(colMigrations).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migrationRecord
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	return out, nil
}

// CreateIndexes creates the indexes of several collections. CreateMany is
// idempotent for an index that already exists with the same options.
//
// On the embedded store only unique indexes are made: FerretDB v1's SQLite
// backend uses no index but _id's to answer a query (it pushes down only
// {_id: x}), while every index is an expression recomputed over the whole
// document on each write. fieldsync's hot paths therefore read by _id, and
// the other indexes serve MongoDB deployments.
func (db *DB) CreateIndexes(ctx context.Context, byCol map[string][]mongo.IndexModel) error {
	for col, models := range byCol {
		if err := db.createCollection(ctx, col); err != nil {
			return err
		}
		if db.embedded {
			var unique []mongo.IndexModel
			for _, m := range models {
				if m.Options != nil && isUnique(m.Options) {
					unique = append(unique, m)
				}
			}
			models = unique
		}
		if len(models) == 0 {
			continue
		}
		if _, err := db.DB.Collection(col).Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("indexes of %s: %w", col, err)
		}
	}
	return nil
}

func isUnique(o *options.IndexOptionsBuilder) bool {
	var args options.IndexOptions
	for _, set := range o.List() {
		_ = set(&args)
	}
	return args.Unique != nil && *args.Unique
}
