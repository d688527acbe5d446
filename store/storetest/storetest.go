// Package storetest hands each test a fresh store of its own on the real
// engines: the embedded SQLite one by default, or the MongoDB one when
// FIELDSYNC_TEST_STORE=mongo — against MONGODB_URI if set, else against
// FerretDB v1 started in the test binary as a stand-in that speaks the
// protocol (it lacks update isolation: see NeedsIsolation). Only tests
// import this package, so FerretDB never reaches the production binary.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	"fieldsync/store"
)

// Epoch is when test fixtures run: Tuesday 2037-11-24 09:00 UTC (17:00 in
// Shanghai). Tests derive their times from it (or from their fixture's
// clock), never from the real date: it is years away, so a time taken from
// the wall clock instead of the injected clock stands out (CheckNoWallClock
// finds it). 2037 has 2026's calendar (same weekdays, not a leap year, the
// same daylight-saving dates), so dates read as they would in 2026.
var Epoch = time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)

// NoIsolation is why tests that need isolated conditional updates are
// skipped on the stand-in.
const NoIsolation = "FerretDB v1, the test stand-in for MongoDB, applies a conditional update without isolation " +
	"(FerretDB issue #3040): concurrent writers can both win; set MONGODB_URI to run this on MongoDB"

var (
	once    sync.Once
	uri     string // the MongoDB engine's deployment; "" for SQLite
	ferret  bool   // uri is the in-process stand-in
	stop    func()
	tmp     string
	openErr error
	seq     atomic.Int64
)

// Mongo reports whether the tests run on the MongoDB engine.
func Mongo() bool { return os.Getenv("FIELDSYNC_TEST_STORE") == "mongo" }

// Main runs the package's tests and then stops the stand-in, if started:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if stop != nil {
		stop()
	}
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// URI returns the MongoDB deployment the tests use ("" on SQLite),
// starting the stand-in on first use, and whether it is the stand-in.
func URI(tb testing.TB) (string, bool) {
	tb.Helper()
	if !Mongo() {
		return "", false
	}
	once.Do(func() {
		if uri = os.Getenv("MONGODB_URI"); uri != "" {
			return
		}
		// A short path: a Unix socket's must fit in 108 bytes.
		if tmp, openErr = os.MkdirTemp("", "fst"); openErr != nil {
			return
		}
		stop, uri, openErr = StartFerretDB(tmp)
		ferret = true
	})
	if openErr != nil {
		tb.Fatalf("start the MongoDB stand-in: %v", openErr)
	}
	return uri, ferret
}

// NeedsIsolation skips a test that needs concurrent conditional updates
// to one document to be isolated, when it runs on the stand-in.
func NeedsIsolation(tb testing.TB) {
	tb.Helper()
	if _, f := URI(tb); f {
		tb.Skip(NoIsolation)
	}
}

// StartFerretDB starts FerretDB v1 over SQLite files under dir, listening
// on a Unix socket only, and returns how to stop it and its URI.
func StartFerretDB(dir string) (stop func(), uri string, err error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, "", err
	}
	sock := filepath.Join(dir, "ferretdb.sock") // the driver knows a socket by .sock
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: sock},
		Handler:   "sqlite",
		SQLiteURL: "file:" + data + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	f.MongoDBURI() // waits for the listener
	return func() { cancel(); <-done }, "mongodb://" + url.QueryEscape(sock) + "/", nil
}

// Options are the store options of a test of its own: a new SQLite file
// in a temporary directory, or a new MongoDB database, with the test
// cipher and the clock now (nil: Epoch). Open the same options twice for
// two instances on the same data.
func Options(tb testing.TB, now func() time.Time) store.Options {
	tb.Helper()
	if now == nil {
		now = func() time.Time { return Epoch }
	}
	u, _ := URI(tb)
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), seq.Add(1), sanitize(tb.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	return store.Options{
		URI: u, DBName: name, DataDir: tb.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Now: now, Cipher: Cipher(tb),
	}
}

// New opens a store of the test's own (see Options), closed when the
// test ends.
func New(tb testing.TB, now func() time.Time) *store.Store {
	tb.Helper()
	return Open(tb, Options(tb, now))
}

var (
	optsMu sync.Mutex
	opened = map[*store.Store]store.Options{}
)

// Another opens a second store on the data of s, as a second instance of
// the server would: in-process state (caches, hints) of its own.
func Another(tb testing.TB, s *store.Store) *store.Store {
	tb.Helper()
	optsMu.Lock()
	opts, ok := opened[s]
	optsMu.Unlock()
	if !ok {
		tb.Fatal("storetest.Another: the store was not opened by storetest")
	}
	return Open(tb, opts)
}

// Open opens a store with opts, closed when the test ends.
func Open(tb testing.TB, opts store.Options) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("open test store: %v", err)
	}
	optsMu.Lock()
	opened[s] = opts
	optsMu.Unlock()
	tb.Cleanup(func() {
		optsMu.Lock()
		delete(opened, s)
		optsMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Close(ctx)
	})
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
