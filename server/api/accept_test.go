package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// accept records workerID's acceptance of visitID's assignment, from a
// phone of its own, as the worker's app does before the household may
// see the worker.
func (f *fixture) accept(workerID, visitID string) {
	f.t.Helper()
	act := &schemas.Actor{UserID: "accept-" + workerID, Role: schemas.RoleWorker, WorkerID: workerID, DeviceID: f.newID()}
	b := &fsync.Batch{DeviceID: act.DeviceID, SchemaVersion: fsync.SchemaVersion, DeviceClock: f.clock.Now(),
		Ops: []fsync.Op{{Seq: 1, OpID: f.newID(), Kind: fsync.KindAccept, VisitID: visitID, At: f.clock.Now()}}}
	resp, err := f.sync.Push(f.t.Context(), act, b)
	if err != nil {
		f.t.Fatal(err)
	}
	if r := resp.Results[0]; r.Status != fsync.StatusApplied {
		f.t.Fatalf("accept: %+v", r)
	}
}

// TestCustomerSeesWorkerOnceAccepted: through the API, the household sees
// no worker until the worker accepts from the phone; a decline (with its
// reason) hides the worker again and puts the visit in the supervisor's
// alert feed; a decline without a reason is rejected.
func TestCustomerSeesWorkerOnceAccepted(t *testing.T) {
	w := newWorld(t)
	worker := func() *schemas.PublicWorker {
		var cv struct {
			Worker *schemas.PublicWorker `json:"worker"`
		}
		w.f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.cu1).want(200).decode(&cv)
		return cv.Worker
	}
	if p := worker(); p != nil {
		t.Fatalf("the customer sees %s before the worker accepted", p.Name)
	}
	p := w.phone("wk.one", "phone-a")
	at := w.f.clock.Now().Add(-time.Minute)
	resp := p.mustPush(p.ops(
		opSpec{kind: fsync.KindDecline, visit: w.v1.ID, at: at, payload: map[string]any{"text": "no reason given"}},
		opSpec{kind: fsync.KindAccept, visit: w.v1.ID, at: at, payload: map[string]any{}},
	))
	if got := statuses(resp); got != "rejected:invalid,applied" {
		t.Fatalf("push: %s", got)
	}
	if p := worker(); p == nil || p.Name != w.w1.Name {
		t.Fatalf("after the accept the customer sees %+v", p)
	}
	resp = p.mustPush(p.ops(opSpec{kind: fsync.KindDecline, visit: w.v1.ID, at: at.Add(30 * time.Second), payload: map[string]any{"reason": "too_far"}}))
	if got := statuses(resp); got != "applied" {
		t.Fatalf("decline: %s", got)
	}
	if p := worker(); p != nil {
		t.Fatalf("after the decline the customer sees %s", p.Name)
	}
	var feed schemas.Page[schemas.Alert]
	w.f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	found := false
	for _, a := range feed.Items {
		found = found || (a.Kind == fsync.AlertDeclined && a.VisitID == w.v1.ID)
	}
	if !found {
		t.Fatalf("no assignment_declined alert in the feed: %+v", feed.Items)
	}
}

// TestUnansweredAssignmentAlertsOnce: with ASSIGNMENT_ANSWER_BY at 12h,
// nothing is due a day ahead; 11h before the start the unanswered visit
// (v1) raises one assignment_unanswered alert, however often the check
// runs, and the accepted one (v2) none.
func TestUnansweredAssignmentAlertsOnce(t *testing.T) {
	w := newWorld(t)
	f := w.f
	f.office.SetAnswerBy(12 * time.Hour)
	f.accept(w.w2.ID, w.v2.ID)
	count := func(visitID string) int {
		var feed schemas.Page[schemas.Alert]
		f.do("GET", "/v1/alerts", nil, w.admin).want(200).decode(&feed)
		n := 0
		for _, a := range feed.Items {
			if a.Kind == office.AlertUnanswered && a.VisitID == visitID {
				n++
			}
		}
		return n
	}
	if _, err := f.office.EscalateUnanswered(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count(w.v1.ID); n != 0 {
		t.Fatalf("%d alerts a day ahead, want none", n)
	}
	f.clock.Add(w.v1.ScheduledStart.Add(-11 * time.Hour).Sub(f.clock.Now()))
	for range 3 {
		if _, err := f.office.EscalateUnanswered(t.Context()); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(20 * time.Minute) // past the coalescing window
	}
	w.admin = f.login("admin.o", "office").AccessToken
	if n := count(w.v1.ID); n != 1 {
		t.Fatalf("%d assignment_unanswered alerts for the unanswered visit, want 1", n)
	}
	if n := count(w.v2.ID); n != 0 {
		t.Fatalf("%d alerts for the accepted visit, want none", n)
	}
}

// TestReassignBackNeedsNewAcceptance: through the office API, a visit its
// worker accepted goes to another worker and back; the household sees no
// worker until the worker accepts the new assignment, and the visit shows
// when that assignment was made.
func TestReassignBackNeedsNewAcceptance(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w3, err := w.f.office.CreateWorker(ctx, sysAdmin, workerInput("李娟", "team-1", "+8613800000301"))
	if err != nil {
		t.Fatal(err)
	}
	worker := func() *schemas.PublicWorker {
		var cv struct {
			Worker *schemas.PublicWorker `json:"worker"`
		}
		w.f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.cu1).want(200).decode(&cv)
		return cv.Worker
	}
	w.f.clock.Add(time.Minute)
	w.f.accept(w.w1.ID, w.v1.ID)
	if p := worker(); p == nil {
		t.Fatal("no worker after the accept")
	}
	for _, to := range []string{w3.ID, w.w1.ID} {
		w.f.clock.Add(3 * time.Minute) // more than the phones' MaxSkew apart
		w.f.do("POST", "/v1/visits/"+w.v1.ID+"/reassign", map[string]any{"workerId": to}, w.s1).want(200)
	}
	var v schemas.Visit
	w.f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.s1).want(200).decode(&v)
	if !v.AssignedAt.Equal(schemas.AssignedAt(w.f.clock.Now())) {
		t.Fatalf("assignedAt %s, want the last reassign's %s", v.AssignedAt, w.f.clock.Now().UTC())
	}
	if p := worker(); p != nil {
		t.Fatalf("after A, B, A the household sees %s on the first assignment's acceptance", p.Name)
	}
	w.f.clock.Add(time.Minute)
	w.f.accept(w.w1.ID, w.v1.ID)
	if p := worker(); p == nil || p.Name != w.w1.Name {
		t.Fatalf("after the new acceptance the household sees %+v", p)
	}
}

// TestAnswerDeadline: an assignment is due ASSIGNMENT_ANSWER_BY after it
// was made, at the latest at the start. A visit assigned five days ahead
// alerts a day after the assignment, not a day before its start; one
// assigned two hours ahead alerts at its start, not at once; a reassign
// back to the same worker starts a deadline (and an alert) of its own.
func TestAnswerDeadline(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	f.office.SetAnswerBy(24 * time.Hour)
	f.accept(w.w1.ID, w.v1.ID)
	f.accept(w.w2.ID, w.v2.ID)
	w3, err := f.office.CreateWorker(ctx, sysAdmin, workerInput("李娟", "team-1", "+8613800000302"))
	if err != nil {
		t.Fatal(err)
	}
	plan := func(start time.Time) string {
		t.Helper()
		v, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID, ScheduledStart: start, WorkerID: w.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	ahead := plan(f.clock.Now().Add(5 * 24 * time.Hour).Truncate(time.Hour))
	soon := plan(f.clock.Now().Add(2 * time.Hour))
	start := f.clock.Now()
	alerts := func(visitID string) int {
		t.Helper()
		if _, err := f.office.EscalateUnanswered(ctx); err != nil {
			t.Fatal(err)
		}
		var feed schemas.Page[schemas.Alert]
		f.do("GET", "/v1/alerts?limit=200", nil, f.login("admin.o", "office").AccessToken).want(200).decode(&feed)
		n := 0
		for _, a := range feed.Items {
			if a.Kind == office.AlertUnanswered && a.VisitID == visitID {
				n++
			}
		}
		return n
	}
	at := func(d time.Duration) { f.clock.Add(start.Add(d).Sub(f.clock.Now())) }
	if n := alerts(soon); n != 0 {
		t.Fatalf("the short-notice visit alerts at once (%d), want half way to its start", n)
	}
	at(59 * time.Minute)
	if n := alerts(soon); n != 0 {
		t.Fatalf("the short-notice visit alerts before half way to its start (%d)", n)
	}
	at(time.Hour + time.Minute)
	if n := alerts(soon); n != 1 {
		t.Fatalf("the short-notice visit half way to its start: %d alerts, want 1", n)
	}
	at(23 * time.Hour)
	if n := alerts(ahead); n != 0 {
		t.Fatalf("%d alerts 23h after the assignment, want none", n)
	}
	at(25 * time.Hour)
	if n := alerts(ahead); n != 1 {
		t.Fatalf("%d alerts 25h after the assignment (4 days before the start), want 1", n)
	}
	// To w3 and back: a new assignment, due a day later, with an alert of its own.
	sup := f.login("sup.one", "office").AccessToken
	for _, to := range []string{w3.ID, w.w1.ID} {
		f.do("POST", "/v1/visits/"+ahead+"/reassign", map[string]any{"workerId": to}, sup).want(200)
	}
	at(48 * time.Hour)
	if n := alerts(ahead); n != 1 {
		t.Fatalf("%d alerts before the new assignment is due, want still 1", n)
	}
	at(50 * time.Hour)
	if n := alerts(ahead); n != 2 {
		t.Fatalf("%d alerts once the new assignment is due too, want 2", n)
	}
}
