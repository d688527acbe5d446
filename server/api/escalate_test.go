package api_test

import (
	"context"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// escalated pushes an escalation on v1 from wk.one's phone and returns
// its id.
func (w *world) escalated(p *phone, urgency string) string {
	w.f.t.Helper()
	ops := p.ops(opSpec{kind: fsync.KindEscalate, visit: w.v1.ID, at: w.f.clock.Now().Add(-time.Minute),
		payload: map[string]any{"topic": "access_problem", "urgency": urgency, "text": "门禁密码不对，客户电话打不通"}})
	if got := statuses(p.mustPush(ops)); got != "applied" {
		w.f.t.Fatalf("escalate: %s", got)
	}
	return fsync.EscalationID(ops[0]["opId"].(string))
}

// TestEscalationBadInput: through the API, bad escalations are rejected
// on the phone; on the office routes a bad or illegal step is a 4xx with
// its code and leaves the escalation as it was; roles and teams see only
// what is theirs.
func TestEscalationBadInput(t *testing.T) {
	w := newWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-e")
	at := f.clock.Now().Add(-time.Minute)
	resp := p.mustPush(p.ops(
		opSpec{kind: fsync.KindEscalate, visit: w.v1.ID, at: at, payload: map[string]any{"topic": "weather", "urgency": "normal", "text": "x"}},
		opSpec{kind: fsync.KindEscalate, visit: w.v1.ID, at: at, payload: map[string]any{"topic": "other", "urgency": "now", "text": "x"}},
		opSpec{kind: fsync.KindEscalate, visit: w.v1.ID, at: at, payload: map[string]any{"topic": "other", "urgency": "normal"}},
		opSpec{kind: fsync.KindEscalate, visit: w.v2.ID, at: at, payload: map[string]any{"topic": "other", "urgency": "normal", "text": "not mine"}},
	))
	if got := statuses(resp); got != "rejected:invalid,rejected:invalid,rejected:invalid,rejected:not_yours" {
		t.Fatalf("bad escalations: %s", got)
	}
	id := w.escalated(p, "normal")

	ctx := t.Context()
	for _, u := range []schemas.NewUser{{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"},
		{Login: "wk.two", Role: schemas.RoleWorker, WorkerID: w.w2.ID, Team: "team-2"}} {
		u.Password, u.Name = testPassword, u.Login
		if _, err := f.auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s2, wk2 := f.login("sup.two", "office").AccessToken, f.login("wk.two", "phone").AccessToken
	path := "/v1/escalations/" + id + "/actions"
	now := f.clock.Now()
	for _, c := range []struct {
		name   string
		body   any
		token  string
		status int
		code   string
	}{
		{"promise in the past", map[string]any{"action": "promise", "promisedBy": now.Add(-time.Hour), "reason": "晚了"}, w.s1, 400, schemas.EINVALID},
		{"promise before the current one", map[string]any{"action": "promise", "promisedBy": now.Add(time.Hour), "reason": "提前"}, w.s1, 400, schemas.EINVALID},
		{"promise too far", map[string]any{"action": "promise", "promisedBy": now.Add(60 * 24 * time.Hour), "reason": "很久"}, w.s1, 400, schemas.EINVALID},
		{"promise without a reason", map[string]any{"action": "promise", "promisedBy": now.Add(6 * time.Hour)}, w.s1, 400, schemas.EINVALID},
		{"promise without a time", map[string]any{"action": "promise", "reason": "x"}, w.s1, 400, schemas.EINVALID},
		{"resolve without an outcome", map[string]any{"action": "resolve"}, w.s1, 400, schemas.EINVALID},
		{"unknown action", map[string]any{"action": "close"}, w.s1, 400, schemas.EINVALID},
		{"action of the wrong type", map[string]any{"action": 3}, w.s1, 400, schemas.EINVALID},
		{"a $ key", map[string]any{"action": "acknowledge", "$set": map[string]any{"status": "resolved"}}, w.s1, 400, schemas.EINVALID},
		{"another team's supervisor", map[string]any{"action": "acknowledge"}, s2, 404, schemas.ENOTFOUND},
		{"the worker", map[string]any{"action": "acknowledge"}, w.wk1, 403, schemas.EFORBIDDEN},
		{"the customer", map[string]any{"action": "acknowledge"}, w.cu1, 403, schemas.EFORBIDDEN},
		{"a stale version", map[string]any{"action": "acknowledge", "version": 7}, w.s1, 409, schemas.ECONFLICT},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.do("POST", path, c.body, c.token).wantError(c.status, c.code)
		})
	}
	f.do("POST", "/v1/escalations/"+schemas.NewID()+"/actions", map[string]any{"action": "acknowledge"}, w.s1).wantError(404, schemas.ENOTFOUND)
	var e schemas.Escalation
	f.do("GET", "/v1/escalations/"+id, nil, w.s1).want(200).decode(&e)
	if e.Status != schemas.EscalationOpen || e.Version != 1 || len(e.Events) != 0 || !e.PromisedBy.Equal(now.Add(fsync.DefaultEscalationNormal)) {
		t.Fatalf("after the bad steps: %+v", e)
	}

	// Who sees it.
	f.do("GET", "/v1/escalations", nil, w.cu1).wantError(403, schemas.EFORBIDDEN)
	f.do("GET", "/v1/escalations/"+id, nil, w.cu1).wantError(403, schemas.EFORBIDDEN)
	f.do("GET", "/v1/escalations/"+id, nil, wk2).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/escalations?overdue=maybe", nil, w.s1).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/escalations?visitId=nope", nil, w.s1).wantError(400, schemas.EINVALID)
	count := func(token, query string) int {
		var pg schemas.Page[map[string]any]
		f.do("GET", "/v1/escalations"+query, nil, token).want(200).decode(&pg)
		return len(pg.Items)
	}
	for _, c := range []struct {
		token, query string
		want         int
	}{{w.s1, "", 1}, {s2, "", 0}, {wk2, "", 0}, {w.wk1, "", 1}, {w.s1, "?open=true", 1}, {w.s1, "?overdue=true", 0},
		{w.s1, "?visitId=" + w.v2.ID, 0}, {w.s1, "?workerId=" + w.w1.ID, 1}, {w.admin, "?visitId=" + w.v1.ID, 1}} {
		if n := count(c.token, c.query); n != c.want {
			t.Errorf("GET /v1/escalations%s: %d items, want %d", c.query, n, c.want)
		}
	}

	// The legal steps, then the illegal ones after resolve.
	f.do("POST", path, map[string]any{"action": "acknowledge", "version": 1}, w.s1).want(200)
	f.do("POST", path, map[string]any{"action": "acknowledge"}, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("POST", path, map[string]any{"action": "resolve", "outcome": "物业开门后完成服务"}, w.s1).want(200)
	f.do("POST", path, map[string]any{"action": "resolve", "outcome": "again"}, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("POST", path, map[string]any{"action": "promise", "promisedBy": now.Add(8 * time.Hour), "reason": "x"}, w.s1).wantError(409, schemas.ECONFLICT)

	// The worker's view: the state and the promise, not the office's outcome or notes.
	var wv map[string]any
	f.do("GET", "/v1/escalations/"+id, nil, w.wk1).want(200).decode(&wv)
	if wv["status"] != schemas.EscalationResolved || wv["outcome"] != nil || wv["events"] != nil || wv["promisedBy"] == nil {
		t.Fatalf("the worker's view: %+v", wv)
	}
	var audit schemas.Page[schemas.AuditEntry]
	f.do("GET", "/v1/audit/escalation/"+id, nil, w.admin).want(200).decode(&audit)
	if len(audit.Items) != 2 {
		t.Fatalf("%d audit entries, want acknowledge and resolve", len(audit.Items))
	}
}

// TestEscalationOverdueOncePerPromise: an escalation past its promise
// raises escalation_overdue once; a new promise, once past, raises one
// more; a resolved one none.
func TestEscalationOverdueOncePerPromise(t *testing.T) {
	w := newWorld(t)
	f := w.f
	id := w.escalated(w.phone("wk.one", "phone-o"), "urgent")
	sweep := func(times int) {
		for range times {
			if _, err := f.office.EscalateOverdue(t.Context()); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(15 * time.Minute)
		}
	}
	overdue := func() int {
		feed, err := f.office.Alerts(t.Context(), sysAdmin, office.Page{Filter: office.Filter{Kind: office.AlertEscalationOverdue}})
		if err != nil {
			t.Fatal(err)
		}
		return len(feed.Items)
	}
	sweep(3) // 45 minutes: within the hour promised
	if n := overdue(); n != 0 {
		t.Fatalf("%d overdue alerts before the promise", n)
	}
	sweep(4)
	if n := overdue(); n != 1 {
		t.Fatalf("%d overdue alerts past the first promise, want 1", n)
	}
	if _, err := f.office.ActOnEscalation(t.Context(), sysAdmin, id, office.EscalationAction{Action: "promise", PromisedBy: new(f.clock.Now().Add(time.Hour)), Reason: "备件在路上"}); err != nil {
		t.Fatal(err)
	}
	sweep(6)
	if n := overdue(); n != 2 {
		t.Fatalf("%d overdue alerts past the second promise, want 2", n)
	}
	if _, err := f.office.ActOnEscalation(t.Context(), sysAdmin, id, office.EscalationAction{Action: "resolve", Outcome: "已处理"}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.office.EscalateOverdue(t.Context()); err != nil || n != 0 {
		t.Fatalf("after resolve the sweep raised %d (%v)", n, err)
	}
}

// TestSLASweepRaisesEscalationOverdue: the periodic sweep that raises
// assignment_unanswered also raises escalation_overdue.
func TestSLASweepRaisesEscalationOverdue(t *testing.T) {
	w := newWorld(t)
	f := w.f
	w.escalated(w.phone("wk.one", "phone-s"), "urgent")
	f.clock.Add(fsync.DefaultEscalationUrgent + time.Minute)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.office.RunSLA(ctx, 5*time.Millisecond) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second) // the wall clock only bounds the wait
	for {
		feed, err := f.office.Alerts(t.Context(), sysAdmin, office.Page{Filter: office.Filter{Kind: office.AlertEscalationOverdue}})
		if err != nil {
			t.Fatal(err)
		}
		if len(feed.Items) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no escalation_overdue alert from the sweep: %+v", feed.Items)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
