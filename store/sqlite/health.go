package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"fieldsync/store/doc"
)

// The file's header says it is a fieldsync store, and of which format, so
// that another program's database, or one written by a newer fieldsync,
// is refused rather than misread.
const (
	applicationID = 0x66737963 // "fsyc"
	formatVersion = 1
)

func (db *DB) checkFormat(ctx context.Context) error {
	var app, version, objects int64
	err := db.w.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&app)
	if err == nil {
		err = db.w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version)
	}
	if err == nil {
		err = db.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&objects)
	}
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	switch {
	case app == 0 && objects == 0: // a new file
		_, err := db.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d; PRAGMA user_version = %d`, applicationID, formatVersion))
		if err != nil {
			return fmt.Errorf("sqlite: initialise %s: %w", db.path, err)
		}
	case app != applicationID:
		return fmt.Errorf("sqlite: %s is not a fieldsync store (application id %#x)", db.path, app)
	case version > formatVersion:
		return fmt.Errorf("sqlite: %s was written by a newer fieldsync (format %d; this one reads %d)", db.path, version, formatVersion)
	}
	return nil
}

// checkIntegrity reads every page of the file (PRAGMA quick_check: the
// structure of every b-tree, without cross-checking indexes against
// tables, so it costs one sequential read of the file). A damaged page is
// refused at start rather than met by a request later.
func (db *DB) checkIntegrity(ctx context.Context) error {
	start := time.Now()
	rows, err := db.w.QueryContext(ctx, `PRAGMA quick_check(20)`)
	if err != nil {
		return fmt.Errorf("sqlite: integrity check of %s: %w", db.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("sqlite: integrity check of %s: %w", db.path, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: integrity check of %s: %w", db.path, err)
	}
	if len(problems) > 5 {
		problems = append(problems[:5], "...")
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: %s is damaged; restore it from a backup (integrity check: %s)", db.path, strings.Join(problems, "; "))
	}
	db.log.Info("store integrity checked", "file", db.path, "ms", time.Since(start).Milliseconds())
	return nil
}

// Health reports whether the store can serve: it fails once any operation
// has met a damaged page, and otherwise does a real read.
func (db *DB) Health(ctx context.Context) error {
	if err := db.corrupt.Load(); err != nil {
		return fmt.Errorf("sqlite: store damaged: %w", *err)
	}
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		return db.fail(fmt.Errorf("sqlite: health read: %w", err))
	}
	return nil
}

// fail maps a driver error to the engine's errors and remembers damage
// for Health.
func (db *DB) fail(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", doc.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY: // another process held the file past busy_timeout
		return fmt.Errorf("%w: %w", doc.ErrUnavailable, err)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		if db.corrupt.CompareAndSwap(nil, &err) {
			db.log.Error("store damaged: restore it from a backup", "file", db.path, "err", err)
		}
	case sqlite3.SQLITE_CONSTRAINT:
		if c := se.Code(); c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
			return fmt.Errorf("%w: %v", doc.ErrDuplicate, err)
		}
	}
	return err
}

// Backup writes a consistent copy of the store, while it serves, to a new
// file at path (VACUUM INTO: compact, and readable as a store of its own
// once named fieldsync.db in a data directory). The copy is written beside
// its destination and renamed into place once synced, so path never holds
// half a backup. Customers' sealed fields need the data key to be read:
// back it up too, apart from the copy.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists", path)
	}
	tmp := path + ".partial"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	start := time.Now()
	// Readers are query_only, which refuses VACUUM INTO, and the writer
	// must stay free for writes: the copy gets a connection of its own,
	// which only reads the store.
	conn, err := sql.Open("sqlite", dsn(db.path, false))
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return db.fail(fmt.Errorf("sqlite: backup to %s: %w", path, err))
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	db.log.Info("store backed up", "to", path, "ms", time.Since(start).Milliseconds())
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
