package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// TestEscalationEndToEnd: through the running server, a worker escalates
// from the door; the supervisor finds an escalation alert in the feed and
// the household's phone is told, through the local FCM endpoint, the time
// promised (receipt plus ESCALATION_URGENT, in Asia/Shanghai), never what
// the worker wrote. The supervisor promises a later time (the household is
// told it, not the reason); past it the SLA sweep raises one
// escalation_overdue alert however often it runs; the resolution reaches
// the household without the outcome, and a second resolve is a 409.
func TestEscalationEndToEnd(t *testing.T) {
	f := newTellFixture(t, "", map[string]string{"FIELDSYNC_ESCALATION_URGENT": "45m"})
	ctx, sys := t.Context(), office.System
	base := "http://" + f.srv.Addr()
	start := f.clk.Now().Add(3 * time.Hour) // 20:00 in Shanghai; now is 17:00
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	f.sent("visit_booked")
	for _, u := range []schemas.NewUser{
		{Login: "wk.1", Password: "worker password", Name: "wk", Role: schemas.RoleWorker, WorkerID: f.w1.ID, Team: "team-1"},
		{Login: "sv.1", Password: "supervisor password", Name: "sv", Role: schemas.RoleSupervisor, Team: "team-1"},
		{Login: "sv.2", Password: "supervisor password", Name: "sv2", Role: schemas.RoleSupervisor, Team: "team-2"},
	} {
		if _, err := f.srv.Auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	login := func(login, password string) string {
		st, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": login, "password": password, "deviceId": "dev-" + login})
		if st != 200 {
			t.Fatalf("login %s: %d %v", login, st, out)
		}
		return out["accessToken"].(string)
	}
	wk, sv, sv2 := login("wk.1", "worker password"), login("sv.1", "supervisor password"), login("sv.2", "supervisor password")
	opID := schemas.NewIDAt(f.clk.Now())
	push := map[string]any{"deviceId": "dev-wk.1", "schemaVersion": fsync.SchemaVersion, "deviceClock": f.clk.Now().Add(-2 * time.Hour),
		"ops": []any{map[string]any{"seq": 1, "opId": opID, "kind": fsync.KindEscalate, "visitId": v.ID, "at": f.clk.Now().Add(-2 * time.Hour),
			"payload": map[string]any{"topic": "scope_dispute", "urgency": "urgent", "text": "客户要求额外清洗地毯，订单里没有"}}}}
	for range 2 { // the phone sends it again: one escalation, told once
		if st, out := call(t, "POST", base+"/v1/sync/push", wk, push); st != 200 {
			t.Fatalf("push: %d %v", st, out)
		}
	}
	id := fsync.EscalationID(opID)
	alerts := func(kind string) []map[string]any {
		t.Helper()
		st, out := call(t, "GET", base+"/v1/alerts?kind="+kind, sv, nil)
		if st != 200 {
			t.Fatalf("alerts: %d %v", st, out)
		}
		var got []map[string]any
		for _, a := range out["items"].([]any) {
			got = append(got, a.(map[string]any))
		}
		return got
	}
	if as := alerts(fsync.AlertEscalation); len(as) != 1 || as[0]["priority"] != "high" || as[0]["visitId"] != v.ID {
		t.Fatalf("escalation alerts: %+v", as)
	}
	m := f.told("escalation_received", "11月24日 17:45")
	if d := m["data"].(map[string]any); d["escalationId"] != id || d["promisedBy"] != "2037-11-24T09:45:00Z" || strings.Contains(fmt.Sprint(m), "地毯") {
		t.Fatalf("received: %+v", m)
	}

	st, out := call(t, "GET", base+"/v1/escalations/"+id, sv, nil)
	if st != 200 || out["status"] != schemas.EscalationOpen || out["promisedBy"] != "2037-11-24T09:45:00Z" {
		t.Fatalf("escalation: %d %v", st, out)
	}
	version := out["version"].(float64)
	if st, _ := call(t, "GET", base+"/v1/escalations/"+id, sv2, nil); st != 404 {
		t.Fatalf("another team's supervisor reads it: %d", st)
	}
	if st, out := call(t, "GET", base+"/v1/visits/"+v.ID, wk, nil); st != 200 || fmt.Sprint(out["field"].(map[string]any)["escalations"]) != "["+id+"]" {
		t.Fatalf("the worker's visit: %d %v", st, out["field"])
	}

	// A new promise: later than now and the first; the household hears the time.
	later := time.Date(2037, 11, 24, 11, 30, 0, 0, time.UTC) // 19:30 in Shanghai
	st, out = call(t, "POST", base+"/v1/escalations/"+id+"/actions", sv, map[string]any{"action": "promise", "promisedBy": later, "reason": "需主管上门核实", "version": version})
	if st != 200 || out["promisedBy"] != later.Format(time.RFC3339) {
		t.Fatalf("promise: %d %v", st, out)
	}
	if st, out := call(t, "POST", base+"/v1/escalations/"+id+"/actions", sv, map[string]any{"action": "acknowledge", "version": version}); st != 409 {
		t.Fatalf("a step on a stale version: %d %v", st, out)
	}
	m = f.told("escalation_delayed", "11月24日 19:30")
	if strings.Contains(fmt.Sprint(m), "主管") {
		t.Fatalf("the office's reason reached the household: %+v", m)
	}

	// Overdue: nothing before the promise, then one alert however often the sweep runs.
	if n, err := f.srv.Office.EscalateOverdue(ctx); err != nil || n != 0 {
		t.Fatalf("before the promise: %d %v", n, err)
	}
	f.clk.Add(later.Add(time.Minute).Sub(f.clk.Now()))
	for range 3 {
		if _, err := f.srv.Office.EscalateOverdue(ctx); err != nil {
			t.Fatal(err)
		}
		f.clk.Add(20 * time.Minute) // past the coalescing window
	}
	sv = login("sv.1", "supervisor password")
	if as := alerts(office.AlertEscalationOverdue); len(as) != 1 || as[0]["priority"] != "high" {
		t.Fatalf("escalation_overdue alerts: %+v", as)
	}
	if st, out := call(t, "GET", base+"/v1/escalations?overdue=true", sv, nil); st != 200 || len(out["items"].([]any)) != 1 {
		t.Fatalf("overdue queue: %d %v", st, out)
	}

	st, out = call(t, "POST", base+"/v1/escalations/"+id+"/actions", sv, map[string]any{"action": "resolve", "outcome": "已与客户商定下次加做地毯清洗"})
	if st != 200 || out["status"] != schemas.EscalationResolved {
		t.Fatalf("resolve: %d %v", st, out)
	}
	m = f.told("escalation_resolved", "")
	if d := m["data"].(map[string]any); d["escalationId"] != id || strings.Contains(fmt.Sprint(m), "地毯") {
		t.Fatalf("resolved: %+v", m)
	}
	if st, out := call(t, "POST", base+"/v1/escalations/"+id+"/actions", sv, map[string]any{"action": "resolve", "outcome": "again"}); st != 409 {
		t.Fatalf("resolve twice: %d %v", st, out)
	}
	if st, out := call(t, "GET", base+"/v1/escalations?overdue=true", sv, nil); st != 200 || len(out["items"].([]any)) != 0 {
		t.Fatalf("overdue queue after resolve: %d %v", st, out)
	}
}
