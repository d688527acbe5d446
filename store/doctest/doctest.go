// Package doctest is the contract of doc.Engine, as tests that every
// engine runs against a real instance of itself:
//
//	func TestContract(t *testing.T) { doctest.Run(t, doctest.Config{Open: ...}) }
package doctest

import (
	"context"
	"errors"
	"testing"
	"time"

	"fieldsync/store/doc"
)

// Config is the engine under test.
type Config struct {
	// Open returns a new, empty engine holding colls, closed when the
	// test ends.
	Open func(tb testing.TB, colls ...doc.Collection) doc.Engine
	// AtomicBatch says that a failed Apply leaves nothing written
	// (SQLite); without it, the writes before the failed one stay
	// (MongoDB).
	AtomicBatch bool
	// NoIsolation, when not empty, is why the engine cannot pass the tests
	// that need concurrent conditional writes to one document to be
	// isolated; they are skipped with it.
	NoIsolation string
	// Skip names cases the engine under test is known to fail, each with
	// why: a stand-in's bugs, never the engine's own.
	Skip map[string]string
}

// Run runs the whole contract.
func Run(t *testing.T, c Config) {
	tests := []struct {
		name     string
		isolated bool // needs isolated conditional writes
		run      func(*testing.T, doc.Engine, Config)
	}{
		{"InsertGet", false, testInsertGet},
		{"Replace", false, testReplace},
		{"ReplaceUniqueKey", false, testReplaceUniqueKey},
		{"Delete", false, testDelete},
		{"GetMany", false, testGetMany},
		{"Invalid", false, testInvalid},
		{"Unavailable", false, testUnavailable},
		{"Scan", false, testScan},
		{"ScanErrors", false, testScanErrors},
		{"Batch", false, testBatch},
		{"BatchFailure", false, testBatchFailure},
		{"ConcurrentInsertSameID", false, testConcurrentInsertSameID},
		{"ConcurrentUniqueKey", false, testConcurrentUniqueKey},
		{"CursorWhileInserting", false, testCursorWhileInserting},
		{"ConditionalReplaceOneWinner", true, testOneWinner},
		{"ConcurrentUniqueReplace", true, testConcurrentUniqueReplace},
		{"ModifyLosesNothing", true, testModifyLosesNothing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.isolated && c.NoIsolation != "" {
				t.Skip(c.NoIsolation)
			}
			if why, ok := c.Skip[tt.name]; ok {
				t.Skip(why)
			}
			tt.run(t, c.Open(t, Items), c)
		})
	}
}

// Item is the document of the contract's collection.
type Item struct {
	ID    string    `bson:"_id"`
	Owner string    `bson:"owner"`
	Login string    `bson:"login"`
	At    time.Time `bson:"at"`
	N     int64     `bson:"n"`
	Score float64   `bson:"score"`
	Done  bool      `bson:"done"`
	Meta  Meta      `bson:"meta"`
	Note  string    `bson:"note,omitempty"`
}

// Meta is a sub-document with an indexed field.
type Meta struct {
	Kind string `bson:"kind"`
}

// Items is the contract's collection: an index of each shape.
var Items = doc.Collection{Name: "items", Indexes: []doc.Index{
	{Name: "owner_at", Fields: []string{"owner", "at"}},
	{Name: "login", Fields: []string{"login"}, Unique: true},
	{Name: "kind_done_n", Fields: []string{"meta.kind", "done", "n"}},
	{Name: "score", Fields: []string{"score"}},
	{Name: "owner_id", Fields: []string{"owner", "_id"}},
}}

const coll = "items"

func ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustInsert(t testing.TB, e doc.Engine, it Item) {
	t.Helper()
	if _, err := doc.Insert(ctx(t), e, coll, it); err != nil {
		t.Fatalf("insert %s: %v", it.ID, err)
	}
}

func mustGet(t testing.TB, e doc.Engine, id string) (Item, int64) {
	t.Helper()
	it, v, err := doc.Get[Item](ctx(t), e, coll, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return it, v
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// at is a time with millisecond precision, as BSON stores times.
func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
