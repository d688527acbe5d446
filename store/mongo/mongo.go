// Package mongo is the production document engine: MongoDB through
// mongo-driver v2, on replica sets and sharded clusters. It implements
// doc.Engine with no transactions: the version of each document is its
// field _v, and conditional writes are ReplaceOne and DeleteOne filtered
// on _id and _v, which MongoDB applies atomically to one document.
// Indexes are created from the declarations at open; scans name their
// index (hint), so a missing one fails instead of scanning the collection.
package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"fieldsync/store/doc"
)

// Options says which deployment and database to use, and what it holds.
type Options struct {
	URI         string // mongodb:// or mongodb+srv://; write and read concerns come from it
	Database    string
	Collections []doc.Collection
	Logger      *slog.Logger
}

// DB is an open store.
type DB struct {
	client *driver.Client
	db     *driver.Database
	log    *slog.Logger
	colls  map[string]*collection
}

type collection struct {
	decl doc.Collection
	c    *driver.Collection
}

var _ doc.Engine = (*DB)(nil)

// Open connects, checks that the deployment answers, and creates the
// declared indexes (an existing index of the same name and keys is kept;
// one of the same name and other keys is an error: declare it under a new
// name). Indexes no longer declared are left alone, since instances of the
// previous release may still use them during a rolling deploy.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.Database == "" {
		return nil, errors.New("mongo: no database name")
	}
	client, err := driver.Connect(options.Client().ApplyURI(opts.URI).SetAppName("fieldsync").SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := &DB{client: client, db: client.Database(opts.Database), log: log, colls: map[string]*collection{}}
	if err := db.init(ctx, opts.Collections); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

func (db *DB) init(ctx context.Context, colls []doc.Collection) error {
	if err := db.Health(ctx); err != nil {
		return err
	}
	for _, c := range colls {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
		if _, dup := db.colls[c.Name]; dup {
			return fmt.Errorf("mongo: %w: collection %s declared twice", doc.ErrInvalid, c.Name)
		}
		mc := db.db.Collection(c.Name)
		var models []driver.IndexModel
		have := db.indexes(ctx, mc)
		for _, ix := range c.Indexes {
			keys := bson.D{}
			// A non-unique index ends with _id, so ties are ordered and
			// a cursor resumes inside the index.
			fields := ix.Order()
			for _, f := range fields {
				keys = append(keys, bson.E{Key: f, Value: 1})
			}
			if have.has(ix.Name, keys, ix.Unique) {
				continue
			}
			models = append(models, driver.IndexModel{Keys: keys, Options: options.Index().SetName(ix.Name).SetUnique(ix.Unique)})
		}
		if len(models) > 0 {
			if _, err := mc.Indexes().CreateMany(ctx, models); err != nil {
				return fmt.Errorf("mongo: create indexes of %s: %w", c.Name, mapErr(err))
			}
		}
		db.colls[c.Name] = &collection{decl: c, c: mc}
	}
	return nil
}

// existing are a collection's indexes, to declare only those missing:
// declaring an index that exists is a no-op on MongoDB, but it breaks the
// connection to FerretDB v1, the tests' stand-in, so that a database
// could not be opened twice there. An index of the same name but other
// keys is declared again, for MongoDB to refuse as before.
type existing []driver.IndexSpecification

func (db *DB) indexes(ctx context.Context, mc *driver.Collection) existing {
	specs, err := mc.Indexes().ListSpecifications(ctx)
	if err != nil {
		return nil // none listed: declare them all
	}
	return specs
}

func (e existing) has(name string, keys bson.D, unique bool) bool {
	raw, err := bson.Marshal(keys)
	if err != nil {
		return false
	}
	for _, s := range e {
		if s.Name == name && bytes.Equal(s.KeysDocument, raw) && (s.Unique != nil && *s.Unique) == unique {
			return true
		}
	}
	return false
}

// Name is the database's name.
func (db *DB) Name() string { return db.db.Name() }

// Health pings the primary.
func (db *DB) Health(ctx context.Context) error {
	if err := db.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", mapErr(err))
	}
	return nil
}

// Close disconnects.
func (db *DB) Close(ctx context.Context) error {
	if err := db.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: disconnect: %w", err)
	}
	return nil
}

func (db *DB) coll(name string) (*collection, error) {
	c := db.colls[name]
	if c == nil {
		return nil, fmt.Errorf("%w: collection %q was not declared", doc.ErrInvalid, name)
	}
	return c, nil
}

// mapErr maps the driver's errors to the engine's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case driver.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %v", doc.ErrDuplicate, err)
	case driver.IsTimeout(err) || driver.IsNetworkError(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrClientDisconnected):
		return fmt.Errorf("%w: %w", doc.ErrUnavailable, err)
	}
	return err
}
