package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"fieldsync/store/doc"
	"fieldsync/store/doctest"
	"fieldsync/store/sqlite"
)

func TestContract(t *testing.T) {
	doctest.Run(t, doctest.Config{Open: open, AtomicBatch: true})
}

func open(tb testing.TB, colls ...doc.Collection) doc.Engine {
	return openDir(tb, tb.TempDir(), colls...)
}

func openDir(tb testing.TB, dir string, colls ...doc.Collection) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testCtx(tb), sqlite.Options{Dir: dir, Collections: colls, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// TestCancelledCallsLeaveTheEngineWorking: calls whose context ends at
// every moment of their run leave no pooled connection wedged (stuck
// "interrupted", or on an old snapshot that makes every later conditional
// write a version conflict).
func TestCancelledCallsLeaveTheEngineWorking(t *testing.T) {
	e := open(t, doctest.Items)
	ctx := t.Context()
	it := doctest.Item{ID: "a", Owner: "o", Login: "l", Meta: doctest.Meta{Kind: "k"}}
	if _, err := doc.Insert(ctx, e, "items", it); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		c, cancel := context.WithTimeout(ctx, time.Duration(i%50)*time.Microsecond)
		_, _ = e.Get(c, "items", "a")
		_, _ = e.Scan(c, "items", doc.Query{Index: "owner_at", Eq: []any{"o"}, Limit: 10})
		_, _ = doc.Insert(c, e, "items", doctest.Item{ID: fmt.Sprint("x", i), Owner: "o", Login: fmt.Sprint("l", i), Meta: doctest.Meta{Kind: "k"}})
		cancel()
	}
	for range 20 {
		if _, err := e.Get(ctx, "items", "a"); err != nil {
			t.Fatalf("after cancelled calls: %v", err)
		}
	}
	if _, err := doc.Replace(ctx, e, "items", 1, it); err != nil {
		t.Fatalf("after cancelled calls: %v", err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Get(c, "items", "a"); !errors.Is(err, doc.ErrUnavailable) {
		t.Fatalf("a call with its context done: %v, want ErrUnavailable", err)
	}
}
