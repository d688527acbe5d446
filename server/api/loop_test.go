package api_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// checkedOut makes the worker's phone check in and out of v1.
func checkedOut(t *testing.T, w *world) *phone {
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": near}},
		opSpec{fsync.KindCheckOut, w.v1.ID, at.Add(3 * time.Hour), map[string]any{"location": near}},
	))
	if statuses(resp) != "applied,applied" {
		t.Fatalf("check in/out: %s", statuses(resp))
	}
	return p
}

func TestCustomerConfirms(t *testing.T) {
	w := newWorld(t)
	f := w.f
	var v struct {
		Status string `json:"status"`
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/confirm", nil, w.cu1).want(200).decode(&v)
	if v.Status != string(schemas.VisitConfirmed) {
		t.Fatalf("status %s", v.Status)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/confirm", nil, w.cu1).want(200) // twice is fine
	f.do("POST", "/v1/visits/"+w.v2.ID+"/confirm", nil, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/confirm", nil, w.wk1).wantError(403, schemas.EFORBIDDEN)
	// The office moving it drops the confirmation; the customer confirms again.
	later := w.v1.ScheduledStart.Add(time.Hour)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"scheduledStart": later, "scheduledEnd": later.Add(time.Hour)}, w.s1).want(200)
	var again struct {
		Status string `json:"status"`
	}
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.cu1).want(200).decode(&again)
	if again.Status != string(schemas.VisitScheduled) {
		t.Fatalf("after reschedule: %s", again.Status)
	}
}

// TestCustomerSignOffThenPhone: the household signs off in its app with a
// disputed item; the worker's phone then syncs a sign-off it captured
// earlier, offline. The first in time stands (the phone's), whatever
// arrived first: the state must not depend on arrival order. The app's
// dispute is kept as a conflict for review, nothing is lost.
func TestCustomerSignOffThenPhone(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	body := func(op string, accepted bool) map[string]any {
		return map[string]any{"opId": op, "signerName": "林先生", "rating": map[string]any{"attitude": 5, "quality": 2, "efficiency": 4, "price": 4},
			"items": []map[string]any{{"itemId": "kitchen", "accepted": accepted, "reason": "灶台还有油渍"}, {"itemId": "floors", "accepted": true}}}
	}
	op := f.newID()
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", body(op, false), w.cu1).wantError(409, schemas.ECONFLICT) // not checked out yet
	p := checkedOut(t, w)
	var res fsync.SignOffResult
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", body(op, false), w.cu1).want(200).decode(&res)
	if res.Status != fsync.StatusConflict || res.Rule != fsync.RuleDisputed || res.Visit.Status != schemas.VisitDisputed || res.Visit.Field.SignOff.Source != fsync.SourceCustomerApp || !w.visit(w.v1.ID).NeedsReview {
		t.Fatalf("customer sign-off: %+v", res)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", body(op, false), w.cu1).want(200).decode(&res)
	if res.Status != fsync.StatusDuplicate {
		t.Fatalf("retry: %s", res.Status)
	}
	f.do("POST", "/v1/visits/"+w.v2.ID+"/signoff", body(f.newID(), true), w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "x", "items": []any{}}, w.cu1).wantError(400, schemas.EINVALID)

	// The phone's sign-off, captured offline, arrives afterwards.
	resp := p.mustPush(p.ops(opSpec{fsync.KindSignOff, w.v1.ID, w.v1.ScheduledStart.Add(3*time.Hour + time.Minute),
		map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}}))
	if statuses(resp) != "applied" {
		t.Fatalf("phone sign-off: %s", statuses(resp))
	}
	v := w.visit(w.v1.ID)
	if v.Field.SignOff.Source != fsync.SourceWorkerDevice || v.Status != schemas.VisitSignedOff || !v.NeedsReview {
		t.Fatalf("the earlier sign-off did not stand: %+v", v.Field.SignOff)
	}
	conflicted := false
	for _, c := range v.Field.Conflicts {
		conflicted = conflicted || (c.Rule == fsync.RuleSignOffFinal && c.OpID == op && c.Review)
	}
	if !conflicted {
		t.Fatalf("the app's sign-off is not kept as a conflict: %+v", v.Field.Conflicts)
	}

	// The supervisor's feed has the dispute and the low rating; they
	// acknowledge and resolve them, audited.
	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	kinds := map[string]string{}
	for _, a := range feed.Items {
		kinds[a.Kind] = a.ID
	}
	if kinds[fsync.RuleDisputed] == "" || kinds[fsync.RuleCustomerLowRating] == "" || kinds[fsync.RuleSignOffFinal] == "" {
		t.Fatalf("feed %+v", feed.Items)
	}
	id := kinds[fsync.RuleDisputed]
	f.do("POST", "/v1/alerts/"+id+"/resolve", map[string]any{}, w.s1).wantError(400, schemas.EINVALID) // a note is required
	f.do("POST", "/v1/alerts/"+id+"/acknowledge", nil, w.wk1).wantError(403, schemas.EFORBIDDEN)
	var a schemas.Alert
	f.do("POST", "/v1/alerts/"+id+"/acknowledge", nil, w.s1).want(200).decode(&a)
	if a.State != schemas.AlertAcknowledged || a.AckBy == "" {
		t.Fatalf("ack %+v", a)
	}
	f.do("POST", "/v1/alerts/"+id+"/acknowledge", nil, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("POST", "/v1/alerts/"+id+"/resolve", map[string]any{"note": "安排返工，周五同一服务师上门"}, w.s1).want(200).decode(&a)
	if a.State != schemas.AlertResolved || a.Note == "" {
		t.Fatalf("resolve %+v", a)
	}
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/alert/"+id, nil, w.admin).want(200).decode(&trail)
	if len(trail.Items) != 2 || trail.Items[0].Action != "acknowledge" || trail.Items[1].Action != "resolve" {
		t.Fatalf("alert trail %+v", trail.Items)
	}
	// Another team's supervisor sees none of it.
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.two", Password: testPassword, Name: "s2", Role: schemas.RoleSupervisor, Team: "team-2"}); err != nil {
		t.Fatal(err)
	}
	s2 := f.login("sup.two", "office")
	f.do("GET", "/v1/alerts", nil, s2.AccessToken).want(200).decode(&feed)
	for _, x := range feed.Items {
		if x.Team != "team-2" {
			t.Fatalf("team-2 sees %+v", x)
		}
	}
	f.do("POST", "/v1/alerts/"+kinds[fsync.RuleCustomerLowRating]+"/acknowledge", nil, s2.AccessToken).wantError(404, schemas.ENOTFOUND)
}

// TestBothSignOffPathsRace: the customer's app and the worker's phone sign
// off at the same moment; exactly one stands, the other is a conflict.
func TestBothSignOffPathsRace(t *testing.T) {
	storetest.NeedsIsolation(t)
	w := newSyncWorld(t)
	f := w.f
	p := checkedOut(t, w)
	ops := p.ops(opSpec{fsync.KindSignOff, w.v1.ID, w.f.clock.Now(), map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": true}}}})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.push(ops) }()
	go func() {
		defer wg.Done()
		f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "林先生",
			"items": []map[string]any{{"itemId": "kitchen", "accepted": true}}}, w.cu1)
	}()
	wg.Wait()
	v := w.visit(w.v1.ID)
	if v.Field.SignOff == nil || v.Status != schemas.VisitSignedOff {
		t.Fatalf("no sign-off stands: %+v", v.Field)
	}
	n := 0
	for _, c := range v.Field.Conflicts {
		if c.Rule == fsync.RuleSignOffFinal {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sign-off conflicts, want exactly 1: %+v", n, v.Field.Conflicts)
	}
}

// TestFullVisitLoop: confirm -> remind -> check in and out through sync ->
// sign-off with one disputed item -> rework -> accepted.
func TestFullVisitLoop(t *testing.T) {
	w := newWorld(t)
	f := w.f
	f.do("POST", "/v1/visits/"+w.v1.ID+"/confirm", nil, w.cu1).want(200)
	// Reminders are planned for the confirmed visit (the scheduler's own tests check the times).
	w = refreshTokensAfter(t, w, w.v1.ScheduledStart.Add(5*time.Hour))
	p := checkedOut(t, w)
	var res fsync.SignOffResult
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "林先生",
		"items": []map[string]any{{"itemId": "kitchen", "accepted": false, "reason": "灶台还有油渍"}, {"itemId": "floors", "accepted": true}}}, w.cu1).want(200).decode(&res)
	if res.Visit.Status != schemas.VisitDisputed {
		t.Fatalf("after the disputed sign-off: %s", res.Visit.Status)
	}
	f.do("POST", "/v1/visits/"+w.v2.ID+"/rework", map[string]any{"scheduledStart": f.clock.Now().Add(24 * time.Hour)}, w.s1).wantError(404, schemas.ENOTFOUND)
	var rw struct {
		ID             string                       `json:"id"`
		Checklist      []schemas.VisitChecklistItem `json:"checklist"`
		ReworkOf       string                       `json:"reworkOf"`
		WorkerID       string                       `json:"workerId"`
		ScheduledStart time.Time                    `json:"scheduledStart"`
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/rework", map[string]any{"scheduledStart": f.clock.Now().Add(time.Hour)}, w.s1).want(201).decode(&rw)
	if rw.ReworkOf != w.v1.ID || len(rw.Checklist) != 1 || rw.Checklist[0].ID != "kitchen" || rw.WorkerID != w.w1.ID {
		t.Fatalf("rework visit %+v", rw)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/rework", map[string]any{"scheduledStart": f.clock.Now().Add(time.Hour)}, w.s1).wantError(409, schemas.ECONFLICT)
	if v := w.visit(w.v1.ID); v.Status != schemas.VisitRework {
		t.Fatalf("disputed visit with a rework: %s", v.Status)
	}
	// The worker redoes the kitchen; the customer accepts.
	f.clock.Add(3 * time.Hour)
	p.token = f.login("wk.one", "phone-1").AccessToken
	at := rw.ScheduledStart
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, rw.ID, at, map[string]any{"location": near}},
		opSpec{fsync.KindProgress, rw.ID, at.Add(30 * time.Minute), map[string]any{"itemId": "kitchen", "done": true}},
		opSpec{fsync.KindCheckOut, rw.ID, at.Add(time.Hour), map[string]any{"location": near}},
	))
	if statuses(resp) != "applied,applied,applied" {
		t.Fatalf("rework visit: %s", statuses(resp))
	}
	cu := f.login("cu.one", "phone").AccessToken
	f.do("POST", "/v1/visits/"+rw.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "林先生",
		"items": []map[string]any{{"itemId": "kitchen", "accepted": true}}, "rating": map[string]any{"attitude": 5, "quality": 5, "efficiency": 5, "price": 4}}, cu).want(200).decode(&res)
	if res.Visit.Status != schemas.VisitSignedOff {
		t.Fatalf("rework sign-off: %s", res.Visit.Status)
	}
	if v := w.visit(w.v1.ID); v.Status != schemas.VisitSignedOff || !v.ReworkAccepted {
		t.Fatalf("the disputed visit is not done after the accepted rework: %s", v.Status)
	}
}

// refreshTokensAfter moves the clock to at and signs everyone in again.
func refreshTokensAfter(t *testing.T, w *world, at time.Time) *world {
	w.f.clock.Add(at.Sub(w.f.clock.Now()))
	w.admin = w.f.login("admin.o", "office").AccessToken
	w.s1 = w.f.login("sup.one", "office").AccessToken
	w.wk1 = w.f.login("wk.one", "office-pc").AccessToken
	w.cu1 = w.f.login("cu.one", "phone").AccessToken
	return w
}

func TestCustomerAsksToReschedule(t *testing.T) {
	w := newWorld(t)
	f := w.f
	body := map[string]any{"kind": "reschedule", "reason": "家里有事，改到周六", "preferredStart": w.v1.ScheduledStart.Add(72 * time.Hour)}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/requests", body, w.cu1).want(202)
	f.do("POST", "/v1/visits/"+w.v2.ID+"/requests", body, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/requests", map[string]any{"kind": "postpone", "reason": "x"}, w.cu1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/requests", map[string]any{"kind": "cancel", "reason": " "}, w.cu1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/requests", body, w.wk1).wantError(403, schemas.EFORBIDDEN)
	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	if len(feed.Items) != 1 || feed.Items[0].Kind != "customer_request_reschedule" || feed.Items[0].VisitID != w.v1.ID {
		t.Fatalf("feed %+v", feed.Items)
	}
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/visit/"+w.v1.ID, nil, w.admin).want(200).decode(&trail)
	found := false
	for _, e := range trail.Items {
		found = found || (e.Action == "request_reschedule" && e.Note != "" && e.Role == schemas.RoleCustomer)
	}
	if !found {
		t.Fatalf("request not on the visit's trail: %+v", trail.Items)
	}
	// The office decides: it reschedules; the request did not change the visit by itself.
	if v := w.visit(w.v1.ID); !v.ScheduledStart.Equal(w.v1.ScheduledStart) {
		t.Fatal("a request moved the visit")
	}
}

func TestFollowUpAfterSignOff(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	checkedOut(t, w)
	var res fsync.SignOffResult
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "林先生",
		"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}, w.cu1).want(200).decode(&res)
	signedAt := res.Visit.Field.SignOff.At
	var list struct {
		Items []schemas.FollowUp `json:"items"`
	}
	f.do("GET", "/v1/followups", nil, w.s1).want(200).decode(&list)
	if len(list.Items) != 1 || list.Items[0].VisitID != w.v1.ID || !list.Items[0].DueAt.Equal(signedAt.Add(24*time.Hour)) || list.Items[0].Overdue {
		t.Fatalf("follow-ups %+v", list.Items)
	}
	id := list.Items[0].ID
	f.do("GET", "/v1/followups", nil, w.wk1).wantError(403, schemas.EFORBIDDEN)
	// A week and a day later, not done: overdue.
	w = refreshTokensAfter(t, w, signedAt.Add(8*24*time.Hour))
	f.do("GET", "/v1/followups", nil, w.s1).want(200).decode(&list)
	if !list.Items[0].Overdue {
		t.Fatal("not flagged overdue")
	}
	f.do("POST", "/v1/followups/"+id+"/complete", map[string]any{"outcome": ""}, w.s1).wantError(400, schemas.EINVALID)
	var done schemas.FollowUp
	f.do("POST", "/v1/followups/"+id+"/complete", map[string]any{"outcome": "客户满意，希望下次同一服务师"}, w.s1).want(200).decode(&done)
	if !done.Done || done.DoneBy == "" {
		t.Fatalf("completed %+v", done)
	}
	f.do("POST", "/v1/followups/"+id+"/complete", map[string]any{"outcome": "again"}, w.s1).wantError(409, schemas.ECONFLICT)
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.two", Password: testPassword, Name: "s2", Role: schemas.RoleSupervisor, Team: "team-2"}); err != nil {
		t.Fatal(err)
	}
	f.do("POST", "/v1/followups/"+id+"/complete", map[string]any{"outcome": "x"}, f.login("sup.two", "office").AccessToken).wantError(404, schemas.ENOTFOUND)
	// Signing off twice (a retry) schedules one follow-up.
	f.do("GET", "/v1/followups", nil, w.s1).want(200).decode(&list)
	if len(list.Items) != 1 {
		t.Fatalf("%d follow-ups for one visit", len(list.Items))
	}
}

// TestTimeCorrections: a supervisor corrects a late check-in; the phone's
// record stays; the worker sees the correction and disputes it; the
// dispute reaches the supervisor's feed; the month's figures use the
// corrected time.
func TestTimeCorrections(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	start := w.v1.ScheduledStart
	p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, start.Add(25 * time.Minute), map[string]any{"location": near}},
		opSpec{fsync.KindCheckOut, w.v1.ID, start.Add(3 * time.Hour), map[string]any{"location": near}},
	))
	body := map[string]any{"field": "checkIn", "at": start.Add(5 * time.Minute), "reasonCode": "device_clock", "note": "手机时间快了20分钟"}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections", map[string]any{"field": "checkIn", "at": start, "reasonCode": "whatever"}, w.s1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections", map[string]any{"field": "checkIn", "at": start, "reasonCode": "other"}, w.s1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections", body, p.token).wantError(403, schemas.EFORBIDDEN)
	f.do("POST", "/v1/visits/"+w.v2.ID+"/corrections", body, w.s1).wantError(404, schemas.ENOTFOUND)
	var v schemas.Visit
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections", body, w.s1).want(200).decode(&v)
	if len(v.Corrections) != 1 || v.Corrections[0].Recorded == nil || !v.Corrections[0].Recorded.Equal(start.Add(25*time.Minute)) {
		t.Fatalf("correction %+v", v.Corrections)
	}
	if !v.Field.CheckIn.At.Equal(start.Add(25 * time.Minute)) {
		t.Fatal("the correction overwrote what the phone recorded")
	}
	// The worker sees it on their visit and disputes it.
	var seen struct {
		Corrections []schemas.Correction `json:"corrections"`
	}
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, p.token).want(200).decode(&seen)
	if len(seen.Corrections) != 1 || seen.Corrections[0].ReasonCode != "device_clock" || seen.Corrections[0].By == "" {
		t.Fatalf("worker's view %+v", seen.Corrections)
	}
	dispute := map[string]any{"note": "我是准时到的，是电梯故障耽误了签到"}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections/2/dispute", dispute, p.token).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections/1/dispute", dispute, w.s1).wantError(403, schemas.EFORBIDDEN)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections/1/dispute", dispute, p.token).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/corrections/1/dispute", dispute, p.token).wantError(409, schemas.ECONFLICT)
	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	found := false
	for _, a := range feed.Items {
		found = found || (a.Kind == "correction_disputed" && a.VisitID == w.v1.ID)
	}
	if !found {
		t.Fatalf("dispute not in the feed: %+v", feed.Items)
	}
	// Figures count the corrected check-in (on time), not the phone's (late).
	var rep office.MonthlyFigures
	f.do("GET", "/v1/reports/monthly?month="+start.In(time.FixedZone("CST", 8*3600)).Format("2006-01"), nil, w.s1).want(200).decode(&rep)
	for _, x := range rep.Workers {
		if x.WorkerID == w.w1.ID && (x.CheckIns != 1 || x.OnTime != 1) {
			t.Fatalf("figures %+v", x)
		}
	}
}

func TestCustomerListShowsWorkerProfile(t *testing.T) {
	w := newWorld(t)
	w.f.accept(w.w1.ID, w.v1.ID)
	r := w.f.do("GET", "/v1/visits", nil, w.cu1).want(200)
	var page struct {
		Items []office.CustomerVisit `json:"items"`
	}
	r.decode(&page)
	if len(page.Items) != 1 || page.Items[0].Worker == nil || page.Items[0].Worker.Name != w.w1.Name || len(page.Items[0].Worker.Skills) == 0 {
		t.Fatalf("customer's list %+v", page.Items)
	}
	if strings.Contains(string(r.body), w.w1.Phone) || strings.Contains(string(r.body), "H1") {
		t.Fatalf("the list leaks the worker's phone or certificate number: %s", r.body)
	}
}
