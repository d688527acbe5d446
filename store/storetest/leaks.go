package storetest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/store"
)

// NearNow is how close to the real date a stored time must be to count as
// taken from the wall clock. Fixtures run at Epoch, years away.
const NearNow = 365 * 24 * time.Hour

// CheckNoWallClock fails the test if any document of any collection of db
// holds a time within NearNow of the real date: a BSON datetime, a string
// that is an RFC 3339 time or a date, or an id that carries its creation
// time (UUIDv7, ObjectID). Such a time came from the wall clock instead of
// the injected one. Call it after a fixture run, before the database is
// dropped.
func CheckNoWallClock(tb testing.TB, db *store.Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leaks, err := WallClockTimes(ctx, db, time.Now())
	if err != nil {
		tb.Fatalf("scan the store for wall-clock times: %v", err)
	}
	if len(leaks) > 0 {
		if len(leaks) > 20 {
			leaks = append(leaks[:20], fmt.Sprintf("... and %d more", len(leaks)-20))
		}
		tb.Errorf("stored times near the real date %s: taken from the wall clock, not the injected one "+
			"(ids of stored records: schemas.NewIDAt(now); tests: derive times from the fixture clock):\n  %s",
			time.Now().UTC().Format(time.DateOnly), strings.Join(leaks, "\n  "))
	}
}

// WallClockTimes lists, as "collection _id path: value", every stored time
// within NearNow of real.
func WallClockTimes(ctx context.Context, db *store.Store, real time.Time) ([]string, error) {
	var out []string
	err := db.Each(ctx, func(name string, d bson.Raw) error {
		out = append(out, TimesNear(name, d, real)...)
		return nil
	})
	return out, err
}

// TimesNear lists the times within NearNow of real that the document d of
// the collection name holds.
func TimesNear(name string, d bson.Raw, real time.Time) []string {
	near := func(t time.Time) bool { dt := t.Sub(real); return dt > -NearNow && dt < NearNow }
	var out []string
	id := d.Lookup("_id").String()
	walk(d, "", func(path string, v bson.RawValue) {
		for _, t := range storedTimes(v) {
			if near(t) {
				out = append(out, fmt.Sprintf("%s %s %s: %.120s (%s)", name, id, path, v, t.UTC().Format(time.RFC3339)))
				break
			}
		}
	})
	return out
}

// walk calls f for every value of doc, at any depth.
func walk(doc bson.Raw, prefix string, f func(path string, v bson.RawValue)) {
	els, _ := doc.Elements()
	for _, e := range els {
		path := prefix + e.Key()
		v := e.Value()
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			walk(v.Document(), path+".", f)
		case bson.TypeArray:
			walk(bson.Raw(v.Array()), path+".", f)
		default:
			f(path, v)
		}
	}
}

// storedTimes are the times a value holds or carries.
func storedTimes(v bson.RawValue) []time.Time {
	switch v.Type {
	case bson.TypeDateTime:
		return []time.Time{v.Time()}
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return []time.Time{time.Unix(int64(t), 0)}
	case bson.TypeObjectID:
		return []time.Time{v.ObjectID().Timestamp()}
	case bson.TypeString:
		s := v.StringValue()
		if t, ok := schemas.IDTime(s); ok {
			return []time.Time{t}
		}
		// A time or a date anywhere in the text: a field of its own, a
		// dedupe key, a detail message.
		var ts []time.Time
		for _, m := range timeInText.FindAllString(s, -1) {
			t, err := time.Parse(time.RFC3339Nano, m)
			if err != nil {
				t, err = time.Parse(time.DateOnly, m)
			}
			if err == nil {
				ts = append(ts, t)
			}
		}
		return ts
	}
	return nil
}

var timeInText = regexp.MustCompile(`\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?`)
