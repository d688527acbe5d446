package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

// Insert implements doc.Engine.
func (db *DB) Insert(ctx context.Context, coll string, d bson.Raw) (int64, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return 0, err
	}
	return db.write(ctx, nil, doc.Write{Op: doc.OpInsert, Coll: coll, Doc: d})
}

// Replace implements doc.Engine.
func (db *DB) Replace(ctx context.Context, coll string, version int64, d bson.Raw) (int64, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return 0, err
	}
	return db.write(ctx, nil, doc.Write{Op: doc.OpReplace, Coll: coll, Doc: d, Version: version})
}

// Delete implements doc.Engine.
func (db *DB) Delete(ctx context.Context, coll, id string, version int64) error {
	ctx, err := steady(ctx)
	if err != nil {
		return err
	}
	_, err = db.write(ctx, nil, doc.Write{Op: doc.OpDelete, Coll: coll, ID: id, Version: version})
	return err
}

// Apply implements doc.Engine: the writes are one transaction.
func (db *DB) Apply(ctx context.Context, writes []doc.Write) ([]int64, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, db.fail(fmt.Errorf("sqlite: begin batch: %w", err))
	}
	defer tx.Rollback()
	versions := make([]int64, len(writes))
	for i, w := range writes {
		if versions[i], err = db.write(ctx, tx, w); err != nil {
			return nil, &doc.BatchError{Index: i, Op: w.Op, Coll: w.Coll, Err: err}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, db.fail(fmt.Errorf("sqlite: commit batch: %w", err))
	}
	return versions, nil
}

// write runs one write, alone or in tx. Each is one statement, so a
// conditional write is atomic: SQLite runs one writer at a time.
func (db *DB) write(ctx context.Context, tx *sql.Tx, w doc.Write) (int64, error) {
	t, err := db.table(w.Coll)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", w.Op, err)
	}
	id, version, err := db.exec(ctx, tx, t, w)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s %s/%s: %w", w.Op, w.Coll, id, err)
	}
	return version, nil
}

func (db *DB) exec(ctx context.Context, tx *sql.Tx, t *table, w doc.Write) (id string, version int64, err error) {
	stmt := func(s *sql.Stmt) *sql.Stmt {
		if tx == nil {
			return s
		}
		return tx.StmtContext(ctx, s)
	}
	if w.Op == doc.OpDelete {
		s, args := t.remove, []any{w.ID}
		if w.Version != 0 {
			s, args = t.removeIf, append(args, w.Version)
		}
		res, err := stmt(s).ExecContext(ctx, args...)
		return w.ID, 0, db.changed(ctx, tx, t, res, err, w.ID)
	}
	id, keys, err := t.coll.Keys(w.Doc)
	if err != nil {
		return "", 0, err
	}
	switch w.Op {
	case doc.OpInsert:
		args := append([]any{id, []byte(w.Doc)}, sqlValues(keys)...)
		if _, err := stmt(t.insert).ExecContext(ctx, args...); err != nil {
			return id, 0, db.fail(err)
		}
		return id, 1, nil
	case doc.OpReplace:
		if w.Version < 1 {
			return id, 0, fmt.Errorf("%w: replace needs the stored version", doc.ErrInvalid)
		}
		args := append(append([]any{[]byte(w.Doc)}, sqlValues(keys)...), id, w.Version)
		res, err := stmt(t.replace).ExecContext(ctx, args...)
		return id, w.Version + 1, db.changed(ctx, tx, t, res, err, id)
	}
	return id, 0, fmt.Errorf("%w: write op %s", doc.ErrInvalid, w.Op)
}

// changed tells a conditional write that changed nothing apart: the
// document is missing, or has another version.
func (db *DB) changed(ctx context.Context, tx *sql.Tx, t *table, res sql.Result, err error, id string) error {
	if err != nil {
		return db.fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return db.fail(err)
	}
	if n == 1 {
		return nil
	}
	// On the writer: inside a batch, a reader would not see its writes.
	q := t.version
	if tx != nil {
		q = tx.StmtContext(ctx, q)
	}
	var v int64
	switch err := q.QueryRowContext(ctx, id).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		return doc.ErrNotFound
	case err != nil:
		return db.fail(err)
	}
	return fmt.Errorf("%w: stored version is %d", doc.ErrVersion, v)
}

// steady is ctx without its cancellation, or, if ctx is done already,
// ErrUnavailable. A context cancelled while a statement runs makes the
// driver call sqlite3_interrupt, which can land while a statement stays
// active and leave the pooled connection wedged: every later statement
// on it fails "interrupted" or reads an old snapshot (a version conflict
// that never clears). Each call is short and bounded by busy_timeout, so
// the engine checks the context once, before it starts, and then runs to
// the end.
func steady(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", doc.ErrUnavailable, err)
	}
	return context.WithoutCancel(ctx), nil
}
