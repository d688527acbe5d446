package store_test

import (
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/store/storetest"
)

// TestLegacyClearValuesStillRead: customers written before the household
// profile and positions were sealed hold them in clear; they read as they
// are, and the next write seals them. (Visits moved to fieldsync/store,
// which has no clear legacy form.)
func TestLegacyClearValuesStillRead(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	home := schemas.LatLng{Lat: 31.228611, Lng: 121.474722}
	household := schemas.Household{Elderly: true, Infants: true, Pets: []string{"猫"}, Allergies: []string{"花生"},
		Taboos: []string{"素食"}, SpecialNeeds: "轮椅"}
	c := &schemas.Customer{ID: schemas.NewID(), Version: 1, CreatedAt: now, UpdatedAt: now,
		CustomerInput: schemas.CustomerInput{Name: "林先生", Phone: "+8613900000001", TimeZone: schemas.DefaultTimeZone,
			Addresses: []schemas.Address{{ID: schemas.NewID(), Text: "示范路1号", Location: home}}, Household: household}}
	if err := db.InsertCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Turn it into what the previous version wrote.
	legacyHousehold := bson.D{{Key: "elderly", Value: true}, {Key: "infants", Value: true}, {Key: "pets", Value: bson.A{"猫"}},
		{Key: "allergies", Value: bson.A{"花生"}}, {Key: "taboos", Value: bson.A{"素食"}}, {Key: "specialNeeds", Value: "轮椅"}}
	legacyPos := bson.D{{Key: "lat", Value: home.Lat}, {Key: "lng", Value: home.Lng}}
	if _, err := db.C("customers").UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "household", Value: legacyHousehold}, {Key: "addresses.0.location", Value: legacyPos}}}}); err != nil {
		t.Fatal(err)
	}

	gotC, err := db.CustomerByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotC.Household, household) || gotC.Addresses[0].Location != home {
		t.Fatalf("legacy customer reads %+v %+v", gotC.Household, gotC.Addresses[0].Location)
	}

	// The next write seals them.
	gotC.Version++
	if err := db.ReplaceCustomer(ctx, gotC, 1); err != nil {
		t.Fatal(err)
	}
	rawC, err := db.RawCustomer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	addr := rawC["addresses"].(bson.A)[0].(bson.D)
	for name, x := range map[string]any{"customer household": rawC["household"], "customer position": get(addr, "location")} {
		if s, ok := x.(string); !ok || len(s) < 5 || s[:5] != "enc1." {
			t.Errorf("%s after a write: %v, want sealed", name, x)
		}
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
