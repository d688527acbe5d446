package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"fieldsync/store/doc"
	"fieldsync/store/doctest"
)

// TestScansUseTheirIndex checks SQLite's plan of each shape of scan: it
// searches the declared index (no table scan when something bounds it),
// resumes a cursor inside the index, and never sorts.
func TestScansUseTheirIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Dir: t.TempDir(), Collections: []doc.Collection{doctest.Items}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b doc.Batch
	for i := range 50 {
		b.Insert("items", doctest.Item{ID: fmt.Sprint("i", i), Owner: fmt.Sprint("o", i%3), Login: fmt.Sprint("l", i),
			N: int64(i % 10), Done: i%2 == 0, Meta: doctest.Meta{Kind: "k"}})
	}
	if _, err := b.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	t0 := doctest.Item{}.At
	const next = "next page" // read the second page of the query
	for _, q := range []doc.Query{
		{Index: "owner_at"},
		{Index: "owner_at", Desc: true},
		{Index: "owner_at", Eq: []any{"o1"}},
		{Index: "owner_at", Eq: []any{"o1"}, Range: doc.Range{Gte: t0, Lt: t0}, Desc: true},
		{Index: "owner_at", Range: doc.Range{Gt: "o"}},
		{Index: "login", Eq: []any{"l1"}},
		{Index: "login", Range: doc.Range{Gt: "l"}},
		{Index: "kind_done_n", Eq: []any{"k", true}, Range: doc.Range{Gt: 3}},
		{Index: "kind_done_n", After: next},
		{Index: "kind_done_n", Eq: []any{"k"}, After: next, Desc: true},
		{Index: "kind_done_n", Eq: []any{"k", false}, Range: doc.Range{Gt: 1, Lt: 5}, After: next},
		{Index: "owner_id", Eq: []any{"o2"}, Range: doc.Range{Gt: "i"}},
	} {
		q.Limit = 2
		t.Run(fmt.Sprintf("%s eq%d after%v desc%v", q.Index, len(q.Eq), q.After != "", q.Desc), func(t *testing.T) {
			if q.After == next {
				q.After = ""
				p, err := db.Scan(ctx, "items", q)
				if err != nil || p.Next == "" {
					t.Fatalf("first page: %v, %d documents", err, len(p.Docs))
				}
				q.After = p.Next
			}
			pl, err := db.tables["items"].coll.Plan(q)
			if err != nil {
				t.Fatal(err)
			}
			query, args := scanSQL(db.tables["items"], pl)
			rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			t.Logf("%s\n  %s", query, all)
			if strings.Contains(all, "TEMP B-TREE") {
				t.Errorf("sorts: %s", all)
			}
			if len(pl.After) > 1 && !strings.Contains(all, ")>(") && !strings.Contains(all, ")<(") {
				t.Errorf("does not start the search at the cursor: %s", all)
			}
			bounded := len(pl.Eq) > 0 || pl.Lower != nil || pl.Upper != nil || len(pl.After) > 0
			if bounded && !strings.HasPrefix(all, "SEARCH") || !strings.Contains(all, "INDEX") {
				t.Errorf("does not search the index: %s", all)
			}
		})
	}
}
