// Package sqlite is the embedded document engine: SQLite used directly
// (modernc.org/sqlite, pure Go), in one file DATA_DIR/fieldsync.db. It
// implements doc.Engine and listens on no port.
//
// Each collection is a table of (id, version, BSON document) with one
// column per indexed field, filled from the document in the same
// statement, and real SQLite indexes on those columns. Writes go through
// one connection, so SQLite itself serialises them and a conditional write
// is one atomic statement; reads use a pool of their own connections
// (WAL: readers never wait for the writer). Commits are durable
// (synchronous=FULL): an acknowledged write survives a power cut.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"

	"fieldsync/store/doc"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the store's file under the data directory.
const FileName = "fieldsync.db"

// Options says where the store lives and what it holds.
type Options struct {
	Dir         string // the data directory; created if missing
	Collections []doc.Collection
	Logger      *slog.Logger
	Readers     int // read connections; 0: 2 per CPU, at least 4
}

// DB is an open store.
type DB struct {
	path    string
	log     *slog.Logger
	w       *sql.DB // the one writer connection
	r       *sql.DB // readers
	tables  map[string]*table
	corrupt atomic.Pointer[error] // the first corruption an operation met
}

var _ doc.Engine = (*DB)(nil)

// Open opens or creates the store in opts.Dir, checks the file's
// integrity, and brings each declared collection's table and indexes up to
// date. It refuses a data directory of the FerretDB era and a damaged file.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkDir(opts.Dir); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(filepath.Join(opts.Dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: data dir: %w", err)
	}
	// Created owner-only before SQLite opens it: SQLite gives its WAL and
	// shared-memory files the database file's permissions.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	db := &DB{path: path, log: log, tables: map[string]*table{}}
	if db.w, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	if err := db.init(ctx, opts); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) init(ctx context.Context, opts Options) error {
	// The first statement opens the file, switches it to WAL and checks
	// the header: a file that is not a database fails here.
	if err := db.checkFormat(ctx); err != nil {
		return err
	}
	if err := db.checkIntegrity(ctx); err != nil {
		return err
	}
	n := opts.Readers
	if n <= 0 {
		n = max(4, 2*runtime.NumCPU())
	}
	var err error
	if db.r, err = sql.Open("sqlite", dsn(db.path, true)); err != nil {
		return fmt.Errorf("sqlite: open readers: %w", err)
	}
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(0)
	for _, c := range opts.Collections {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if _, dup := db.tables[c.Name]; dup {
			return fmt.Errorf("sqlite: %w: collection %s declared twice", doc.ErrInvalid, c.Name)
		}
		t, err := db.declare(ctx, c)
		if err != nil {
			return err
		}
		db.tables[c.Name] = t
	}
	return nil
}

// dsn sets every connection up the same way: WAL, durable commits, a
// wait instead of SQLITE_BUSY should another process hold a lock, and a
// 16 MiB page cache per connection (bounded, for the server's memory).
// Write transactions take the write lock at BEGIN, so they never fail
// half way on a lock; readers cannot write.
func dsn(path string, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "cache_size(-16384)")
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_size_limit(67108864)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// checkDir creates the data directory, refusing one of the FerretDB era:
// its data is not read by this engine, and silently starting empty beside
// it would look like data loss.
func checkDir(dir string) error {
	if dir == "" {
		return errors.New("sqlite: no data directory")
	}
	old := filepath.Join(dir, "ferretdb")
	if _, err := os.Stat(old); err == nil {
		return fmt.Errorf("sqlite: data dir %s holds a store of the old format (%s, from the FerretDB era), which this version does not read; "+
			"move that folder away to start with an empty store, or point FIELDSYNC_DATA_DIR at another folder", dir, old)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sqlite: create data dir: %w", err)
	}
	return nil
}

// Path is the store's file.
func (db *DB) Path() string { return db.path }

// Close closes the connections; the last one checkpoints the WAL into the
// main file.
func (db *DB) Close() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

func (db *DB) table(coll string) (*table, error) {
	t := db.tables[coll]
	if t == nil {
		return nil, fmt.Errorf("%w: collection %q was not declared", doc.ErrInvalid, coll)
	}
	return t, nil
}
