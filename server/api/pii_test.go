package api_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// TestSensitivePIISealedAtRest reads, with the driver, the raw documents a
// household's profile and position end up in (the customer, a visit after
// check-in and check-out with GPS fixes at the door, their audit entries):
// no health, religion, infant or pet note, no exact position in clear.
// Through the store they open as they were.
func TestSensitivePIISealedAtRest(t *testing.T) {
	w := newSyncWorld(t)
	ctx := t.Context()
	in := w.c1.CustomerInput
	in.Household = schemas.Household{Elderly: true, Infants: true, Pets: []string{"金毛犬怕生人"},
		Allergies: []string{"青霉素过敏"}, Taboos: []string{"清真饮食不带猪肉"}, SpecialNeeds: "老人坐轮椅，有糖尿病"}
	c, err := w.f.office.UpdateCustomer(ctx, sysAdmin, w.c1.ID, w.c1.Version, in)
	if err != nil {
		t.Fatal(err)
	}
	home := c.Addresses[0].Location
	fix := map[string]any{"lat": home.Lat, "lng": home.Lng, "accuracyM": 8}
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	batch := p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": fix}},
		opSpec{fsync.KindNote, w.v1.ID, at.Add(time.Hour), map[string]any{"text": "奶奶摔倒过，腿骨折"}},
		opSpec{fsync.KindCheckOut, w.v1.ID, at.Add(2 * time.Hour), map[string]any{"location": fix}},
	)
	resp := p.mustPush(batch)
	if got := statuses(resp); got != "applied,applied,applied" {
		t.Fatalf("push: %s", got)
	}
	// A retry is recognised without comparing sealed bytes.
	if got := statuses(p.mustPush(batch)); got != "duplicate:applied,duplicate:applied,duplicate:applied" {
		t.Fatalf("retry: %s", got)
	}

	secrets := []string{"金毛犬", "青霉素", "清真", "轮椅", "糖尿病", "elderly", "infants", "allergies", "taboos", "specialNeeds"}
	raws := map[string]bson.M{}
	raws["customer"], err = rawOfficeDoc(ctx, w.f.db, "customers", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	raws["visit"], err = w.f.db.Visits.Raw(ctx, w.v1.ID)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]int{}
	err = w.f.db.Each(ctx, func(coll string, d bson.Raw) error {
		var e bson.M
		if coll != "audit" {
			return nil
		}
		if err := bson.Unmarshal(d, &e); err != nil {
			return err
		}
		entity, _ := e["entity"].(string)
		raws[fmt.Sprintf("audit %s %d", entity, audited[entity])] = e
		audited[entity]++
		return nil
	})
	for _, entity := range []string{"customer", "visit"} {
		if err != nil || audited[entity] == 0 {
			t.Fatalf("audit of %s: %d entries, %v", entity, audited[entity], err)
		}
	}
	for name, raw := range raws {
		for _, leak := range clearLeaks(raw, "", secrets, home) {
			t.Errorf("raw %s: %s", name, leak)
		}
	}
	// The engine's operation log: the phone's fixes and free text sealed.
	var ops []bson.M
	err = w.f.db.Each(ctx, func(coll string, d bson.Raw) error {
		var op bson.M
		if coll != "sync_ops" || d.Lookup("visitId").StringValue() != w.v1.ID {
			return nil
		}
		err := bson.Unmarshal(d, &op)
		ops = append(ops, op)
		return err
	})
	if err != nil || len(ops) != 3 {
		t.Fatalf("sync_ops: %d records, %v", len(ops), err)
	}
	for _, op := range ops {
		for _, leak := range clearLeaks(op, "", append(secrets, "摔倒", "骨折"), home) {
			t.Errorf("raw sync_ops %v: %s", op["_id"], leak)
		}
	}

	got, err := w.f.db.Office.Customer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Household) != fmt.Sprint(in.Household) || got.Addresses[0].Location != home {
		t.Errorf("customer opens as %+v %+v, want %+v %+v", got.Household, got.Addresses[0].Location, in.Household, home)
	}
	v := w.visit(w.v1.ID)
	for name, a := range map[string]*schemas.Attendance{"check-in": v.Field.CheckIn, "check-out": v.Field.CheckOut} {
		if a == nil || a.Location == nil || a.Location.Lat != home.Lat || a.Location.Lng != home.Lng || a.Location.AccuracyM != 8 {
			t.Errorf("%s opens as %+v", name, a)
		}
	}
	if v.Address.Location != home || v.Field.CheckIn.DistanceM == nil || *v.Field.CheckIn.DistanceM != 0 {
		t.Errorf("visit position %+v, check-in distance %v", v.Address.Location, v.Field.CheckIn.DistanceM)
	}
}

// clearLeaks lists what in a raw document shows a secret or a position
// within about 100 m of pos: a key, a string, or a number.
func clearLeaks(x any, path string, secrets []string, pos schemas.LatLng) []string {
	near := func(f float64) bool { return math.Abs(f-pos.Lat) < 1e-3 || math.Abs(f-pos.Lng) < 1e-3 }
	coords := []string{fmt.Sprint(pos.Lat), fmt.Sprint(pos.Lng)}
	var out []string
	str := func(s string) {
		for _, secret := range append(secrets, coords...) {
			if strings.Contains(s, secret) {
				out = append(out, fmt.Sprintf("%s holds %q in clear", path, secret))
			}
		}
	}
	switch t := x.(type) {
	case bson.M:
		for k, v := range t {
			str(k)
			out = append(out, clearLeaks(v, path+"."+k, secrets, pos)...)
		}
	case bson.D:
		for _, e := range t {
			str(e.Key)
			out = append(out, clearLeaks(e.Value, path+"."+e.Key, secrets, pos)...)
		}
	case bson.A:
		for i, v := range t {
			out = append(out, clearLeaks(v, fmt.Sprintf("%s.%d", path, i), secrets, pos)...)
		}
	case string:
		str(t)
	case float64:
		if near(t) {
			out = append(out, fmt.Sprintf("%s is a position in clear: %v", path, t))
		}
	}
	return out
}
