package sqlite_test

import (
	"context"
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
