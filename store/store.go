// Package store is fieldsync's one storage boundary: storage per aggregate
// (accounts and sessions, office records, visits, schedules, the sync log,
// the change log, alerts and cases, devices and the push outbox,
// attachments, audit), written once over the small document-engine
// contract of store/doc, over one of two engines:
//
//   - SQLite used directly (store/sqlite), the embedded default, in one
//     file under the data directory, listening on no port;
//   - MongoDB through mongo-driver v2 (store/mongo), for production on
//     replica sets and sharded clusters.
//
// Nothing outside this package knows which engine runs. Correctness rests
// on atomic conditional writes to one document, ids derived from their
// cause and unique indexes, never on multi-document transactions. Each
// collection has one writer: the aggregate that declares it. Every time the
// store stamps comes from the injected clock.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
	"fieldsync/store/mongo"
	"fieldsync/store/sqlite"
)

// Options says which store to open.
type Options struct {
	URI     string // a MongoDB URI; empty opens the embedded SQLite store
	DBName  string // the MongoDB database
	DataDir string // where the embedded store keeps its file
	Logger  *slog.Logger
	// Now is the clock of every time the store stamps by itself; the
	// program passes its one injected clock (nil: the wall clock).
	Now func() time.Time
	// Cipher seals personal data at rest (nil: a store that refuses to
	// write personal data, for tools that only read other aggregates).
	Cipher *Cipher
	// Slow logs store calls slower than this (0: off).
	Slow time.Duration
	// KeyGenerated says the cipher's key was generated for this open: on
	// a store that already holds data, that is a missing key (ErrDataKey).
	KeyGenerated bool
	// Observer watches every engine call and new alert (nil: none).
	Observer Observer
}

// Store is an open store.
type Store struct {
	engine   doc.Engine
	obs      Observer
	now      func() time.Time
	log      *slog.Logger
	cipher   *Cipher
	embedded bool
	health   func(context.Context) error
	backup   func(context.Context, string) error
	close    func(context.Context) error

	// The aggregates, each the one writer of its collections.
	Meta        *Meta
	Accounts    *Accounts
	Office      *Office
	Visits      *Visits
	Schedules   *Schedules
	SyncLog     *SyncLog
	Changes     *Changes
	Cases       *Cases
	Push        *Push
	SMS         *SMS
	Attachments *Attachments
	Audit       *Audit
	Bookings    *Bookings
}

// collections is every collection of the store, in one explicit list.
func collections() []doc.Collection {
	return slices.Concat(
		metaCollections,
		accountCollections,
		officeCollections,
		visitCollections,
		scheduleCollections,
		syncLogCollections,
		changeCollections,
		caseCollections,
		escalationCollections,
		pushCollections,
		attachmentCollections,
		auditCollections,
		bookingCollections,
		smsCollections,
	)
}

// Open opens the MongoDB deployment at opts.URI, or the embedded store
// under opts.DataDir, declares every collection and its indexes, and runs
// the migrations not yet applied.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{now: now, log: log, cipher: opts.Cipher}
	colls := collections()
	if opts.URI == "" {
		db, err := sqlite.Open(ctx, sqlite.Options{Dir: opts.DataDir, Collections: colls, Logger: log})
		if err != nil {
			return nil, err
		}
		s.engine, s.embedded, s.health, s.backup = db, true, db.Health, db.Backup
		s.close = func(context.Context) error { return db.Close() }
	} else {
		db, err := mongo.Open(ctx, mongo.Options{URI: opts.URI, Database: opts.DBName, Collections: colls, Logger: log})
		if err != nil {
			return nil, err
		}
		s.engine, s.health, s.close = db, db.Health, db.Close
	}
	if opts.Slow > 0 {
		s.engine = slowEngine{e: s.engine, log: log, limit: opts.Slow}
	}
	if opts.Observer != nil {
		s.obs = opts.Observer
		s.engine = observedEngine{e: s.engine, obs: opts.Observer}
	}
	s.Meta = &Meta{s: s}
	s.Accounts = &Accounts{s: s}
	s.Office = &Office{s: s}
	s.Visits = &Visits{s: s}
	s.Schedules = &Schedules{s: s}
	s.SyncLog = &SyncLog{s: s}
	s.Changes = &Changes{s: s}
	s.Cases = &Cases{s: s}
	s.Push = &Push{s: s}
	s.SMS = &SMS{s: s}
	s.Attachments = &Attachments{s: s}
	s.Audit = &Audit{s: s}
	s.Bookings = &Bookings{s: s}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if s.cipher != nil {
		if err := s.CheckDataKey(ctx, opts.KeyGenerated); err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return s, nil
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Embedded reports whether this is the embedded SQLite store.
func (s *Store) Embedded() bool { return s.embedded }

// SetCipher sets the cipher that seals personal data.
func (s *Store) SetCipher(c *Cipher) { s.cipher = c }

// Cipher is the cipher that seals personal data, for records other
// packages seal themselves.
func (s *Store) Cipher() *Cipher { return s.cipher }

// Health reports whether the store can serve: a real read of the
// deployment or the file, failing once a damaged page has been met.
func (s *Store) Health(ctx context.Context) error { return s.health(ctx) }

// Backup writes a consistent copy of the embedded store, while it serves,
// to a new file at path. The copy's personal fields need the data key:
// back that up too, apart from the copy. On MongoDB, back up with the
// deployment's own tools.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.backup == nil {
		return errors.New("store: backup of a MongoDB deployment is the deployment's own (mongodump, snapshots)")
	}
	return s.backup(ctx, path)
}

// Close closes the store.
func (s *Store) Close(ctx context.Context) error { return s.close(ctx) }

// Each calls fn with every stored document of every collection, in id
// order: leak checks and tests read the whole store through it.
func (s *Store) Each(ctx context.Context, fn func(coll string, d bson.Raw) error) error {
	for _, c := range collections() {
		q := doc.Query{Index: doc.ByID, Limit: 500}
		for {
			p, err := s.engine.Scan(ctx, c.Name, q)
			if err != nil {
				return fmt.Errorf("store: read %s: %w", c.Name, err)
			}
			for _, d := range p.Docs {
				if err := fn(c.Name, d.Raw); err != nil {
					return err
				}
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
	}
	return nil
}

// Errors of the store's methods; test with errors.Is.
var (
	ErrNotFound    = doc.ErrNotFound
	ErrDuplicate   = doc.ErrDuplicate
	ErrVersion     = doc.ErrVersion
	ErrCursor      = doc.ErrCursor
	ErrUnavailable = doc.ErrUnavailable
)

// errUnchanged stops a doc.Modify that finds nothing to write: the
// aggregates' change functions return it, and treat it as success.
var errUnchanged = errors.New("unchanged")

// Unavailable reports whether err means the store could not be reached or
// did not answer in time, as opposed to refusing the operation.
func Unavailable(err error) bool {
	return errors.Is(err, doc.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
