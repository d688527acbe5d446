package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

// table is a declared collection: its table, key columns, and prepared
// statements (writes on the writer connection, reads on the readers).
type table struct {
	coll   doc.Collection
	name   string   // quoted
	fields []string // coll.Fields(), one key column each

	insert, replace, remove, removeIf, version *sql.Stmt
	get, getMany                               *sql.Stmt
	scans                                      sync.Map // SQL text -> *sql.Stmt
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

const keyPrefix = "k:"

// column is the column holding an indexed field.
func column(field string) string {
	if field == "_id" {
		return "id"
	}
	return quote(keyPrefix + field)
}

// indexSQL is the SQLite index serving ix. A non-unique index ends with
// id, so ties are ordered as on MongoDB and a cursor resumes exactly.
func indexSQL(c doc.Collection, ix doc.Index) (name, stmt string) {
	name = c.Name + ":" + ix.Name
	cols := make([]string, len(ix.Order()))
	for i, f := range ix.Order() {
		cols[i] = column(f)
	}
	unique := ""
	if ix.Unique {
		unique = "UNIQUE "
	}
	return name, fmt.Sprintf("CREATE %sINDEX %s ON %s (%s)", unique, quote(name), quote(c.Name), strings.Join(cols, ", "))
}

// declare brings the collection's table up to its declaration in one
// transaction: key columns added (and filled from the stored documents)
// or dropped, indexes created, or dropped when no longer declared or
// declared differently. One process owns the file, so nothing else can be
// using what is dropped.
func (db *DB) declare(ctx context.Context, c doc.Collection) (*table, error) {
	t := &table{coll: c, name: quote(c.Name), fields: c.Fields()}
	if err := db.migrate(ctx, t); err != nil {
		return nil, fmt.Errorf("sqlite: declare %s: %w", c.Name, err)
	}
	if err := db.prepare(ctx, t); err != nil {
		return nil, fmt.Errorf("sqlite: declare %s: %w", c.Name, err)
	}
	return t, nil
}

func (db *DB) migrate(ctx context.Context, t *table) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.fail(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t.name+` (id TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL, doc BLOB NOT NULL)`); err != nil {
		return db.fail(err)
	}
	want := map[string]string{}
	for _, ix := range t.coll.Indexes {
		name, stmt := indexSQL(t.coll, ix)
		want[name] = stmt
	}
	have, err := pairs(ctx, tx, `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, t.coll.Name)
	if err != nil {
		return db.fail(err)
	}
	for name, stmt := range have {
		if want[name] == stmt {
			delete(want, name)
			continue
		}
		db.log.Info("store index dropped", "collection", t.coll.Name, "index", name)
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+quote(name)); err != nil {
			return db.fail(err)
		}
	}
	cols, err := pairs(ctx, tx, `SELECT name, type FROM pragma_table_info(?) WHERE name LIKE 'k:%'`, t.coll.Name)
	if err != nil {
		return db.fail(err)
	}
	added := false
	for _, f := range t.fields {
		if _, ok := cols[keyPrefix+f]; ok {
			delete(cols, keyPrefix+f)
			continue
		}
		// No type: values keep their own (TEXT, INTEGER, REAL), so the
		// column orders like the index on MongoDB.
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+t.name+` ADD COLUMN `+column(f)); err != nil {
			return db.fail(err)
		}
		added = true
	}
	for name := range cols {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+t.name+` DROP COLUMN `+quote(name)); err != nil {
			return db.fail(err)
		}
	}
	if added {
		if err := db.backfill(ctx, tx, t); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, want[name]); err != nil {
			return db.fail(fmt.Errorf("create index %s: %w", name, err))
		}
	}
	return db.fail(tx.Commit())
}

// backfill fills the key columns of documents stored before their index
// was declared. A document without an indexed field stops the start: the
// data must be migrated before the index is declared.
func (db *DB) backfill(ctx context.Context, tx *sql.Tx, t *table) error {
	set := make([]string, len(t.fields))
	for i, f := range t.fields {
		set[i] = column(f) + " = ?"
	}
	update := `UPDATE ` + t.name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
	after, n := "", 0
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, doc FROM `+t.name+` WHERE id > ? ORDER BY id LIMIT 500`, after)
		if err != nil {
			return db.fail(err)
		}
		var docs []bson.Raw
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&after, &raw); err != nil {
				rows.Close()
				return db.fail(err)
			}
			docs = append(docs, raw)
		}
		if err := rows.Close(); err != nil {
			return db.fail(err)
		}
		if len(docs) == 0 {
			break
		}
		for _, raw := range docs {
			id, keys, err := t.coll.Keys(raw)
			if err != nil {
				return fmt.Errorf("fill index columns: %w", err)
			}
			args := append(sqlValues(keys), id)
			if _, err := tx.ExecContext(ctx, update, args...); err != nil {
				return db.fail(err)
			}
		}
		n += len(docs)
	}
	if n > 0 {
		db.log.Info("store index columns filled", "collection", t.coll.Name, "documents", n)
	}
	return nil
}

// pairs reads a two-column query into a map.
func pairs(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

func (db *DB) prepare(ctx context.Context, t *table) error {
	cols, marks, set := []string{"id", "v", "doc"}, []string{"?", "1", "?"}, []string{"v = v + 1", "doc = ?"}
	for _, f := range t.fields {
		cols = append(cols, column(f))
		marks = append(marks, "?")
		set = append(set, column(f)+" = ?")
	}
	stmts := []struct {
		s     **sql.Stmt
		on    *sql.DB
		query string
	}{
		{&t.insert, db.w, `INSERT INTO ` + t.name + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`},
		{&t.replace, db.w, `UPDATE ` + t.name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ? AND v = ?`},
		{&t.remove, db.w, `DELETE FROM ` + t.name + ` WHERE id = ?`},
		{&t.removeIf, db.w, `DELETE FROM ` + t.name + ` WHERE id = ? AND v = ?`},
		{&t.get, db.r, `SELECT v, doc FROM ` + t.name + ` WHERE id = ?`},
		{&t.getMany, db.r, `SELECT id, v, doc FROM ` + t.name + ` WHERE id IN (SELECT value FROM json_each(?))`},
		{&t.version, db.w, `SELECT v FROM ` + t.name + ` WHERE id = ?`},
	}
	for _, s := range stmts {
		var err error
		if *s.s, err = s.on.PrepareContext(ctx, s.query); err != nil {
			return db.fail(fmt.Errorf("prepare %q: %w", s.query, err))
		}
	}
	return nil
}

// sqlValues are the values of key columns: each BSON scalar as the SQLite
// value that orders as MongoDB orders it within its type (strings by
// bytes, numbers by value, false before true, times by milliseconds).
func sqlValues(keys []bson.RawValue) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = sqlValue(k)
	}
	return out
}

func sqlValue(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeBoolean:
		if v.Boolean() {
			return int64(1)
		}
		return int64(0)
	case bson.TypeDateTime:
		return v.DateTime()
	}
	panic(fmt.Sprintf("sqlite: key of type %s", v.Type)) // doc.Field lets no other through
}
