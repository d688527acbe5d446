package fieldsyncclient_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	client "fieldsync/clients/go"
	"fieldsync/server/app"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// TestGeneratedClientSyncsAVisit drives a real server (the whole program
// on the embedded store, demo company seeded) with the generated client
// alone: a worker signs in, pulls, pushes one operation of every kind on a
// visit and reads the visit back, with no type assertion and no map.
func TestGeneratedClientSyncsAVisit(t *testing.T) {
	now := func() time.Time { return storetest.Epoch }
	dir := t.TempDir()
	cfg, err := app.LoadConfig(func(k string) string {
		// Seeding the demo company is slow under -race on a busy machine.
		return map[string]string{"PORT": "0", "DATA_DIR": dir, "DRAIN_DELAY": "0", "DEMO": "1", "STORE_START_TIMEOUT": "5m"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := app.Start(t.Context(), cfg, slog.New(slog.DiscardHandler), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(5 * time.Second) })
	ctx := t.Context()
	base := "http://" + srv.Addr()

	anon, err := client.NewClientWithResponses(base)
	if err != nil {
		t.Fatal(err)
	}
	const device = "client-test-phone"
	login, err := anon.PostV1AuthLoginWithResponse(ctx, client.LoginRequest{Login: "worker1", Password: app.DemoPassword, DeviceId: device})
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v %s", err, body(login))
	}
	token := login.JSON200.AccessToken
	c, err := client.NewClientWithResponses(base, client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	pull, err := c.GetV1SyncPullWithResponse(ctx, &client.GetV1SyncPullParams{})
	if err != nil || pull.JSON200 == nil {
		t.Fatalf("pull: %v %s", err, body(pull))
	}
	var visit client.WorkerVisit
	for _, v := range pull.JSON200.Visits {
		if v.Status == client.VisitStatusScheduled && len(v.Checklist) > 0 {
			visit = v
			break
		}
	}
	if visit.Id == "" {
		t.Fatalf("no scheduled visit with a checklist in the pull of %d visits", len(pull.JSON200.Visits))
	}
	visitID := uuid.MustParse(visit.Id)
	item := visit.Checklist[0].Id
	at := visit.ScheduledStart
	seq := int64(0)
	next := func() (int64, uuid.UUID, time.Time) {
		seq++
		at = at.Add(time.Minute)
		return seq, uuid.New(), at
	}
	manual := client.CheckInPayloadMethodManual
	manualOut := client.CheckOutPayloadMethodManual
	reason := "GPS unavailable in the stairwell"
	done := true
	eta := at.Add(10 * time.Minute)
	var items []client.SignOffItem
	for _, it := range visit.Checklist {
		items = append(items, client.SignOffItem{ItemId: it.Id, Accepted: true})
	}
	ops := make([]client.Op, 8)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s, id, when := next()
	must(ops[0].FromRunningLateOp(client.RunningLateOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.RunningLatePayload{Eta: eta}}))
	s, id, when = next()
	must(ops[1].FromCheckInOp(client.CheckInOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.CheckInPayload{Method: &manual, Reason: &reason}}))
	s, id, when = next()
	must(ops[2].FromProgressOp(client.ProgressOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.ProgressPayload{ItemId: &item, Done: &done}}))
	s, id, when = next()
	must(ops[3].FromNoteOp(client.NoteOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.NotePayload{Text: "The balcony door sticks."}}))
	s, id, when = next()
	must(ops[4].FromReportIncidentOp(client.ReportIncidentOp{Seq: s, OpId: id, At: when, VisitId: visitID,
		Payload: &client.ReportIncidentPayload{Category: client.ReportIncidentPayloadCategoryPropertyDamage, Severity: client.ReportIncidentPayloadSeverityLow, Text: "A cracked tile by the sink."}}))
	s, id, when = next()
	must(ops[5].FromCheckOutOp(client.CheckOutOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.CheckOutPayload{Method: &manualOut, Reason: &reason}}))
	s, id, when = next()
	must(ops[6].FromSignOffOp(client.SignOffOp{Seq: s, OpId: id, At: when, VisitId: visitID, Payload: &client.SignOffPayload{Items: items, SignerName: "林先生"}}))
	s, id, when = next()
	must(ops[7].FromRetireOp(client.RetireOp{Seq: s, OpId: id, At: when}))

	push, err := c.PostV1SyncPushWithResponse(ctx, client.Batch{DeviceId: device, SchemaVersion: fsync.SchemaVersion, DeviceClock: at, Ops: ops})
	if err != nil || push.JSON200 == nil {
		t.Fatalf("push: %v %s", err, body(push))
	}
	res := push.JSON200.Results
	if len(res) != len(ops) {
		t.Fatalf("%d results for %d operations: %s", len(res), len(ops), push.Body)
	}
	for i, r := range res {
		kind, _ := ops[i].Discriminator()
		ok := r.Status == client.ResultStatusApplied || r.Status == client.ResultStatusConflict
		if kind == "retire" && fsync.SchemaVersion < 2 {
			// A schemaVersion 1 server does not know retire: unknown kinds
			// are rejected and their seq is used, as the document says.
			ok = r.Status == client.ResultStatusRejected
		}
		if !ok || r.Seq != int64(i+1) {
			t.Errorf("%s (seq %d): %s %v %v", kind, i+1, r.Status, deref(r.Code), deref(r.Message))
		}
	}
	for _, r := range res {
		t.Logf("seq %d: %s %v", r.Seq, r.Status, deref(r.Code))
	}
	if push.JSON200.NextSeq != int64(len(ops)+1) {
		t.Errorf("nextSeq %d, want %d", push.JSON200.NextSeq, len(ops)+1)
	}

	again, err := c.GetV1SyncPullWithResponse(ctx, &client.GetV1SyncPullParams{})
	if err != nil || again.JSON200 == nil {
		t.Fatalf("pull: %v %s", err, body(again))
	}
	i := slices.IndexFunc(again.JSON200.Visits, func(v client.WorkerVisit) bool { return v.Id == visit.Id })
	if i < 0 {
		t.Fatalf("the visit is not in the pull")
	}
	got := again.JSON200.Visits[i]
	if got.Status != client.VisitStatusSignedOff || got.Field.SignOff == nil || got.Field.CheckIn == nil {
		t.Fatalf("visit after the push: status %s, sign-off %v, check-in %v", got.Status, got.Field.SignOff, got.Field.CheckIn)
	}
	if len(got.Field.Notes) != 1 || got.Field.Notes[0].Text != "The balcony door sticks." || len(got.Field.Incidents) != 1 {
		t.Fatalf("notes %+v, incidents %v", got.Field.Notes, got.Field.Incidents)
	}
}

type withBody interface{ Status() string }

func body(r withBody) string {
	if r == nil {
		return "(no response)"
	}
	return r.Status()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
