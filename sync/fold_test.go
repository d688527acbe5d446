package sync

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"fieldsync/schemas"
)

var (
	t0   = time.Date(2037, 12, 1, 1, 0, 0, 0, time.UTC) // 09:00 Shanghai
	home = schemas.LatLng{Lat: 31.2000, Lng: 121.4500}
)

func testVisit() *schemas.Visit {
	return &schemas.Visit{ID: "v1", WorkerID: "w1", OfficeStatus: schemas.VisitScheduled, ScheduledStart: t0, ScheduledEnd: t0.Add(3 * time.Hour),
		Address:   schemas.VisitAddress{Location: home},
		Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}, {ID: "floors"}, {ID: "bathroom"}}}
}

var seqs = map[string]int64{}

func rec(device, kind string, at time.Time, p Payload) *Record {
	seqs[device]++
	id := fmt.Sprintf("u/%s/%d", device, seqs[device])
	return &Record{ID: id, OpID: id, WorkerID: "w1", DeviceID: device, Seq: seqs[device], Kind: kind, VisitID: "v1",
		DeviceAt: at, CorrectedAt: at, EffAt: at, Payload: p}
}

func gps(lat, lng float64) Payload {
	return Payload{Method: "gps", Location: &schemas.GeoFix{Lat: lat, Lng: lng, AccuracyM: 10}}
}

func has[T any](xs []T, pred func(T) bool) bool {
	for _, x := range xs {
		if pred(x) {
			return true
		}
	}
	return false
}

func exceptionCodes(fs schemas.FieldState) []string {
	var out []string
	for _, e := range fs.Exceptions {
		out = append(out, e.Code)
	}
	return out
}

func TestAttendanceRules(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name       string
		visit      func(*schemas.Visit)
		rec        *Record
		wantStatus schemas.VisitStatus
		wantExc    []string // exception codes
		wantRule   string   // the rule the op's outcome names (a conflict), "" for applied
	}{
		{"on time at the door", nil, rec("d1", KindCheckIn, t0.Add(-5*time.Minute), gps(31.2001, 121.4501)), schemas.VisitCheckedIn, nil, ""},
		{"far from the address", nil, rec("d1", KindCheckIn, t0, gps(31.2100, 121.4500)), schemas.VisitCheckedIn, []string{RuleFarFromAddress}, RuleFarFromAddress},
		{"inaccurate fix near the edge is not far", nil, &Record{ID: "x1", OpID: "x1", WorkerID: "w1", DeviceID: "d1", Kind: KindCheckIn, EffAt: t0,
			Payload: Payload{Method: "gps", Location: &schemas.GeoFix{Lat: 31.2036, Lng: 121.45, AccuracyM: 150}}}, schemas.VisitCheckedIn, nil, ""},
		{"manual with a reason", nil, rec("d1", KindCheckIn, t0, Payload{Method: "manual", Reason: "no GPS in the basement"}), schemas.VisitCheckedIn, []string{RuleManual}, RuleManual},
		{"hours early", nil, rec("d1", KindCheckIn, t0.Add(-3*time.Hour), gps(31.2, 121.45)), schemas.VisitCheckedIn, []string{RuleOutsideWindow}, RuleOutsideWindow},
		{"outside the window of a visit the office moved", func(v *schemas.Visit) { v.OfficeEdited = true }, rec("d1", KindCheckIn, t0.Add(-3*time.Hour), gps(31.2, 121.45)), schemas.VisitCheckedIn, []string{RuleRescheduledOffline}, RuleRescheduledOffline},
		{"cancelled while offline", func(v *schemas.Visit) { v.OfficeStatus, v.CancelReason = schemas.VisitCancelled, "customer travelling" }, rec("d1", KindCheckIn, t0, gps(31.2, 121.45)), schemas.VisitCancelled, nil, RuleCheckInOnCancelled},
		{"reassigned while offline", func(v *schemas.Visit) { v.WorkerID, v.PastWorkerIDs = "w2", []string{"w1"} }, rec("d1", KindCheckIn, t0, gps(31.2, 121.45)), schemas.VisitCheckedIn, nil, RuleByPreviousAssignee},
		{"marked no-show while offline", func(v *schemas.Visit) { v.OfficeStatus = schemas.VisitNoShow }, rec("d1", KindCheckIn, t0.Add(50*time.Minute), gps(31.2, 121.45)), schemas.VisitCheckedIn, nil, RuleAfterNoShow},
		{"valid presence code", nil, func() *Record {
			r := rec("d1", KindCheckIn, t0, gps(31.2, 121.45))
			r.PresenceValid, r.PresenceStep = &yes, 7
			return r
		}(), schemas.VisitCheckedIn, nil, ""},
		{"wrong presence code", nil, func() *Record { r := rec("d1", KindCheckIn, t0, gps(31.2, 121.45)); r.PresenceValid = &no; return r }(), schemas.VisitCheckedIn, []string{RulePresenceInvalid}, RulePresenceInvalid},
		{"presence code locked", nil, func() *Record { r := rec("d1", KindCheckIn, t0, gps(31.2, 121.45)); r.PresenceLock = 1; return r }(), schemas.VisitCheckedIn, []string{RulePresenceLocked}, RulePresenceLocked},
		{"skewed clock", nil, func() *Record {
			r := rec("d1", KindCheckIn, t0, gps(31.2, 121.45))
			r.Flags = []string{RuleClockSkew}
			return r
		}(), schemas.VisitCheckedIn, []string{RuleClockSkew}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := testVisit()
			if c.visit != nil {
				c.visit(v)
			}
			fs, out := Fold(v, []*Record{c.rec}, DefaultRules)
			v.Field = fs
			v.Refresh()
			if v.Status != c.wantStatus {
				t.Errorf("status %s, want %s", v.Status, c.wantStatus)
			}
			if fs.CheckIn == nil || fs.CheckIn.OpID != c.rec.OpID {
				t.Errorf("the check-in was not kept: %+v", fs.CheckIn)
			}
			if got := exceptionCodes(fs); fmt.Sprint(got) != fmt.Sprint(c.wantExc) {
				t.Errorf("exceptions %v, want %v", got, c.wantExc)
			}
			if o := out[c.rec.OpID]; o.Rule != c.wantRule || (c.wantRule != "") != (o.Status == StatusConflict) {
				t.Errorf("outcome %+v, want rule %q", o, c.wantRule)
			}
			if review := has(fs.Conflicts, func(c schemas.Conflict) bool { return c.Review }) || has(fs.Exceptions, func(e schemas.Exception) bool { return e.Review }); review != v.NeedsReview {
				t.Errorf("needsReview %v, want %v", v.NeedsReview, review)
			}
			if fs.CustomerConfirmed != (c.rec.PresenceValid != nil && *c.rec.PresenceValid) {
				t.Errorf("customerConfirmed %v", fs.CustomerConfirmed)
			}
		})
	}
}

func TestFirstFactStands(t *testing.T) {
	v := testVisit()
	in1 := rec("d1", KindCheckIn, t0, gps(31.2, 121.45))
	in2 := rec("d2", KindCheckIn, t0.Add(time.Minute), gps(31.2, 121.45))
	out1 := rec("d1", KindCheckOut, t0.Add(3*time.Hour), gps(31.2, 121.45))
	sign := func(dev string, at time.Time, accepted bool) *Record {
		return rec(dev, KindSignOff, at, Payload{SignerName: "林先生", Items: []schemas.SignOffItem{{ItemID: "kitchen", Accepted: accepted, Reason: map[bool]string{false: "still greasy"}[accepted]}},
			Rating: &schemas.Rating{Attitude: 5, Quality: 5, Efficiency: 4, Price: 4}})
	}
	s1 := sign("d1", t0.Add(3*time.Hour+time.Minute), true)
	s2 := sign("d2", t0.Add(3*time.Hour+2*time.Minute), false)
	fs, out := Fold(v, []*Record{s2, out1, in2, s1, in1}, DefaultRules)
	if fs.CheckIn.OpID != in1.OpID || out[in2.OpID].Rule != RuleSecondCheckIn {
		t.Errorf("second check-in: %+v %+v", fs.CheckIn, out[in2.OpID])
	}
	if fs.SignOff.OpID != s1.OpID || out[s2.OpID].Rule != RuleSignOffFinal || out[s2.OpID].Status != StatusConflict {
		t.Errorf("sign-off: first %s, later outcome %+v", fs.SignOff.OpID, out[s2.OpID])
	}
	if fs.FactStatus != schemas.VisitSignedOff {
		t.Errorf("fact status %s", fs.FactStatus)
	}
	if !has(fs.Conflicts, func(c schemas.Conflict) bool { return c.Rule == RuleSignOffFinal && c.Review }) {
		t.Error("the later sign-off is not recorded for review")
	}

	// A disputed sign-off and a low rating need a supervisor.
	v = testVisit()
	bad := rec("d1", KindSignOff, t0.Add(3*time.Hour), Payload{SignerName: "x", Items: []schemas.SignOffItem{{ItemID: "kitchen", Reason: "dirty"}}, Rating: &schemas.Rating{Attitude: 2, Quality: 1, Efficiency: 3, Price: 3}})
	fs, _ = Fold(v, []*Record{bad}, DefaultRules)
	if fs.FactStatus != schemas.VisitDisputed || fmt.Sprint(exceptionCodes(fs)) != fmt.Sprint([]string{RuleSignOffEarly, RuleDisputed, RuleCustomerLowRating}) {
		t.Errorf("disputed: %s %v", fs.FactStatus, exceptionCodes(fs))
	}
}

func TestChecklistMergesPerItem(t *testing.T) {
	v := testVisit()
	done, undone := true, false
	a1 := rec("phone-a", KindProgress, t0.Add(10*time.Minute), Payload{ItemID: "kitchen", Done: &done})
	b1 := rec("phone-b", KindProgress, t0.Add(20*time.Minute), Payload{ItemID: "kitchen", Done: &undone, Text: "redo the stove"})
	a2 := rec("phone-a", KindProgress, t0.Add(15*time.Minute), Payload{ItemID: "floors", Done: &done})
	// Same item, same time, two devices: device id decides, deterministically.
	a3 := rec("phone-a", KindProgress, t0.Add(30*time.Minute), Payload{ItemID: "bathroom", Done: &done})
	b3 := rec("phone-b", KindProgress, t0.Add(30*time.Minute), Payload{ItemID: "bathroom", Done: &undone})
	fs, out := Fold(v, []*Record{b3, a3, b1, a2, a1}, DefaultRules)
	v.Field = fs
	v.Refresh()
	got := map[string]bool{}
	for _, it := range v.Checklist {
		got[it.ID] = it.Done
	}
	if got["kitchen"] || !got["floors"] || got["bathroom"] {
		t.Fatalf("checklist %v: want kitchen undone (later), floors done, bathroom undone (phone-b after phone-a)", got)
	}
	if out[b1.OpID].Rule != RuleSameItem || out[b3.OpID].Rule != RuleSameItem || out[a2.OpID].Status != StatusApplied {
		t.Fatalf("outcomes %+v", out)
	}
	if len(fs.Notes) != 1 || fs.Notes[0].Text != "redo the stove" {
		t.Fatalf("notes %+v", fs.Notes)
	}
	for _, p := range fs.Progress {
		if p.ItemID == "kitchen" && p.Changes != 2 {
			t.Fatalf("kitchen changes %d: the superseded fact is not counted", p.Changes)
		}
	}
}

// TestFoldIgnoresArrivalOrder: the same set of operations, in any order
// and with any duplicates, folds to the same visit.
func TestFoldIgnoresArrivalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{KindCheckIn, KindCheckOut, KindProgress, KindProgress, KindProgress, KindNote, KindRunningLate, KindSignOff, KindIncident}
	items := []string{"kitchen", "floors", "bathroom"}
	for iter := 0; iter < 300; iter++ {
		v := testVisit()
		switch rng.IntN(4) {
		case 0:
			v.OfficeStatus = schemas.VisitCancelled
		case 1:
			v.WorkerID, v.PastWorkerIDs = "w2", []string{"w1"}
		}
		var recs []*Record
		for d := 0; d < 1+rng.IntN(3); d++ {
			dev := fmt.Sprintf("dev-%d", d)
			at := t0.Add(time.Duration(rng.IntN(60)) * time.Minute)
			for s := int64(1); s <= int64(1+rng.IntN(12)); s++ {
				// Effective times never decrease along a device's seq;
				// across devices they may tie.
				at = at.Add(time.Duration(rng.IntN(3)) * 10 * time.Minute)
				k := kinds[rng.IntN(len(kinds))]
				done := rng.IntN(2) == 0
				p := Payload{}
				switch k {
				case KindCheckIn, KindCheckOut:
					p = gps(31.2+float64(rng.IntN(3))*0.005, 121.45)
				case KindProgress:
					p = Payload{ItemID: items[rng.IntN(3)], Done: &done}
				case KindNote, KindIncident:
					p = Payload{Text: "n", Category: "other", Severity: "low"}
				case KindRunningLate:
					eta := at.Add(20 * time.Minute)
					p = Payload{ETA: &eta}
				case KindSignOff:
					p = Payload{SignerName: "s", Items: []schemas.SignOffItem{{ItemID: "kitchen", Accepted: done, Reason: "r"}}}
				}
				id := fmt.Sprintf("u/%s/%d", dev, s)
				recs = append(recs, &Record{ID: id, OpID: id, WorkerID: "w1", DeviceID: dev, Seq: s, Kind: k, VisitID: "v1", EffAt: at, DeviceAt: at, Payload: p})
			}
		}
		want, wantOut := Fold(v, recs, DefaultRules)
		for p := 0; p < 5; p++ {
			shuffled := append([]*Record(nil), recs...)
			for i := 0; i < rng.IntN(4); i++ {
				shuffled = append(shuffled, recs[rng.IntN(len(recs))]) // duplicates
			}
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got, gotOut := Fold(v, shuffled, DefaultRules)
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotOut, wantOut) {
				t.Fatalf("iteration %d: fold depends on arrival order\nwant %+v\ngot  %+v", iter, want, got)
			}
		}
	}
}

func TestDecodePayload(t *testing.T) {
	cases := []struct {
		kind, payload string
		ok            bool
	}{
		{KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":8}}`, true},
		{KindCheckIn, `{}`, false},
		{KindCheckIn, `{"method":"manual"}`, false},
		{KindCheckIn, `{"method":"manual","reason":"no signal"}`, true},
		{KindCheckIn, `{"method":"teleport","reason":"x"}`, false},
		{KindCheckIn, `{"location":{"lat":91,"lng":0}}`, false},
		// A newer app's fields: kept at the top level, refused elsewhere.
		{KindCheckIn, `{"location":{"lat":31,"lng":121},"extra":1}`, true},
		{KindCheckIn, `{"location":{"lat":31,"lng":121,"alt":3}}`, false},
		{KindNote, `{"text":"x","Text":"y"}`, false},
		{KindNote, `{"text":"x","a.b":1}`, false},
		{KindNote, `{"text":"x","m":[{"a.b":1}]}`, false},
		{KindNote, `{"text":"x","m":{"k":1,"k":2}}`, false},
		{KindNote, `{"text":"x","m":{"k":[1,{"v":"a.b"}]}}`, true},
		{KindRunningLate, `{"eta":"2037-12-01T02:00:00Z"}`, true},
		{KindRunningLate, `{"eta":"soon"}`, false},
		{KindProgress, `{"itemId":"kitchen","done":true}`, true},
		{KindProgress, `{"itemId":"kitchen"}`, false},
		{KindProgress, `{"text":"halfway","photos":["` + fmt.Sprintf("%064x", 1) + `"]}`, true},
		{KindProgress, `{"photos":["not-a-hash"]}`, false},
		{KindSignOff, `{"signerName":"林","items":[{"itemId":"kitchen","accepted":true}],"rating":{"attitude":5,"quality":5,"efficiency":5,"price":5}}`, true},
		{KindSignOff, `{"signerName":"林","items":[{"itemId":"kitchen","accepted":false}]}`, false},
		{KindSignOff, `{"signerName":"林","items":[{"itemId":"kitchen","accepted":true}],"rating":{"attitude":6,"quality":5,"efficiency":5,"price":5}}`, false},
		{KindIncident, `{"category":"injury","severity":"critical","text":"cut hand"}`, true},
		{KindIncident, `{"category":"fire","severity":"critical","text":"x"}`, false},
		{KindNote, `{"text":""}`, false},
		{KindNote, `[1]`, false},
		{"teleport", `{}`, false},
	}
	for _, c := range cases {
		_, err := decodePayload(&Op{Kind: c.kind, Payload: []byte(c.payload)})
		if (err == nil) != c.ok {
			t.Errorf("%s %s: err=%v, want ok=%v", c.kind, c.payload, err, c.ok)
		}
		if err != nil && schemas.ErrorCode(err) != RejectInvalid {
			t.Errorf("%s: code %s", c.kind, schemas.ErrorCode(err))
		}
	}
}

// TestResumedFoldEqualsFullFold: folding a prefix, then the rest from the
// checkpoint, gives exactly what one fold of everything gives.
func TestResumedFoldEqualsFullFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 4))
	items := []string{"kitchen", "floors", "bathroom"}
	for iter := 0; iter < 200; iter++ {
		v := testVisit()
		var recs []*Record
		at := t0
		for i := 0; i < 2+rng.IntN(30); i++ {
			at = at.Add(time.Duration(rng.IntN(5)) * time.Minute)
			dev := fmt.Sprintf("d%d", rng.IntN(2))
			done := rng.IntN(2) == 0
			valid := rng.IntN(3) > 0
			var r *Record
			switch rng.IntN(5) {
			case 0:
				r = rec(dev, KindCheckIn, at, gps(31.2, 121.45))
				r.PresenceValid, r.PresenceStep = &valid, int64(rng.IntN(3))
			case 1:
				r = rec(dev, KindCheckOut, at, gps(31.21, 121.45))
			case 2:
				r = rec(dev, KindSignOff, at, Payload{SignerName: "s", Items: []schemas.SignOffItem{{ItemID: "kitchen", Accepted: done, Reason: "r"}}})
			default:
				r = rec(dev, KindProgress, at, Payload{ItemID: items[rng.IntN(3)], Done: &done})
			}
			recs = append(recs, r)
		}
		slices.SortFunc(recs, order)
		want, wantOut := Fold(v, recs, DefaultRules)
		cut := rng.IntN(len(recs))
		first := newFolder(v, DefaultRules, nil)
		for _, r := range recs[:cut] {
			first.add(r)
		}
		v2 := *v
		v2.Field = first.finish()
		cp := first.checkpoint()
		second := newFolder(&v2, DefaultRules, &cp)
		for _, r := range recs[cut:] {
			second.add(r)
		}
		got := second.finish()
		for k, o := range first.out {
			second.out[k] = o
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(second.out, wantOut) {
			t.Fatalf("iteration %d, cut %d: resumed fold differs\nwant %+v\ngot  %+v", iter, cut, want, got)
		}
	}
}

// TestCheckpointAfterTies: a record tying with the checkpoint's last on
// time, device and seq (the household app's carry no seq) is after it
// only if its id sorts after; a checkpoint stored before ids broke ties
// says no (the visit is folded again).
func TestCheckpointAfterTies(t *testing.T) {
	at := time.Date(2037, 12, 1, 8, 0, 0, 0, time.UTC)
	cp := Checkpoint{LastEffAt: at, LastDeviceID: "customer:app", LastID: "customer/u/b"}
	tie := func(id string) *Record {
		return &Record{ID: id, EffAt: at.Add(300 * time.Millisecond), DeviceID: "customer:app"}
	}
	if cp.after(tie("customer/u/a")) || !cp.after(tie("customer/u/c")) {
		t.Fatal("a tie is not broken by the record id")
	}
	old := Checkpoint{LastEffAt: at, LastDeviceID: "customer:app"}
	if old.after(tie("customer/u/c")) {
		t.Fatal("a checkpoint without its last id resumed on a tie")
	}
}
