package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// storm is a started server with a worker, a customer and a visit, and a
// local FCM endpoint that refuses one token as unregistered.
type storm struct {
	srv            *Server
	clk            *testClock
	base           string
	visit          *office.VisitView
	customer       *schemas.Customer
	fcmMu          sync.Mutex
	fcmSeen        int
	deadToken      string
	workerLogin    string
	workerPassword string
	logs           *syncBuffer
	opMu           sync.Mutex
	opIDs          map[string]string // device/seq: the operation's id, the same when sent again
}

func (st *storm) opID(device string, seq int64) string {
	st.opMu.Lock()
	defer st.opMu.Unlock()
	k := fmt.Sprint(device, "/", seq)
	if st.opIDs[k] == "" {
		st.opIDs[k] = schemas.NewIDAt(st.clk.Now())
	}
	return st.opIDs[k]
}

func newStorm(t *testing.T, extra map[string]string) *storm {
	t.Helper()
	st := &storm{clk: &testClock{t: storetest.Epoch}, deadToken: "dead-fcm-token-0123456789abcdef", workerLogin: "wk.1", workerPassword: "worker password", opIDs: map[string]string{}, logs: &syncBuffer{}}
	fcm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		st.fcmMu.Lock()
		st.fcmSeen++
		st.fcmMu.Unlock()
		if strings.Contains(string(b), st.deadToken) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":404,"status":"NOT_FOUND","message":"Requested entity was not found.",`+
				`"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
			return
		}
		fmt.Fprint(w, `{"name":"projects/p/messages/1"}`)
	}))
	t.Cleanup(fcm.Close)
	m := map[string]string{"FIREBASE_PROJECT_ID": "p", "FCM_ENDPOINT": fcm.URL + "/v1", "PUSH_INTERVAL": "1m",
		"FIELDSYNC_METRICS_ADDR": "127.0.0.1:0", "RATE_PUSH_PER_MINUTE": "0", "ALERT_COALESCE_WINDOW": "0"}
	for k, v := range extra {
		m[k] = v
	}
	cfg := testConfig(t, t.TempDir(), m)
	srv, err := Start(t.Context(), cfg, NewLogger(cfg, st.logs), st.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(10 * time.Second) })
	st.srv, st.base = srv, "http://"+srv.Addr()
	ctx, sys := t.Context(), office.System
	svc, err := srv.Office.CreateServiceType(ctx, sys, schemas.ServiceTypeInput{Code: "clean", Name: "保洁", DefaultMinutes: 120, Active: true,
		Checklist: []schemas.ChecklistItem{{ID: "kitchen", Text: "厨房"}}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := srv.Office.CreateWorker(ctx, sys, schemas.WorkerInput{Name: "张", Phone: "+8613800000001", Gender: schemas.GenderFemale, Team: "team-1",
		BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed},
		WorkingHours:    schemas.WorkingHours{Days: []int{0, 1, 2, 3, 4, 5, 6}, Start: "00:00", End: "23:59"}, Home: schemas.LatLng{Lat: 31.2, Lng: 121.45}})
	if err != nil {
		t.Fatal(err)
	}
	if st.customer, err = srv.Office.CreateCustomer(ctx, sys, schemas.CustomerInput{Name: "林", Phone: "+8613900000001", Team: "team-1",
		Addresses: []schemas.Address{{Text: "上海市徐汇区1号", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}}}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []schemas.NewUser{
		{Login: st.workerLogin, Password: st.workerPassword, Name: "wk", Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"},
		{Login: "sup", Password: "supervisor password", Name: "sup", Role: schemas.RoleSupervisor, Team: "team-1"},
	} {
		if _, err := srv.Auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if st.visit, err = srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: st.customer.ID, AddressID: st.customer.Addresses[0].ID,
		ServiceTypeID: svc.ID, ScheduledStart: st.clk.Now().Add(3 * time.Hour), WorkerID: w.ID}); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *storm) token(t *testing.T, login, password, device string) string {
	t.Helper()
	code, out := call(t, "POST", st.base+"/v1/auth/login", "", map[string]any{"login": login, "password": password, "deviceId": device})
	if code != 200 {
		t.Fatalf("login %s: %d %v", login, code, out)
	}
	return out["accessToken"].(string)
}

// push sends one batch of notes (and what extra adds) from a device.
func (st *storm) push(t *testing.T, tok, device string, seqs []int64, visitID string) map[string]any {
	t.Helper()
	var ops []any
	for _, seq := range seqs {
		ops = append(ops, map[string]any{"seq": seq, "opId": st.opID(device, seq), "kind": fsync.KindNote, "visitId": visitID,
			"at": st.clk.Now(), "payload": map[string]any{"text": "门口有鞋套"}})
	}
	code, out := call(t, "POST", st.base+"/v1/sync/push", tok, map[string]any{"deviceId": device, "schemaVersion": 1, "deviceClock": st.clk.Now(), "ops": ops})
	if code != 200 {
		t.Fatalf("push: %d %v", code, out)
	}
	return out
}

// scrape reads /metrics from the metrics listener.
func scrape(t *testing.T, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	if srv.MetricsAddr() == "" {
		t.Fatal("no metrics listener")
	}
	resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value sums the samples of a family whose labels include want (counters
// and gauges their value, histograms their count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsAfterPushStorm: three phones push 30 batches of notes at
// once, with a rejected operation, a gap and a retried batch among them;
// the push channel delivers, one token is dead; a complaint misses its SLA.
// /metrics, on its own listener, then shows exactly the counts that caused.
func TestMetricsAfterPushStorm(t *testing.T) {
	st := newStorm(t, nil)
	ctx := t.Context()
	devices := []string{"phone-a", "phone-b", "phone-c"}
	toks := map[string]string{}
	for _, d := range devices {
		toks[d] = st.token(t, st.workerLogin, st.workerPassword, d)
	}
	const batches, perBatch = 10, 4
	var wg sync.WaitGroup
	for _, d := range devices {
		wg.Go(func() {
			for i := range batches {
				seqs := make([]int64, perBatch)
				for j := range seqs {
					seqs[j] = int64(i*perBatch + j + 1)
				}
				st.push(t, toks[d], d, seqs, st.visit.ID)
			}
		})
	}
	wg.Wait()
	// One batch retried whole (duplicates), one with an operation on an
	// unknown visit (rejected), one that skips a seq (a gap).
	st.push(t, toks["phone-a"], "phone-a", []int64{1, 2}, st.visit.ID)
	st.push(t, toks["phone-a"], "phone-a", []int64{batches*perBatch + 1}, schemas.NewID())
	if out := st.push(t, toks["phone-b"], "phone-b", []int64{batches*perBatch + 5}, st.visit.ID); out["gap"] == nil {
		t.Fatalf("no gap: %v", out)
	}
	code, _ := call(t, "POST", st.base+"/v1/sync/push", toks["phone-c"], map[string]any{"deviceId": "phone-c", "schemaVersion": 1})
	if code != 400 {
		t.Fatalf("bad envelope: %d", code)
	}
	if code, _ := call(t, "GET", st.base+"/v1/sync/pull", toks["phone-c"], nil); code != 200 {
		t.Fatalf("pull: %d", code)
	}
	if code, _ := call(t, "GET", st.base+"/v1/no/such/"+schemas.NewID(), "", nil); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}

	// Devices of the supervisor: one live, one dead; a critical incident alerts them.
	sup := st.token(t, "sup", "supervisor password", "sup-phone")
	if code, _ := call(t, "POST", st.base+"/v1/devices", sup, map[string]any{"token": st.deadToken, "platform": "android"}); code != 204 {
		t.Fatal("register dead device")
	}
	sup2 := st.token(t, "sup", "supervisor password", "sup-tablet")
	if code, _ := call(t, "POST", st.base+"/v1/devices", sup2, map[string]any{"token": "live-fcm-token-0123456789abcdef", "platform": "android"}); code != 204 {
		t.Fatal("register live device")
	}
	code, out := call(t, "POST", st.base+"/v1/sync/push", toks["phone-c"], map[string]any{"deviceId": "phone-c", "schemaVersion": 1, "deviceClock": st.clk.Now(),
		"ops": []any{map[string]any{"seq": batches*perBatch + 1, "opId": schemas.NewIDAt(st.clk.Now()), "kind": fsync.KindIncident, "visitId": st.visit.ID,
			"at": st.clk.Now(), "payload": map[string]any{"category": "injury", "severity": "critical", "text": "割伤手指"}}}})
	if code != 200 {
		t.Fatalf("incident: %d %v", code, out)
	}
	// A second notice to the supervisor in the same pass: the dead token
	// fails twice and is removed once.
	if _, err := st.srv.Outbox.Enqueue(ctx, &push.Notification{DedupeKey: "metrics-test/notice", UserID: mustUser(t, st.srv, "sup"),
		Kind: "visit_changed", Data: map[string]string{}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// The outbox gauges see what waits before the dispatcher runs.
	if err := st.srv.Telemetry.ReadOutbox(ctx, st.srv.Store.Push.Backlog, st.clk.Now); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, st.srv)
	if n := value(before, "fieldsync_push_outbox_due", nil); n < 1 {
		t.Fatalf("outbox due %v before dispatch, want the alert waiting", n)
	}
	st.clk.Add(2 * time.Minute)
	if err := st.srv.Telemetry.ReadOutbox(ctx, st.srv.Store.Push.Backlog, st.clk.Now); err != nil {
		t.Fatal(err)
	}
	if age := value(scrape(t, st.srv), "fieldsync_push_outbox_oldest_due_age_seconds", nil); age < 120 {
		t.Fatalf("oldest due age %v, want at least the 2 minutes it waited", age)
	}
	if _, _, err := st.srv.Push.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.srv.Telemetry.ReadOutbox(ctx, st.srv.Store.Push.Backlog, st.clk.Now); err != nil {
		t.Fatal(err)
	}

	// A safety complaint nobody acknowledges within its 30 minutes.
	cust := &schemas.Actor{UserID: "customer-user", Role: schemas.RoleCustomer, CustomerID: st.customer.ID}
	if _, err := st.srv.Office.FileComplaint(ctx, cust, schemas.NewComplaint{Category: "safety", Text: "危险的清洁剂"}); err != nil {
		t.Fatal(err)
	}
	st.clk.Add(31 * time.Minute)
	if n, err := st.srv.Office.EscalateBreaches(ctx); err != nil || n != 1 {
		t.Fatalf("breaches %d, %v", n, err)
	}

	fams := scrape(t, st.srv)
	pushes := float64(len(devices)*batches + 4) // the storm, the retry, the rejected, the gap, the incident
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fieldsync_http_requests_total", map[string]string{"method": "POST", "route": "/v1/sync/push", "status": "200"}, pushes},
		{"fieldsync_http_requests_total", map[string]string{"method": "POST", "route": "/v1/sync/push", "status": "400"}, 1},
		{"fieldsync_http_requests_total", map[string]string{"method": "GET", "route": "/v1/sync/pull", "status": "200"}, 1},
		{"fieldsync_http_request_duration_seconds", map[string]string{"route": "/v1/sync/push"}, pushes + 1},
		{"fieldsync_sync_push_batch_size", nil, pushes},
		{"fieldsync_sync_push_duration_seconds", nil, pushes},
		{"fieldsync_sync_pull_duration_seconds", nil, 1},
		{"fieldsync_sync_operations_total", map[string]string{"status": "applied"}, float64(len(devices)*batches*perBatch + 1)},
		{"fieldsync_sync_operations_total", map[string]string{"status": "duplicate"}, 2},
		{"fieldsync_sync_operations_total", map[string]string{"status": "rejected", "code": "unknown_visit"}, 1},
		{"fieldsync_sync_operations_total", map[string]string{"status": "skipped", "code": "gap"}, 1},
		{"fieldsync_sync_gaps_total", nil, 1},
		{"fieldsync_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}, 1},
		{"fieldsync_sync_resyncs_total", map[string]string{"reason": "first_sync"}, 1},
		{"fieldsync_alerts_raised_total", map[string]string{"kind": "incident"}, 1},
		{"fieldsync_alerts_raised_total", map[string]string{"kind": "complaint_sla_breach"}, 1},
		{"fieldsync_complaint_sla_breaches_total", map[string]string{"category": "safety"}, 1},
		{"fieldsync_push_notifications_total", map[string]string{"channel": "fcm", "kind": "alert", "outcome": "sent"}, 1},
		{"fieldsync_push_notifications_total", map[string]string{"channel": "fcm", "kind": "visit_changed", "outcome": "sent"}, 1},
		{"fieldsync_push_send_errors_total", map[string]string{"channel": "fcm", "code": "UNREGISTERED"}, 2},
		{"fieldsync_push_tokens_removed_total", map[string]string{"channel": "fcm"}, 1},
		{"fieldsync_push_outbox_due", nil, 0},
		{"fieldsync_push_outbox_oldest_due_age_seconds", nil, 0},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if value(fams, "fieldsync_store_command_duration_seconds", map[string]string{"op": "insert"}) == 0 {
		t.Error("no store insert timed")
	}
	// Route labels are patterns, never raw paths with ids.
	for _, m := range fams["fieldsync_http_requests_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), st.visit.ID) {
				t.Errorf("raw path as route label: %s", l.GetValue())
			}
		}
	}
	if code, _ := call(t, "GET", st.base+"/metrics", "", nil); code != 404 {
		t.Errorf("/metrics on the API's listener: %d, want 404", code)
	}

	// The access lines of sync calls name the device; 4xx lines the code.
	var pushLine, badLine string
	for _, l := range strings.Split(st.logs.String(), "\n") {
		switch {
		case strings.Contains(l, "route=/v1/sync/push") && strings.Contains(l, "status=200"):
			pushLine = l
		case strings.Contains(l, "route=/v1/sync/push") && strings.Contains(l, "status=400"):
			badLine = l
		}
	}
	if !strings.Contains(pushLine, "device=phone-") || !strings.Contains(badLine, "code=invalid") || !strings.Contains(badLine, "device=phone-c") {
		t.Errorf("access lines:\n%s\n%s", pushLine, badLine)
	}

	// Every metric the sample dashboard and alert rules name is one the
	// exercised server exports.
	gathered, err := st.srv.Telemetry.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, exported(gathered))
}
