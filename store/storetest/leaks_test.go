package storetest

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

func TestMain(m *testing.M) { Main(m) }

// TestWallClockTimesFindsEveryKind: each way a wall-clock time can sit in
// a document is found, at any depth; times on the fixture clock are not.
func TestWallClockTimesFindsEveryKind(t *testing.T) {
	real := time.Now()
	clean := bson.D{{Key: "_id", Value: schemas.NewIDAt(Epoch)}, {Key: "at", Value: Epoch}, {Key: "day", Value: "2037-11-24"},
		{Key: "nested", Value: bson.D{{Key: "list", Value: bson.A{Epoch.Format(time.RFC3339), "eta/v1/" + Epoch.Format(time.RFC3339Nano)}}}},
		{Key: "ref", Value: bson.NewObjectIDFromTimestamp(Epoch)}, {Key: "text", Value: "no time here, 12-34"}}
	if got := TimesNear("clean", marshal(t, clean), real); len(got) > 0 {
		t.Errorf("times on the fixture clock taken for leaks: %q", got)
	}
	leaky := []bson.D{
		{{Key: "_id", Value: "datetime"}, {Key: "a", Value: bson.D{{Key: "at", Value: real}}}},
		{{Key: "_id", Value: "rfc3339"}, {Key: "list", Value: bson.A{real.Format(time.RFC3339Nano)}}},
		{{Key: "_id", Value: "in text"}, {Key: "detail", Value: "no check-in by " + real.Format(time.RFC3339)}},
		{{Key: "_id", Value: "date"}, {Key: "startsOn", Value: real.Format(time.DateOnly)}},
		{{Key: "_id", Value: "uuidv7"}, {Key: "visitId", Value: schemas.NewID()}},
		{{Key: "_id", Value: "objectid"}, {Key: "ref", Value: bson.NewObjectID()}},
	}
	var got []string
	for _, d := range leaky {
		got = append(got, TimesNear("leaky", marshal(t, d), real)...)
	}
	for _, d := range leaky {
		id := d[0].Value.(string)
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, `leaky "`+id+`"`)
		}
		if !found {
			t.Errorf("leak %q not found in %q", id, got)
		}
	}
	if len(got) != len(leaky) {
		t.Errorf("found %d, want %d: %q", len(got), len(leaky), got)
	}
}

func marshal(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWallClockTimesReadsTheStore: a leak stored through an aggregate is
// found by the scan of the whole store.
func TestWallClockTimesReadsTheStore(t *testing.T) {
	opts := Options(t, time.Now)
	opts.Cipher = nil // no key check, stamped at open
	db := Open(t, opts)
	if err := db.Meta.SetFlag(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	got, err := WallClockTimes(t.Context(), db, time.Now())
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], `meta "k" at:`) {
		t.Fatalf("got %q, %v; want the flag's time", got, err)
	}
}
