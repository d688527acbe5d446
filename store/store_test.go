package store

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"
)

// epoch is when this package's tests run; like storetest.Epoch, years
// from the real date, so a time taken from the wall clock stands out.
var epoch = time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// testOptions are the options of a store of the test's own: the embedded
// engine in a temporary directory, or the MongoDB engine on a database of
// its own when MONGODB_URI is set, on the clock c. Opening them twice
// gives two instances on the same data, as two servers would be.
func testOptions(t testing.TB, c *clock) Options {
	t.Helper()
	key, err := NewDataKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		URI: os.Getenv("MONGODB_URI"), DBName: "store_" + strconv.FormatInt(time.Now().UnixNano(), 36),
		DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Now: c.now, Cipher: cipher,
	}
}

// openWith opens a store with opts, closed when the test ends.
func openWith(t testing.TB, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// openTest opens a store of the test's own (testOptions). Its clock stands
// at epoch until the test moves it.
func openTest(t testing.TB) (*Store, *clock) {
	t.Helper()
	c := &clock{t: epoch}
	return openWith(t, testOptions(t, c)), c
}

// openTwins opens two instances of one store of the test's own, sharing
// the clock.
func openTwins(t testing.TB) (*Store, *Store, *clock) {
	t.Helper()
	c := &clock{t: epoch}
	opts := testOptions(t, c)
	return openWith(t, opts), openWith(t, opts), c
}

func TestMetaAndMigrations(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	if n, err := s.Meta.Int(ctx, "k"); err != nil || n != 0 {
		t.Fatalf("Int of a missing key = %d, %v", n, err)
	}
	if err := s.Meta.SetInt(ctx, "k", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Meta.Raise(ctx, "k", 3); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Meta.Int(ctx, "k"); n != 5 {
		t.Fatalf("Raise moved the mark back: %d", n)
	}
	c.advance(time.Hour)
	if set, _ := s.Meta.Flag(ctx, "f"); set {
		t.Fatal("flag set before SetFlag")
	}
	for range 2 {
		if err := s.Meta.SetFlag(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	if set, _ := s.Meta.Flag(ctx, "f"); !set {
		t.Fatal("flag not set")
	}
}
