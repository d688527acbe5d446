package store_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestUpdatesAreAtomic: the guarantees the rest of fieldsync builds on hold
// on the embedded store: no lost $inc, one winner among conditional updates.
func TestUpdatesAreAtomic(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	col := db.C("atomic")
	if _, err := col.InsertOne(ctx, bson.M{"_id": "x", "n": 0, "taken": false}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	wins := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := col.UpdateOne(ctx, bson.M{"_id": "x"}, bson.M{"$inc": bson.M{"n": 1}}); err != nil {
				t.Error(err)
			}
			res, err := col.UpdateOne(ctx, bson.M{"_id": "x", "taken": false}, bson.M{"$set": bson.M{"taken": true, "by": i}})
			if err != nil {
				t.Error(err)
			}
			if res != nil && res.ModifiedCount == 1 {
				wins <- i
			}
		}()
	}
	wg.Wait()
	close(wins)
	var doc struct {
		N int `bson:"n"`
	}
	if err := col.FindOne(ctx, bson.M{"_id": "x"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.N != n {
		t.Errorf("$inc lost updates: n = %d, want %d", doc.N, n)
	}
	if len(wins) != 1 {
		t.Errorf("%d conditional updates won, want exactly 1", len(wins))
	}
}

// TestNoRawUpdates keeps every modifying command behind store.Collection,
// whose serialisation the embedded store needs (see collection.go).
func TestNoRawUpdates(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	raw := regexp.MustCompile(`\.(DB|Database\([^)]*\))\.Collection\([^)]*\)\s*\.\s*(UpdateOne|UpdateMany|ReplaceOne|FindOneAnd\w+|DeleteOne|DeleteMany|BulkWrite)\(`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "collection.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if loc := raw.FindIndex(b); loc != nil {
			t.Errorf("%s: modifying command on a raw *mongo.Collection: %s (use db.C(name))", path, b[loc[0]:loc[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrateRunsOnce(t *testing.T) {
	db := storetest.New(t) // already migrated once
	ctx := t.Context()
	before, err := db.AppliedMigrations(ctx)
	if err != nil || len(before) == 0 {
		t.Fatalf("applied = %v, %v", before, err)
	}
	ran, err := db.Migrate(ctx, db.Now().Add(time.Hour))
	if err != nil || len(ran) != 0 {
		t.Fatalf("second Migrate ran %v, %v", ran, err)
	}
	after, _ := db.AppliedMigrations(ctx)
	if len(after) != len(before) || !after[0].AppliedAt.Equal(before[0].AppliedAt) {
		t.Fatalf("migration records changed: %v -> %v", before, after)
	}
}

// TestIDLookupsUseAnIndex asks SQLite how FerretDB's lookup by _id runs:
// with fixIDIndexes it searches an index instead of scanning the table.
func TestIDLookupsUseAnIndex(t *testing.T) {
	db := storetest.New(t)
	if !db.Embedded() {
		t.Skip("MongoDB indexes _id itself")
	}
	plans, err := db.IDLookupPlans(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) < 5 { // fewer as aggregates move to fieldsync/store
		t.Fatalf("only %d collections checked", len(plans))
	}
	for table, plan := range plans {
		if !strings.Contains(plan, "SEARCH") {
			t.Errorf("%s: lookup by _id is %q, want an index search", table, plan)
		}
	}
}
