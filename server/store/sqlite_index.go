package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"

	_ "modernc.org/sqlite" // the driver FerretDB itself uses
)

// FerretDB v1.24's SQLite backend indexes _id on the expression
// _ferretdb_sjson->"_id" but looks documents up by _ferretdb_sjson->'$._id'.
// SQLite sees two different expressions, so every lookup by _id scans the
// whole table and parses each document's JSON: a point read costs O(n).
// fixIDIndexes adds an index on the expression FerretDB queries with, for
// each collection of the database, through a second connection to the same
// SQLite file (WAL mode allows it). FerretDB does not list the index, and
// dropping a collection drops its table with the index.
func (db *DB) fixIDIndexes(ctx context.Context) error {
	if !db.embedded || db.dataDir == "" {
		return nil
	}
	path := filepath.Join(db.dataDir, db.DB.Name()+".sqlite")
	if _, err := os.Stat(path); err != nil {
		return nil // no collection yet
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open store file: %w", err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list store tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fmt.Errorf("list store tables: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		if strings.ContainsAny(t, `"`) {
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s__id_lookup" ON "%s" (_ferretdb_sjson->'$._id')`, t, t)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index _id of %s: %w", t, err)
		}
	}
	return nil
}

// EnsureCollections creates the named collections if they do not exist
// and, on the embedded store, gives them the working _id index.
func (db *DB) EnsureCollections(ctx context.Context, names ...string) error {
	for _, n := range names {
		if err := db.createCollection(ctx, n); err != nil {
			return err
		}
	}
	return db.fixIDIndexes(ctx)
}

func (db *DB) createCollection(ctx context.Context, name string) error {
	err := db.DB.CreateCollection(ctx, name)
	var ce mongo.CommandError
	if err != nil && !(asCommandError(err, &ce) && ce.Code == 48) { // NamespaceExists
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	return nil
}

func asCommandError(err error, ce *mongo.CommandError) bool {
	switch x := err.(type) {
	case mongo.CommandError:
		*ce = x
		return true
	case *mongo.CommandError:
		*ce = *x
		return true
	}
	return false
}

// IDLookupPlans reports, per table of the embedded store, SQLite's plan
// for the query FerretDB runs to find a document by _id.
func (db *DB) IDLookupPlans(ctx context.Context) (map[string]string, error) {
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(db.dataDir, db.DB.Name()+".sqlite")+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	out := map[string]string{}
	for _, t := range tables {
		var id, parent, notused int
		var detail string
		q := fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "%s" WHERE _ferretdb_sjson->'$._id' = ?`, t)
		if err := conn.QueryRowContext(ctx, q, `"x"`).Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		out[t] = detail
	}
	return out, nil
}
