package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
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
