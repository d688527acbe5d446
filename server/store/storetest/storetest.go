// Package storetest starts the real embedded store once per test binary and
// hands each test a fresh, migrated database on it.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fieldsync/server/store"
	fstore "fieldsync/store"
)

// Epoch is when test fixtures run: Tuesday 2037-11-24 09:00 UTC (17:00 in
// Shanghai). Tests derive their times from it (or from their fixture's
// clock), never from the real date: it is years away, so a time taken from
// the wall clock instead of the injected clock stands out (CheckNoWallClock
// finds it). 2037 has 2026's calendar (same weekdays, not a leap year, the
// same daylight-saving dates), so dates read as they would in 2026.
var Epoch = time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)

var (
	once   sync.Once
	shared *store.DB
	dir    string
	err    error
	seq    atomic.Int64
)

// Main runs the package's tests and then stops the shared store:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close(context.Background())
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// Shared returns the one store of this test binary: the embedded FerretDB,
// or MONGODB_URI when the environment sets it (to run the suite on MongoDB).
func Shared(tb testing.TB) *store.DB {
	tb.Helper()
	once.Do(func() {
		dir, err = os.MkdirTemp("", "fieldsync-test-")
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, err = store.Open(ctx, store.Options{
			URI: os.Getenv("MONGODB_URI"), DBName: "fieldsync_test", DataDir: dir,
			Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return Epoch },
		})
	})
	if err != nil {
		tb.Fatalf("start test store: %v", err)
	}
	return shared
}

// New returns a migrated database of its own for this test, dropped when
// the test ends. Its clock stands at Epoch; a test with a clock of its own
// sets db.Now to it before using the database.
func New(tb testing.TB) *store.DB {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), seq.Add(1), sanitize(tb.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	db := Shared(tb).Database(name)
	db.Now = func() time.Time { return Epoch }
	db.Docs = NewStore(tb, func() time.Time { return db.Now() })
	db.SetCipher(Cipher(tb))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.Migrate(ctx, db.Now()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
	})
	return db
}

// NewStore opens a new store of the test's own (fieldsync/store) on the
// embedded engine in a temporary directory, closed when the test ends,
// with the test cipher and the clock now.
func NewStore(tb testing.TB, now func() time.Time) *fstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := fstore.Open(ctx, fstore.Options{
		DataDir: tb.TempDir(), Logger: slog.New(slog.DiscardHandler), Now: now, Cipher: Cipher(tb),
	})
	if err != nil {
		tb.Fatalf("open test store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// Cipher is a cipher with a fixed test key.
func Cipher(tb testing.TB) *store.Cipher {
	tb.Helper()
	k, err := store.NewDataKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := store.NewCipher(k)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
