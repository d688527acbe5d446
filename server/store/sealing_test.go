package store_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/store/storetest"
)

// TestLegacyClearValuesStillRead: visits written before positions were
// sealed hold them in clear; they read as they are, and the next write
// seals them. (Customers moved to fieldsync/store, which has no clear
// legacy form.)
func TestLegacyClearValuesStillRead(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	home := schemas.LatLng{Lat: 31.228611, Lng: 121.474722}
	c := &schemas.Customer{ID: schemas.NewID(), CustomerInput: schemas.CustomerInput{Addresses: []schemas.Address{{ID: schemas.NewID()}}}}
	fix := &schemas.GeoFix{Lat: home.Lat, Lng: home.Lng, AccuracyM: 8}
	v := &schemas.Visit{ID: schemas.NewID(), CustomerID: c.ID, ScheduledStart: now, ScheduledEnd: now.Add(time.Hour),
		Address:  schemas.VisitAddress{AddressID: c.Addresses[0].ID, Text: "示范路1号", Location: home},
		TimeZone: schemas.DefaultTimeZone, Team: "team-1", Status: schemas.VisitCheckedIn, OfficeStatus: schemas.VisitScheduled,
		Field:   schemas.FieldState{FactStatus: schemas.VisitCheckedIn, CheckIn: &schemas.Attendance{At: now, DeviceAt: now, Location: fix, Method: "gps", OpID: "op1"}},
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := db.InsertVisit(ctx, v); err != nil {
		t.Fatal(err)
	}
	if v.Field.CheckIn.Location != fix {
		t.Fatal("sealing took the fix off the caller's visit")
	}

	// Turn it into what the previous version wrote.
	legacyPos := bson.D{{Key: "lat", Value: home.Lat}, {Key: "lng", Value: home.Lng}}
	if _, err := db.C("visits").UpdateOne(ctx, bson.D{{Key: "_id", Value: v.ID}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "location", Value: legacyPos},
			{Key: "field.checkIn.location", Value: bson.D{{Key: "lat", Value: home.Lat}, {Key: "lng", Value: home.Lng}, {Key: "accuracyM", Value: 8.0}}}}},
		{Key: "$unset", Value: bson.D{{Key: "checkInFix", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}

	gotV, err := db.VisitByID(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotV.Address.Location != home || gotV.Field.CheckIn.Location == nil || *gotV.Field.CheckIn.Location != *fix {
		t.Fatalf("legacy visit reads %+v, check-in %+v", gotV.Address.Location, gotV.Field.CheckIn)
	}

	// The next write seals them.
	gotV.Version++
	if err := db.ReplaceVisit(ctx, gotV, 1); err != nil {
		t.Fatal(err)
	}
	rawV, err := db.RawVisit(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkIn := get(rawV["field"].(bson.D), "checkIn")
	for name, x := range map[string]any{"visit position": rawV["location"], "visit check-in fix": rawV["checkInFix"]} {
		if s, ok := x.(string); !ok || len(s) < 5 || s[:5] != "enc1." {
			t.Errorf("%s after a write: %v, want sealed", name, x)
		}
	}
	if get(checkIn.(bson.D), "location") != nil {
		t.Errorf("visit check-in keeps its position in clear: %v", checkIn)
	}
	again, err := db.VisitByID(ctx, v.ID)
	if err != nil || again.Field.CheckIn.Location == nil || *again.Field.CheckIn.Location != *fix || again.Address.Location != home {
		t.Fatalf("sealed visit reads %+v (%v)", again, err)
	}
}

// get is the value of key in d, or nil.
func get(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}
