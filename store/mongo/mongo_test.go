package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/store/doc"
	"fieldsync/store/doctest"
	"fieldsync/store/mongo"
	"fieldsync/store/storetest"
)

// The engine runs against MONGODB_URI when it is set, and otherwise
// against FerretDB v1 started in this test binary: a stand-in, imported
// by tests only, that speaks the protocol but applies updates without
// isolation (FerretDB issue #3040), so the contract's concurrency cases
// are skipped on it.
var (
	uri      string
	ferret   bool
	admin    *driver.Client
	seq      atomic.Int64
	noFerret = "FerretDB v1 applies a conditional update without isolation (FerretDB issue #3040): concurrent writers can both win; set MONGODB_URI to run this on MongoDB"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	uri = os.Getenv("MONGODB_URI")
	if uri == "" {
		// A short path: a Unix socket's must fit in 108 bytes.
		dir, err := os.MkdirTemp("", "fsm")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		stop, u, err := storetest.StartFerretDB(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "start FerretDB:", err)
			return 1
		}
		defer stop()
		uri, ferret = u, true
	}
	var err error
	if admin, err = driver.Connect(options.Client().ApplyURI(uri)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer admin.Disconnect(context.Background())
	return m.Run()
}

func TestContract(t *testing.T) {
	c := doctest.Config{Open: open}
	if ferret {
		c.NoIsolation = noFerret
		c.Skip = map[string]string{
			"ReplaceUniqueKey": "FerretDB v1 answers a replace that breaks a unique index with InternalError, not the duplicate key error (11000) MongoDB gives",
		}
	}
	doctest.Run(t, c)
}

// open gives each test a database of its own, dropped when it ends.
func open(tb testing.TB, colls ...doc.Collection) doc.Engine {
	tb.Helper()
	name := fmt.Sprintf("doctest_%d_%d", os.Getpid(), seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Collections: colls, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = admin.Database(name).Drop(ctx)
		_ = db.Close(ctx)
	})
	return db
}

func TestVersionIsStoredBesideTheDocument(t *testing.T) {
	e := open(t, doctest.Items)
	ctx := context.Background()
	it := doctest.Item{ID: "a", Owner: "o", Login: "l", Meta: doctest.Meta{Kind: "k"}}
	if _, err := doc.Insert(ctx, e, "items", it); err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Replace(ctx, e, "items", 1, it); err != nil {
		t.Fatal(err)
	}
	// What a MongoDB shell would see: the document and _v.
	raw, err := admin.Database(e.(interface{ Name() string }).Name()).Collection("items").FindOne(ctx, map[string]any{"_id": "a"}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if v := raw.Lookup(doc.VersionField).AsInt64(); v != 2 {
		t.Errorf("stored _v = %d, want 2", v)
	}
	if !strings.Contains(raw.String(), `"owner": "o"`) {
		t.Errorf("stored %s", raw)
	}
}

// TestFerretDBIsTestOnly: the store's packages do not link FerretDB; only
// test binaries do, through storetest.
func TestFerretDBIsTestOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "fieldsync/store", "fieldsync/store/doc", "fieldsync/store/sqlite", "fieldsync/store/mongo").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "FerretDB") {
			t.Errorf("a store package depends on %s", pkg)
		}
	}
}
