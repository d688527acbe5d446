package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// tellFixture is a running server wired to a local FCM endpoint through
// the Firebase Admin SDK, with a household whose account has a phone.
type tellFixture struct {
	t     *testing.T
	srv   *Server
	clk   *testClock
	fcm   *fakeFCM
	st    *schemas.ServiceType
	w1    *schemas.Worker
	w2    *schemas.Worker
	c     *schemas.Customer
	token string           // the household's FCM token
	seqs  map[string]int64 // each worker's phone's last seq
}

func newTellFixture(t *testing.T, locale string, env ...map[string]string) *tellFixture {
	fcm := &fakeFCM{}
	srvFCM := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body struct {
			Message map[string]any `json:"message"`
		}
		_ = json.Unmarshal(b, &body)
		fcm.mu.Lock()
		fcm.msgs = append(fcm.msgs, body.Message)
		fcm.mu.Unlock()
		fmt.Fprint(w, `{"name":"projects/p/messages/1"}`)
	}))
	t.Cleanup(srvFCM.Close)
	clk := &testClock{t: storetest.Epoch}
	vars := map[string]string{"FIREBASE_PROJECT_ID": "p", "FCM_ENDPOINT": srvFCM.URL + "/v1", "PUSH_INTERVAL": "1m"}
	for _, e := range env {
		maps.Copy(vars, e)
	}
	cfg := engineConfig(t, t.TempDir(), vars)
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(10 * time.Second) })
	ctx, sys := t.Context(), office.System
	f := &tellFixture{t: t, srv: srv, clk: clk, fcm: fcm, token: "customer-fcm-token-0123456789abcdef"}
	if f.st, err = srv.Office.CreateServiceType(ctx, sys, schemas.ServiceTypeInput{Code: "clean", Name: "保洁", DefaultMinutes: 120, Active: true,
		Checklist: []schemas.ChecklistItem{{ID: "kitchen", Text: "厨房"}}}); err != nil {
		t.Fatal(err)
	}
	worker := func(name, phone string) *schemas.Worker {
		w, err := srv.Office.CreateWorker(ctx, sys, schemas.WorkerInput{Name: name, Phone: phone, Gender: schemas.GenderFemale, Team: "team-1",
			BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed}, ExperienceYears: 6, Languages: []string{"zh"},
			WorkingHours: schemas.WorkingHours{Days: []int{0, 1, 2, 3, 4, 5, 6}, Start: "00:00", End: "23:59"}, Home: schemas.LatLng{Lat: 31.2, Lng: 121.45}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	f.w1, f.w2 = worker("张丽", "+8613800000001"), worker("王芳", "+8613800000002")
	if f.c, err = srv.Office.CreateCustomer(ctx, sys, schemas.CustomerInput{Name: "林", Phone: "+8613900000001", Team: "team-1",
		Addresses: []schemas.Address{{Text: "上海市徐汇区1号", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Auth.CreateUser(ctx, schemas.NewUser{Login: "cu.1", Password: "customer password", Name: "林", Role: schemas.RoleCustomer,
		CustomerID: f.c.ID, Locale: locale}); err != nil {
		t.Fatal(err)
	}
	_, out := call(t, "POST", "http://"+srv.Addr()+"/v1/auth/login", "", map[string]any{"login": "cu.1", "password": "customer password", "deviceId": "phone"})
	if st, out := call(t, "POST", "http://"+srv.Addr()+"/v1/devices", out["accessToken"].(string), map[string]any{"token": f.token, "platform": "android"}); st != 204 {
		t.Fatalf("register device: %d %v", st, out)
	}
	return f
}

// sent runs the dispatcher once and returns what reached the household's
// phone of kind.
func (f *tellFixture) sent(kind string) []map[string]any {
	f.t.Helper()
	if _, _, err := f.srv.Push.RunOnce(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	return f.fcm.byKind(f.token, kind)
}

// told checks that exactly one message of kind reached the household,
// with a title and a body containing want, and returns it.
func (f *tellFixture) told(kind, want string) map[string]any {
	f.t.Helper()
	ms := f.sent(kind)
	if len(ms) != 1 {
		f.t.Fatalf("%d %s messages, want 1: %+v", len(ms), kind, ms)
	}
	n, _ := ms[0]["notification"].(map[string]any)
	if n == nil || n["title"] == "" || !strings.Contains(fmt.Sprint(n["body"]), want) {
		f.t.Fatalf("%s: notification %+v, want a body with %q", kind, n, want)
	}
	b, _ := json.Marshal(ms[0])
	for _, secret := range []string{"上海", "13900000001", "13800000002", "31.2"} {
		if strings.Contains(string(b), secret) {
			f.t.Fatalf("%s carries %q: %s", kind, secret, b)
		}
	}
	return ms[0]
}

// TestCustomerToldVisitDecisions: the household hears, in its language,
// when the office books its visit, gives it another worker (with the
// worker's public profile only), moves it and cancels it; each once, even
// when a second instance tells the same decision again.
func TestCustomerToldVisitDecisions(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	start := time.Date(2037, 11, 27, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start})
	if err != nil {
		t.Fatal(err)
	}
	m := f.told("visit_booked", "11月27日 10:00")
	if d := m["data"].(map[string]any); d["visitId"] != v.ID || d["start"] != start.Format(time.RFC3339) {
		t.Fatalf("booked data: %+v", d)
	}

	f.clk.Add(time.Minute)
	if _, err := f.srv.Office.ActOnVisit(ctx, sys, v.ID, office.VisitAction{Kind: office.ActReassign, WorkerID: f.w2.ID}); err != nil {
		t.Fatal(err)
	}
	if ms := f.sent("visit_worker_changed"); len(ms) != 0 {
		t.Fatalf("told of the new worker before she accepted: %+v", ms)
	}
	f.answer(f.w2.ID, v.ID, fsync.KindAccept, `{}`)
	m = f.told("visit_worker_changed", "王芳")
	var p map[string]any
	if err := json.Unmarshal([]byte(m["data"].(map[string]any)["worker"].(string)), &p); err != nil {
		t.Fatal(err)
	}
	if p["id"] != f.w2.ID || p["name"] != "王芳" || p["experienceYears"] != 6.0 {
		t.Fatalf("worker profile: %+v", p)
	}
	for k := range p {
		if !strings.Contains("id name photoRef gender languages skills certificates experienceYears rating", k) {
			t.Errorf("the profile carries %q, which the customer's view of a worker does not", k)
		}
	}

	moved := start.Add(24 * time.Hour)
	if _, err := f.srv.Office.ActOnVisit(ctx, sys, v.ID, office.VisitAction{Kind: office.ActReschedule, ScheduledStart: moved, ScheduledEnd: moved.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.told("visit_rescheduled", "11月28日 10:00")

	after, err := f.srv.Office.ActOnVisit(ctx, sys, v.ID, office.VisitAction{Kind: office.ActCancel, Reason: "客户出差"})
	if err != nil {
		t.Fatal(err)
	}
	f.told("visit_cancelled", "11月28日 10:00")
	if strings.Contains(fmt.Sprint(f.sent("visit_cancelled")), "出差") {
		t.Fatal("the office's reason reached the household")
	}

	// A second instance telling the same decision sends nothing more.
	other := push.NewRelay(f.srv.Store, push.NewOutbox(f.srv.Store.Push), f.clk.Now, slog.New(slog.DiscardHandler))
	if err := other.Tell(ctx, schemas.CustomerNotice{CustomerID: f.c.ID, Kind: "visit_cancelled", VisitID: v.ID, At: moved,
		Key: fmt.Sprintf("visit/%s/visit_cancelled/%d", v.ID, after.Version)}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sent("visit_cancelled")); n != 1 {
		t.Fatalf("%d cancellations sent, want 1", n)
	}
}

// answer pushes workerID's answer to visitID's assignment from the
// worker's phone, twice (the second a retry), as the worker's app does.
func (f *tellFixture) answer(workerID, visitID, kind, payload string) {
	f.t.Helper()
	act := &schemas.Actor{UserID: "phone-" + workerID, Role: schemas.RoleWorker, WorkerID: workerID, Team: "team-1", DeviceID: "phone-" + workerID}
	if f.seqs == nil {
		f.seqs = map[string]int64{}
	}
	f.seqs[workerID]++
	b := &fsync.Batch{DeviceID: act.DeviceID, SchemaVersion: fsync.SchemaVersion, DeviceClock: f.clk.Now(),
		Ops: []fsync.Op{{Seq: f.seqs[workerID], OpID: schemas.NewIDAt(f.clk.Now()), Kind: kind, VisitID: visitID, At: f.clk.Now(), Payload: json.RawMessage(payload)}}}
	for range 2 {
		resp, err := f.srv.Sync.Push(f.t.Context(), act, b)
		if err != nil {
			f.t.Fatal(err)
		}
		if r := resp.Results[0]; r.Status != fsync.StatusApplied && r.Status != fsync.StatusDuplicate {
			f.t.Fatalf("%s: %+v", kind, r)
		}
	}
}

// TestCustomerToldWorkerOnceAccepted: a worker given to the visit is told
// to the household only once she accepts, once however often the phone
// retries; a worker who declines is never told, and the visit goes back
// to the supervisor; given back to a worker who accepted before (A, B,
// A), the household hears of her again once she accepts anew.
func TestCustomerToldWorkerOnceAccepted(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	start := time.Date(2037, 11, 27, 2, 0, 0, 0, time.UTC)
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	f.answer(f.w1.ID, v.ID, fsync.KindAccept, `{}`)
	if ms := f.sent("visit_worker_changed"); len(ms) != 0 {
		t.Fatalf("the worker the visit was booked with is told as a change: %+v", ms)
	}
	reassign := func(to string) {
		t.Helper()
		f.clk.Add(5 * time.Minute)
		if _, err := f.srv.Office.ActOnVisit(ctx, sys, v.ID, office.VisitAction{Kind: office.ActReassign, WorkerID: to}); err != nil {
			t.Fatal(err)
		}
		f.clk.Add(time.Minute)
	}
	reassign(f.w2.ID)
	f.answer(f.w2.ID, v.ID, fsync.KindDecline, `{"reason":"too_far"}`)
	if ms := f.sent("visit_worker_changed"); len(ms) != 0 {
		t.Fatalf("told of a worker who declined: %+v", ms)
	}
	alerts, err := f.srv.Store.Cases.ListAlerts(ctx, store.AlertQuery{AllTeams: true, VisitID: v.ID, Kind: fsync.AlertDeclined})
	if err != nil || len(alerts.Items) != 1 {
		t.Fatalf("the decline: %d assignment_declined alerts (%v), want 1", len(alerts.Items), err)
	}
	reassign(f.w1.ID) // back to the first worker, whose acceptance was of the first assignment
	if ms := f.sent("visit_worker_changed"); len(ms) != 0 {
		t.Fatalf("told of the worker on her earlier acceptance: %+v", ms)
	}
	f.answer(f.w1.ID, v.ID, fsync.KindAccept, `{}`)
	f.told("visit_worker_changed", "张丽")
}

// TestCustomerToldRespectsQuietHours: a decision made at night reaches
// the household at 08:00 its time, unless the visit starts before then;
// and in English for an English account.
func TestCustomerToldRespectsQuietHours(t *testing.T) {
	f := newTellFixture(t, "en")
	ctx, sys := t.Context(), office.System
	f.clk.Add(14 * time.Hour) // 23:00 in Shanghai
	start := time.Date(2037, 11, 27, 2, 0, 0, 0, time.UTC)
	if _, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sent("visit_booked")); n != 0 {
		t.Fatal("told during quiet hours")
	}
	// A visit at 07:30 tomorrow: waiting for 08:00 would be too late.
	early := time.Date(2037, 11, 24, 23, 30, 0, 0, time.UTC)
	if _, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: early}); err != nil {
		t.Fatal(err)
	}
	if ms := f.sent("visit_booked"); len(ms) != 1 || !strings.Contains(fmt.Sprint(ms[0]["notification"]), "11-25 07:30") {
		t.Fatalf("the early visit's booking: %+v", ms)
	}
	f.clk.Add(9 * time.Hour) // 08:00
	ms := f.sent("visit_booked")
	if len(ms) != 2 || !strings.Contains(fmt.Sprint(ms[1]["notification"]), "Your visit is booked for 11-27 10:00") {
		t.Fatalf("after the quiet hours: %+v", ms)
	}
}

// customer is the household's actor, as the API builds it from its token.
func (f *tellFixture) customer() *schemas.Actor {
	return &schemas.Actor{UserID: mustUser(f.t, f.srv, "cu.1"), Role: schemas.RoleCustomer, CustomerID: f.c.ID, DeviceID: "phone"}
}

// TestCustomerToldRequestAnswered: the household asks to move its visit;
// when the office resolves the request, the household hears it was
// answered, once, and never the office's note.
func TestCustomerToldRequestAnswered(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	start := time.Date(2037, 11, 27, 2, 0, 0, 0, time.UTC)
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID, ScheduledStart: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Office.RequestChange(ctx, f.customer(), v.ID, office.ChangeRequest{Kind: "reschedule", Reason: "那天不在家"}); err != nil {
		t.Fatal(err)
	}
	page, err := f.srv.Office.Alerts(ctx, sys, office.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var req *schemas.Alert
	for i := range page.Items {
		if page.Items[i].Kind == "customer_request_reschedule" {
			req = &page.Items[i]
		}
	}
	if req == nil {
		t.Fatalf("no request alert: %+v", page.Items)
	}
	if _, err := f.srv.Office.ActOnAlert(ctx, sys, req.ID, office.AlertAck, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sent("request_answered_reschedule")); n != 0 {
		t.Fatal("told on acknowledge")
	}
	if _, err := f.srv.Office.ActOnAlert(ctx, sys, req.ID, office.AlertResolve, "电话沟通后保持原时间"); err != nil {
		t.Fatal(err)
	}
	m := f.told("request_answered_reschedule", "11月27日 10:00")
	if d := m["data"].(map[string]any); d["visitId"] != v.ID || strings.Contains(fmt.Sprint(m), "电话") {
		t.Fatalf("answer: %+v", m)
	}
}

// TestCustomerToldComplaintSteps: each office step of a complaint
// (acknowledged, investigating, remedy proposed, closed) reaches the
// household once, without the office's notes.
func TestCustomerToldComplaintSteps(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	c, err := f.srv.Office.FileComplaint(ctx, f.customer(), schemas.NewComplaint{Category: "quality", Text: "窗户没擦"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		act  office.ComplaintAction
		kind string
	}{
		{office.ComplaintAction{Action: "acknowledge", Note: "内部备注甲"}, "complaint_acknowledged"},
		{office.ComplaintAction{Action: "investigate", Note: "内部备注乙"}, "complaint_investigating"},
		{office.ComplaintAction{Action: "propose", Remedy: &schemas.Remedy{Kind: "revisit", Detail: "免费返工"}}, "complaint_remedy_proposed"},
		{office.ComplaintAction{Action: "accept"}, ""}, // the household's own step: not told back
		{office.ComplaintAction{Action: "close", RootCause: "worker_skill", Note: "内部备注丙"}, "complaint_closed"},
	} {
		by := sys
		if step.kind == "" {
			by = f.customer()
		}
		if _, err := f.srv.Office.ActOnComplaint(ctx, by, c.ID, step.act); err != nil {
			t.Fatalf("%s: %v", step.act.Action, err)
		}
		if step.kind == "" {
			continue
		}
		m := f.told(step.kind, "")
		if d := m["data"].(map[string]any); d["complaintId"] != c.ID || strings.Contains(fmt.Sprint(m), "内部备注") {
			t.Fatalf("%s: %+v", step.kind, m)
		}
	}
}

// TestCustomerToldIncident: an incident the worker reports in the home
// reaches the household (that something happened, not what the worker
// wrote), and so does its resolution, each once.
func TestCustomerToldIncident(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	base := "http://" + f.srv.Addr()
	start := f.clk.Now().Add(time.Hour) // 18:00 in Shanghai
	v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Auth.CreateUser(ctx, schemas.NewUser{Login: "wk.1", Password: "worker password", Name: "wk", Role: schemas.RoleWorker, WorkerID: f.w1.ID, Team: "team-1"}); err != nil {
		t.Fatal(err)
	}
	_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "wk.1", "password": "worker password", "deviceId": "wphone"})
	report := map[string]any{"deviceId": "wphone", "schemaVersion": 1, "deviceClock": f.clk.Now(),
		"ops": []any{map[string]any{"seq": 1, "opId": schemas.NewIDAt(f.clk.Now()), "kind": fsync.KindIncident, "visitId": v.ID, "at": f.clk.Now(),
			"payload": map[string]any{"category": "property_damage", "severity": "high", "text": "打碎了花瓶"}}}}
	for range 2 { // the phone sends it again: told once
		if st, out := call(t, "POST", base+"/v1/sync/push", out["accessToken"].(string), report); st != 200 {
			t.Fatalf("push: %d %v", st, out)
		}
	}
	m := f.told("incident_reported", "11月24日 18:00")
	if strings.Contains(fmt.Sprint(m), "花瓶") {
		t.Fatalf("the worker's text reached the household: %+v", m)
	}
	page, err := f.srv.Office.Incidents(ctx, sys, office.Page{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("incidents: %+v %v", page.Items, err)
	}
	id := page.Items[0].ID
	if _, err := f.srv.Office.ActOnIncident(ctx, sys, id, office.IncidentAction{Action: "acknowledge"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sent("incident_resolved")); n != 0 {
		t.Fatal("told before it was handled")
	}
	if _, err := f.srv.Office.ActOnIncident(ctx, sys, id, office.IncidentAction{Action: "resolve", Outcome: "公司全额赔偿花瓶"}); err != nil {
		t.Fatal(err)
	}
	m = f.told("incident_resolved", "11月24日 18:00")
	if d := m["data"].(map[string]any); d["incidentId"] != id || strings.Contains(fmt.Sprint(m), "花瓶") {
		t.Fatalf("resolved: %+v", m)
	}
}

// TestCustomerToldSchedule: a recurring schedule is told once when booked
// (its rhythm and first visit), once when changed, once when given an
// end; its generated visits tell nothing of their own, however often the
// generator runs, and an edit of its notes tells nothing.
func TestCustomerToldSchedule(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	in := schemas.ScheduleInput{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID, WorkerID: f.w1.ID,
		Weekdays: []int{5, 2}, StartTime: "09:00", EndTime: "11:00", StartsOn: "2037-11-25"}
	sch, err := f.srv.Office.CreateSchedule(ctx, sys, in)
	if err != nil {
		t.Fatal(err)
	}
	m := f.told("schedule_booked", "每周二、五 09:00的周期上门服务，首次 11月27日 09:00")
	if d := m["data"].(map[string]any); d["scheduleId"] != sch.ID || d["start"] != "2037-11-27T01:00:00Z" {
		t.Fatalf("booked data: %+v", d)
	}
	if ms := f.sent("visit_booked"); len(ms) != 0 {
		t.Fatalf("each generated visit told: %d visit_booked", len(ms))
	}
	if _, err := f.srv.Office.GenerateAll(ctx); err != nil {
		t.Fatal(err)
	}
	in.Notes = "钥匙在门卫"
	if sch, err = f.srv.Office.UpdateSchedule(ctx, sys, sch.ID, sch.Version, in); err != nil {
		t.Fatal(err)
	}
	in.Weekdays = []int{1}
	if sch, err = f.srv.Office.UpdateSchedule(ctx, sys, sch.ID, sch.Version, in); err != nil {
		t.Fatal(err)
	}
	f.told("schedule_changed", "已改为每周一 09:00，下次 11月30日 09:00")
	if _, err := f.srv.Office.EndSchedule(ctx, sys, sch.ID, sch.Version, "2037-12-20"); err != nil {
		t.Fatal(err)
	}
	f.told("schedule_ended", "2037-12-20")
	if _, err := f.srv.Office.GenerateAll(ctx); err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[string]int{"schedule_booked": 1, "schedule_changed": 1, "schedule_ended": 1, "visit_booked": 0, "visit_cancelled": 0} {
		if n := len(f.sent(kind)); n != want {
			t.Errorf("%d %s, want %d", n, kind, want)
		}
	}
}
