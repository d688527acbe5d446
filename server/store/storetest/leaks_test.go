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
	db := New(t)
	ctx := t.Context()
	real := time.Now()
	clean := bson.D{{Key: "_id", Value: schemas.NewIDAt(Epoch)}, {Key: "at", Value: Epoch}, {Key: "day", Value: "2037-11-24"},
		{Key: "nested", Value: bson.D{{Key: "list", Value: bson.A{Epoch.Format(time.RFC3339), "eta/v1/" + Epoch.Format(time.RFC3339Nano)}}}},
		{Key: "ref", Value: bson.NewObjectIDFromTimestamp(Epoch)}, {Key: "text", Value: "no time here, 12-34"}}
	if _, err := db.C("clean").InsertOne(ctx, clean); err != nil {
		t.Fatal(err)
	}
	leaky := []bson.D{
		{{Key: "_id", Value: "datetime"}, {Key: "a", Value: bson.D{{Key: "at", Value: real}}}},
		{{Key: "_id", Value: "rfc3339"}, {Key: "list", Value: bson.A{real.Format(time.RFC3339Nano)}}},
		{{Key: "_id", Value: "in text"}, {Key: "detail", Value: "no check-in by " + real.Format(time.RFC3339)}},
		{{Key: "_id", Value: "date"}, {Key: "startsOn", Value: real.Format(time.DateOnly)}},
		{{Key: "_id", Value: "uuidv7"}, {Key: "visitId", Value: schemas.NewID()}},
		{{Key: "_id", Value: "objectid"}, {Key: "ref", Value: bson.NewObjectID()}},
	}
	for _, d := range leaky {
		if _, err := db.C("leaky").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := WallClockTimes(ctx, db, real)
	if err != nil {
		t.Fatal(err)
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
