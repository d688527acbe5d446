package api_test

import (
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// TestMonthlyFigures checks the report against a small month computed by
// hand: worker w1 has three visits in November 2037.
//
//	visit A: checked in 5 min late (on time), out, signed off, rating 5/4/4/3
//	visit B: checked in 20 min late (not on time), out, one item disputed,
//	         rating 3/2/4/4, then a rework planned; one incident; one complaint
//	visit C: never checked in
//
// So: visitsDone 2, checkIns 2, onTime 1 (0.5), rated 2, averages
// 4/3/4/3.5, disputes 1, reworks 1, incidents 1, complaints 1.
func TestMonthlyFigures(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	mk := func(day int) *office.VisitView {
		v, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
			ScheduledStart: time.Date(2037, 11, day, 9, 0, 0, 0, sh), WorkerID: w.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b, _ := mk(25), mk(26), mk(27)
	w = refreshTokensAfter(t, w, time.Date(2037, 11, 27, 18, 0, 0, 0, sh))
	p := w.phone("wk.one", "phone-1")
	sign := func(v *office.VisitView, kitchenOK bool, r [4]int) map[string]any {
		return map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": kitchenOK, "reason": "不干净"}, {"itemId": "floors", "accepted": true}},
			"rating": map[string]any{"attitude": r[0], "quality": r[1], "efficiency": r[2], "price": r[3]}}
	}
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, a.ID, a.ScheduledStart.Add(5 * time.Minute), map[string]any{"location": near}},
		opSpec{fsync.KindCheckOut, a.ID, a.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}},
		opSpec{fsync.KindSignOff, a.ID, a.ScheduledStart.Add(3*time.Hour + time.Minute), sign(a, true, [4]int{5, 4, 4, 3})},
		opSpec{fsync.KindCheckIn, b.ID, b.ScheduledStart.Add(20 * time.Minute), map[string]any{"location": near}},
		opSpec{fsync.KindIncident, b.ID, b.ScheduledStart.Add(time.Hour), map[string]any{"category": "other", "severity": "low", "text": "花瓶有裂"}},
		opSpec{fsync.KindCheckOut, b.ID, b.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}},
		opSpec{fsync.KindSignOff, b.ID, b.ScheduledStart.Add(3*time.Hour + time.Minute), sign(b, false, [4]int{3, 2, 4, 4})},
	))
	if s := statuses(resp); strings.Count(s, "applied")+strings.Count(s, "conflict") != 7 {
		t.Fatalf("pushes: %s", statuses(resp))
	}
	f.do("POST", "/v1/visits/"+b.ID+"/rework", map[string]any{"scheduledStart": time.Date(2037, 11, 28, 9, 0, 0, 0, sh)}, w.s1).want(201)
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "厨房不干净", "visitId": b.ID}, w.cu1).want(201)

	var rep office.MonthlyFigures
	f.do("GET", "/v1/reports/monthly?month=2037-11", nil, w.s1).want(200).decode(&rep)
	var got *office.WorkerFigures
	for i := range rep.Workers {
		if rep.Workers[i].WorkerID == w.w1.ID {
			got = &rep.Workers[i]
		}
	}
	if got == nil {
		t.Fatalf("no figures for w1: %+v", rep.Workers)
	}
	want := office.WorkerFigures{WorkerID: w.w1.ID, Name: w.w1.Name, Team: "team-1", VisitsDone: 2, CheckIns: 2, OnTime: 1, OnTimeRate: 0.5, Rated: 2,
		AvgAttitude: 4, AvgQuality: 3, AvgEfficiency: 4, AvgPrice: 3.5, Disputes: 1, Reworks: 1, Complaints: 1, Incidents: 1}
	if *got != want {
		t.Fatalf("figures\n got %+v\nwant %+v", *got, want)
	}
	if len(rep.Teams) != 1 || rep.Teams[0].VisitsDone != 2 || rep.Teams[0].OnTimeRate != 0.5 || rep.Teams[0].Complaints != 1 {
		t.Fatalf("team roll-up %+v", rep.Teams)
	}
	// The same month asked again later gives the same numbers.
	f.clock.Add(40 * 24 * time.Hour)
	again := f.login("sup.one", "office").AccessToken
	var later office.MonthlyFigures
	f.do("GET", "/v1/reports/monthly?month=2037-11", nil, again).want(200).decode(&later)
	for i := range later.Workers {
		if later.Workers[i].WorkerID == w.w1.ID && later.Workers[i] != want {
			t.Fatalf("a past month changed: %+v", later.Workers[i])
		}
	}
	csv := f.do("GET", "/v1/reports/monthly?month=2037-11&format=csv", nil, again).want(200)
	if !strings.HasPrefix(string(csv.body), "month,scope,team,workerId") || !strings.Contains(string(csv.body), "worker,team-1,"+w.w1.ID) {
		t.Fatalf("csv:\n%s", csv.body)
	}
	f.do("GET", "/v1/reports/monthly?month=11-2037", nil, again).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/monthly?format=xml", nil, again).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/monthly", nil, f.login("wk.one", "x").AccessToken).wantError(403, schemas.EFORBIDDEN)
}
