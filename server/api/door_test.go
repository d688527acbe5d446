package api_test

import (
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// doorPhoto is the hash of the door's photo in the tests.
var doorPhoto = strings.Repeat("d", 64)

// TestCustomerNotHome: through the API, the office cannot mark a visit a
// no-show before its start, nor the customer's before the worker recorded
// the door; the worker's customerAbsent (pushed through /v1/sync/push)
// puts a high customer_not_home alert in the supervisor's feed; the office
// then marks it the customer's no-show, conditionally on the version and
// audited; a check-in arriving afterwards is kept and flagged
// fact_after_no_show. Bad input is a 4xx and changes nothing.
func TestCustomerNotHome(t *testing.T) {
	w := newWorld(t)
	f := w.f
	v := w.v1
	path := "/v1/visits/" + v.ID + "/no-show"
	good := map[string]any{"party": "customer", "reason": "敲门20分钟无人应答"}

	// Before the start: too early, whoever's it is.
	if e := f.do("POST", path, map[string]any{"party": "worker", "reason": "未到"}, w.s1).wantError(409, schemas.ECONFLICT); e.Details["reason"] != "not_started" {
		t.Fatalf("before the start: %+v", e)
	}

	w = refreshTokensAfter(t, w, v.ScheduledStart.Add(25*time.Minute))
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2", Password: testPassword, Name: "sup.two"}); err != nil {
		t.Fatal(err)
	}
	other := f.login("sup.two", "office").AccessToken
	bad := []struct {
		name   string
		body   any
		token  string
		status int
		code   string
	}{
		{"missing reason", map[string]any{"party": "worker"}, w.s1, 400, schemas.EINVALID},
		{"blank reason", map[string]any{"party": "worker", "reason": "  "}, w.s1, 400, schemas.EINVALID},
		{"wrong party", map[string]any{"party": "office", "reason": "x"}, w.s1, 400, schemas.EINVALID},
		{"no party", map[string]any{"reason": "x"}, w.s1, 400, schemas.EINVALID},
		{"party not a string", map[string]any{"party": 1, "reason": "x"}, w.s1, 400, schemas.EINVALID},
		{"$ key", map[string]any{"party": "worker", "reason": "x", "$set": map[string]any{"officeStatus": "no_show"}}, w.s1, 400, schemas.EINVALID},
		{"unknown field", map[string]any{"party": "worker", "reason": "x", "officeStatus": "no_show"}, w.s1, 400, schemas.EINVALID},
		{"another team's supervisor", good, other, 404, schemas.ENOTFOUND},
		{"the worker", good, w.wk1, 403, schemas.EFORBIDDEN},
		{"the customer", good, w.cu1, 403, schemas.EFORBIDDEN},
		{"a customer's no-show without the record at the door", good, w.s1, 409, schemas.ECONFLICT},
	}
	for _, c := range bad {
		e := f.do("POST", path, c.body, c.token).wantError(c.status, c.code)
		if c.status == 409 && e.Details["reason"] != "no_absence_record" {
			t.Fatalf("%s: %+v", c.name, e)
		}
	}
	if got := w.visit(v.ID); got.OfficeStatus != schemas.VisitScheduled || got.Version != v.Version {
		t.Fatalf("bad input changed the visit: %s v%d", got.OfficeStatus, got.Version)
	}

	p := w.phone("wk.one", "phone-door")
	at := v.ScheduledStart.Add(5 * time.Minute)
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCustomerAbsent, v.ID, at, map[string]any{"location": near, "waitedMinutes": 20}}, // no photo
		opSpec{fsync.KindCustomerAbsent, v.ID, at, map[string]any{"location": near, "waitedMinutes": 20, "photos": []string{doorPhoto}, "calledCustomer": true, "text": "敲门、打电话均无人应答"}},
	))
	if got := statuses(resp); got != "rejected:invalid,applied" {
		t.Fatalf("push: %s", got)
	}
	var feed schemas.Page[schemas.Alert]
	f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	var alert *schemas.Alert
	for i, a := range feed.Items {
		if a.Kind == fsync.AlertCustomerNotHome && a.VisitID == v.ID {
			alert = &feed.Items[i]
		}
	}
	if alert == nil || alert.Priority != "high" {
		t.Fatalf("no high customer_not_home alert in the feed: %+v", feed.Items)
	}
	var seen office.VisitView
	f.do("GET", "/v1/visits/"+v.ID, nil, w.s1).want(200).decode(&seen)
	if ca := seen.Field.CustomerAbsent; ca == nil || ca.WaitedMinutes != 20 || !ca.CalledCustomer || ca.DistanceM == nil {
		t.Fatalf("the office sees %+v", ca)
	}
	// The worker sees their own record (a reinstalled phone learns it was
	// recorded), without device or worker ids.
	var mine map[string]any
	f.do("GET", "/v1/visits/"+v.ID, nil, w.wk1).want(200).decode(&mine)
	ca, _ := mine["field"].(map[string]any)["customerAbsent"].(map[string]any)
	if ca == nil || ca["waitedMinutes"] != float64(20) || ca["calledCustomer"] != true || ca["deviceId"] != nil || ca["workerId"] != nil {
		t.Fatalf("the worker sees %+v", ca)
	}

	// A write at a stale version is refused; at the current one it stands.
	stale := map[string]any{"party": "customer", "reason": good["reason"], "version": seen.Version - 1}
	f.do("POST", path, stale, w.s1).wantError(409, schemas.ECONFLICT)
	current := map[string]any{"party": "customer", "reason": good["reason"], "version": seen.Version}
	var marked office.VisitView
	f.do("POST", path, current, w.s1).want(200).decode(&marked)
	if marked.Status != schemas.VisitNoShow || marked.OfficeStatus != schemas.VisitNoShow || marked.NoShow == nil ||
		marked.NoShow.Party != schemas.NoShowCustomer || marked.NoShow.Reason != "敲门20分钟无人应答" || !marked.NoShow.At.Equal(f.clock.Now()) || marked.Version != seen.Version+1 {
		t.Fatalf("marked %+v %+v", marked.Visit.Status, marked.NoShow)
	}
	f.do("POST", path, good, w.s1).wantError(409, schemas.ECONFLICT) // once
	var trail schemas.Page[schemas.AuditEntry]
	f.do("GET", "/v1/audit/visit/"+v.ID, nil, w.admin).want(200).decode(&trail)
	found := false
	for _, e := range trail.Items {
		found = found || (e.Action == office.ActNoShow && e.Version == marked.Version && strings.Contains(e.Note, "敲门"))
	}
	if !found {
		t.Fatalf("no audited no_show in %+v", trail.Items)
	}

	// The worker was there after all: the check-in is kept and flagged.
	resp = p.mustPush(p.ops(opSpec{fsync.KindCheckIn, v.ID, f.clock.Now().Add(-time.Minute), map[string]any{"location": near}}))
	if r := resp.Results[0]; r.Status != fsync.StatusConflict || r.Rule != fsync.RuleAfterNoShow {
		t.Fatalf("check-in after the no-show: %s", statuses(resp))
	}
	if got := w.visit(v.ID); got.Status != schemas.VisitCheckedIn || got.OfficeStatus != schemas.VisitNoShow || !got.NeedsReview {
		t.Fatalf("after the late check-in: %s/%s review %v", got.Status, got.OfficeStatus, got.NeedsReview)
	}
}

// TestNoShowAfterCheckIn: a visit with a check-in is no no-show, whoever's.
func TestNoShowAfterCheckIn(t *testing.T) {
	w := newWorld(t)
	v := w.v1
	w = refreshTokensAfter(t, w, v.ScheduledStart.Add(10*time.Minute))
	p := w.phone("wk.one", "phone-in")
	p.mustPush(p.ops(
		opSpec{fsync.KindCustomerAbsent, v.ID, v.ScheduledStart, map[string]any{"location": near, "waitedMinutes": 5, "photos": []string{doorPhoto}}},
		opSpec{fsync.KindCheckIn, v.ID, v.ScheduledStart.Add(5 * time.Minute), map[string]any{"location": near}},
	))
	for _, party := range []string{"customer", "worker"} {
		if e := w.f.do("POST", "/v1/visits/"+v.ID+"/no-show", map[string]any{"party": party, "reason": "x"}, w.s1).wantError(409, schemas.ECONFLICT); e.Details["reason"] != "checked_in" {
			t.Fatalf("%s no-show after a check-in: %+v", party, e)
		}
	}
	if got := w.visit(v.ID); got.Status != schemas.VisitCheckedIn {
		t.Fatalf("status %s", got.Status)
	}
}

// TestWorkerNoShowAfterOnTheWay: a worker who said they were on the way
// and never came is the worker's no-show: the status is no_show, not
// en_route, and the report counts it missed.
func TestWorkerNoShowAfterOnTheWay(t *testing.T) {
	w := newWorld(t)
	v := w.v1
	p := w.phone("wk.one", "phone-late")
	p.mustPush(p.ops(opSpec{fsync.KindRunningLate, v.ID, w.f.clock.Now(), map[string]any{"eta": v.ScheduledStart.Add(30 * time.Minute)}}))
	w = refreshTokensAfter(t, w, v.ScheduledStart.Add(20*time.Minute))
	var marked office.VisitView
	w.f.do("POST", "/v1/visits/"+v.ID+"/no-show", map[string]any{"party": "worker", "reason": "说在路上，一直没到"}, w.s1).want(200).decode(&marked)
	if marked.Status != schemas.VisitNoShow {
		t.Fatalf("status %s after the worker's no-show", marked.Status)
	}
	var rep office.MonthlyFigures
	w.f.do("GET", "/v1/reports/monthly?month=2037-11", nil, w.s1).want(200).decode(&rep)
	if r := row(t, rep.Workers, w.w1.ID, "team-1"); r.VisitsDue != 1 || r.Missed != 1 || r.NoShowsWorker != 1 || r.NoShowsCustomer != 0 {
		t.Fatalf("w1's figures %+v", r)
	}
}
