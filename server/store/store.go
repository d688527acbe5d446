// Package store opens fieldsync's MongoDB-compatible store (a MongoDB
// deployment, or FerretDB embedded in-process over SQLite), keeps its indexes
// current through versioned migrations, for the aggregates not yet moved
// to fieldsync/store.
//
// Everything here uses single-document atomic operations and unique indexes
// only: FerretDB has no transactions, and the same code must run on MongoDB
// replica sets and sharded clusters.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	fstore "fieldsync/store"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Options says which store to open.
type Options struct {
	URI     string // a MongoDB URI; empty starts the embedded FerretDB
	DBName  string // database name
	DataDir string // where the embedded store keeps its files
	Logger  *slog.Logger
	Debug   bool          // let the embedded FerretDB log at debug level
	Slow    time.Duration // log store commands slower than this (0: off)
	// Now is the clock of every time the store stamps by itself; the
	// program passes its one injected clock (nil: the wall clock).
	Now func() time.Time
}

// DB is an open store.
type DB struct {
	Client *mongo.Client
	DB     *mongo.Database
	// Docs is the new store (fieldsync/store), where the aggregates
	// already moved off this one live.
	Docs    *fstore.Store
	ownDocs bool
	Now     func() time.Time // the injected clock (Options.Now); tests may set it before use

	log      *slog.Logger
	view     bool // shares another DB's client; Close leaves it open
	locks    *collLocks
	cipher   *Cipher
	embedded bool
	dataDir  string // the embedded store's SQLite folder
	socket   string // the embedded store's Unix socket
	stopFerr context.CancelFunc
	ferrDone chan struct{}
	unlock   func()
}

// Open connects to opts.URI, or starts the embedded FerretDB under
// opts.DataDir and connects to it over a Unix socket.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	db := &DB{Now: now, log: log, locks: &collLocks{sems: map[string]chan struct{}{}}}
	uri := opts.URI
	if uri == "" {
		var err error
		if uri, err = db.startEmbedded(opts); err != nil {
			return nil, err
		}
	}
	copts := options.Client().
		ApplyURI(uri).
		SetAppName("fieldsync").
		SetServerSelectionTimeout(10 * time.Second)
	if opts.Slow > 0 {
		copts.SetMonitor(slowCommands(log, opts.Slow))
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		db.stopEmbedded()
		return nil, fmt.Errorf("connect to store: %w", err)
	}
	db.Client = client
	db.DB = client.Database(opts.DBName)
	if err := db.Ping(ctx); err != nil {
		_ = db.Close(context.Background())
		return nil, fmt.Errorf("ping store: %w", err)
	}
	// During the move to the new store, the aggregates already moved live
	// there: in a file of its own beside FerretDB's, or in the same
	// MongoDB database (the moved collections are no longer used here).
	docs, err := fstore.Open(ctx, fstore.Options{
		URI: opts.URI, DBName: opts.DBName, DataDir: filepath.Join(opts.DataDir, "next"), Logger: log,
		Now: func() time.Time { return db.Now() },
	})
	if err != nil {
		_ = db.Close(context.Background())
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.Docs, db.ownDocs = docs, true
	return db, nil
}

func (db *DB) startEmbedded(opts Options) (string, error) {
	dir, err := filepath.Abs(filepath.Join(opts.DataDir, "ferretdb"))
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	// Two processes writing the same SQLite files would corrupt them.
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	// FerretDB logs every failed command at WARN with a full wire dump;
	// the app reports its own errors, so keep FerretDB quiet unless asked.
	level := slog.LevelError + 4
	var w io.Writer = io.Discard
	if opts.Debug {
		level, w = slog.LevelDebug, os.Stderr
	}
	flog := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("component", "ferretdb")
	sock, removeSock, err := socketPath(opts.DataDir)
	if err != nil {
		unlock()
		return "", err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		// No TCP: see socket.go.
		Listener: ferretdb.ListenerConfig{Unix: sock},
		Handler:  "sqlite",
		// A 64 MiB page cache per connection instead of 2 MiB keeps point
		// reads off the disk as the store grows. Durability settings stay
		// FerretDB's (WAL, synchronous FULL): an acknowledged operation
		// survives a power cut.
		SQLiteURL: "file:" + dir + "/?_pragma=cache_size(-65536)",
		Logger:    flog,
	})
	if err != nil {
		removeSock()
		unlock()
		return "", fmt.Errorf("start embedded store: %w", err)
	}
	// The socket exists once New returns; its directory kept everyone
	// else out until now.
	if err := os.Chmod(sock, 0o600); err != nil {
		removeSock()
		unlock()
		return "", fmt.Errorf("store socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	db.embedded, db.dataDir, db.stopFerr, db.ferrDone, db.socket = true, dir, cancel, done, sock
	db.unlock = func() { removeSock(); unlock() }
	db.log.Info("embedded store started", "dir", dir)
	return socketURI(sock), nil
}

// Socket is the Unix socket the embedded store listens on ("" on MongoDB).
func (db *DB) Socket() string { return db.socket }

func (db *DB) stopEmbedded() {
	if db.stopFerr == nil {
		return
	}
	db.stopFerr()
	<-db.ferrDone
	db.unlock()
	db.stopFerr = nil
}

// Database returns a view of the same store on another database, sharing
// the client. Tests use it to give each test a database of its own.
func (db *DB) Database(name string) *DB {
	var docs *fstore.Store
	if name == db.DB.Name() { // another instance on the same data
		docs = db.Docs
	}
	return &DB{Docs: docs, Client: db.Client, DB: db.Client.Database(name), Now: db.Now, log: db.log, view: true, embedded: db.embedded, dataDir: db.dataDir, socket: db.socket, locks: db.locks, cipher: db.cipher}
}

// Embedded reports whether the store is the in-process FerretDB.
func (db *DB) Embedded() bool { return db.embedded }

// Ping checks that the store answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.Client.Ping(ctx, readpref.Primary())
}

// Close disconnects and, for the embedded store, stops FerretDB after the
// driver's connections are gone so it shuts down at once.
func (db *DB) Close(ctx context.Context) error {
	if db.view {
		return nil
	}
	var err error
	if db.Client != nil {
		err = db.Client.Disconnect(ctx)
	}
	if db.ownDocs {
		err = errors.Join(err, db.Docs.Close(ctx))
	}
	db.stopEmbedded()
	if err != nil {
		return fmt.Errorf("disconnect store: %w", err)
	}
	return nil
}

// Collection names, in one place.
const (
	colMigrations = "migrations"
	colMeta       = "meta"
)

func isDup(err error) bool { return mongo.IsDuplicateKeyError(err) }

func isNoDocs(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// Unavailable reports whether err means the store could not be reached or
// did not answer in time, as opposed to refusing the operation.
func Unavailable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || mongo.IsTimeout(err) || mongo.IsNetworkError(err) ||
		errors.Is(err, mongo.ErrClientDisconnected)
}

// IsDuplicate reports whether err is a unique-index violation.
func IsDuplicate(err error) bool { return isDup(err) }

// slowCommands logs store commands slower than limit, with the command's
// first bytes (values of personal fields are sealed, so none show in clear).
func slowCommands(log *slog.Logger, limit time.Duration) *event.CommandMonitor {
	var mu sync.Mutex
	started := map[int64]string{}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			cmd := e.Command.String()
			if len(cmd) > 300 {
				cmd = cmd[:300]
			}
			mu.Lock()
			started[e.RequestID] = cmd
			mu.Unlock()
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			mu.Lock()
			cmd := started[e.RequestID]
			delete(started, e.RequestID)
			mu.Unlock()
			if e.Duration >= limit {
				log.Warn("slow store command", "ms", e.Duration.Milliseconds(), "command", cmd)
			}
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			mu.Lock()
			delete(started, e.RequestID)
			mu.Unlock()
		},
	}
}
