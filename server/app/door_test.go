package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// TestCustomerToldWorkerWaiting: the worker's record at the door, pushed
// through /v1/sync/push, reaches the household's phone through the local
// FCM endpoint at once, in quiet hours too (the visit is now), and once
// however often the phone sends it; the office's no-show then reaches it
// too, outside quiet hours, with whose no-show it was. Meanwhile the
// scheduler raises no late or missed alert about the worker at the door.
func TestCustomerToldWorkerWaiting(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	base := "http://" + f.srv.Addr()
	start := f.clk.Now().Add(4 * time.Hour) // 21:00 in Shanghai: quiet hours
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Auth.CreateUser(ctx, schemas.NewUser{Login: "wk.1", Password: "worker password", Name: "wk", Role: schemas.RoleWorker, WorkerID: f.w1.ID, Team: "team-1"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(start.Add(15 * time.Minute).Sub(f.clk.Now()))
	_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "wk.1", "password": "worker password", "deviceId": "wphone"})
	push := map[string]any{"deviceId": "wphone", "schemaVersion": fsync.SchemaVersion, "deviceClock": f.clk.Now(),
		"ops": []any{map[string]any{"seq": 1, "opId": schemas.NewIDAt(f.clk.Now()), "kind": fsync.KindCustomerAbsent, "visitId": v.ID, "at": f.clk.Now().Add(-time.Minute),
			"payload": map[string]any{"location": map[string]any{"lat": 31.2, "lng": 121.45, "accuracyM": 10}, "waitedMinutes": 15, "photos": []string{strings.Repeat("a", 64)}}}}}
	for range 2 { // the phone sends it again: told once
		if st, out := call(t, "POST", base+"/v1/sync/push", out["accessToken"].(string), push); st != 200 {
			t.Fatalf("push: %d %v", st, out)
		}
	}
	m := f.told("worker_waiting", "门口")
	if d := m["data"].(map[string]any); d["visitId"] != v.ID {
		t.Fatalf("worker_waiting data %+v", d)
	}
	// At high priority: the household must see it while the worker waits.
	if android, _ := m["android"].(map[string]any); android["priority"] != "high" {
		t.Fatalf("worker_waiting android %+v, want high priority", android)
	}

	// The worker is at the door: not late, not missed.
	f.clk.Add(time.Hour)
	if err := f.srv.Reminder.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	alerts, err := f.srv.Store.Cases.ListAlerts(ctx, store.AlertQuery{AllTeams: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts.Items {
		if a.VisitID == v.ID && a.Kind != fsync.AlertCustomerNotHome {
			t.Fatalf("alert %s about a worker at the door", a.Kind)
		}
	}

	if _, err := f.srv.Office.ActOnVisit(ctx, sys, v.ID, office.VisitAction{Kind: office.ActNoShow, Party: schemas.NoShowCustomer, Reason: "敲门无人应答"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sent("visit_no_show")); n != 0 {
		t.Fatalf("%d visit_no_show messages in quiet hours", n)
	}
	f.clk.Add(11 * time.Hour) // 09:15 the next morning
	m = f.told("visit_no_show", "11月24日 21:00")
	if d := m["data"].(map[string]any); d["party"] != schemas.NoShowCustomer || d["visitId"] != v.ID || strings.Contains(fmt.Sprint(m), "敲门") {
		t.Fatalf("visit_no_show %+v: want the party, not the office's reason", m)
	}
}

// TestWorkerWaitingNotToldLate: a record at the door that reaches the
// server hours later (the phone had no signal at the door) tells the
// household nothing: the worker is no longer waiting, and at 23:00 a
// high-priority "at your door" would be false and wake them.
func TestWorkerWaitingNotToldLate(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	base := "http://" + f.srv.Addr()
	start := f.clk.Now().Add(4 * time.Hour) // 21:00 in Shanghai: quiet hours
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Auth.CreateUser(ctx, schemas.NewUser{Login: "wk.1", Password: "worker password", Name: "wk", Role: schemas.RoleWorker, WorkerID: f.w1.ID, Team: "team-1"}); err != nil {
		t.Fatal(err)
	}
	door := start.Add(15 * time.Minute)
	f.clk.Add(door.Add(2 * time.Hour).Sub(f.clk.Now()))
	_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "wk.1", "password": "worker password", "deviceId": "wphone"})
	push := map[string]any{"deviceId": "wphone", "schemaVersion": fsync.SchemaVersion, "deviceClock": f.clk.Now(),
		"ops": []any{map[string]any{"seq": 1, "opId": schemas.NewIDAt(door), "kind": fsync.KindCustomerAbsent, "visitId": v.ID, "at": door,
			"payload": map[string]any{"location": map[string]any{"lat": 31.2, "lng": 121.45, "accuracyM": 10}, "waitedMinutes": 15, "photos": []string{strings.Repeat("a", 64)}}}}}
	if st, out := call(t, "POST", base+"/v1/sync/push", out["accessToken"].(string), push); st != 200 {
		t.Fatalf("push: %d %v", st, out)
	}
	if ms := f.sent("worker_waiting"); len(ms) != 0 {
		t.Fatalf("worker_waiting told two hours after the door: %+v", ms)
	}
}
