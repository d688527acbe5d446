package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

type fakeFCM struct {
	mu   sync.Mutex
	msgs []map[string]any
}

func (f *fakeFCM) byKind(token, kind string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range f.msgs {
		d, _ := m["data"].(map[string]any)
		if m["token"] == token && d["kind"] == kind {
			out = append(out, m)
		}
	}
	return out
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t.In(time.Local) }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestPushEndToEnd(t *testing.T) {
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
	defer srvFCM.Close()
	clk := &testClock{t: storetest.Epoch}
	cfg := testConfig(t, t.TempDir(), map[string]string{"FIREBASE_PROJECT_ID": "p", "FCM_ENDPOINT": srvFCM.URL + "/v1", "PUSH_INTERVAL": "1m"})
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(10 * time.Second)
	ctx := t.Context()
	base := "http://" + srv.Addr()
	sys := office.System

	st, err := srv.Office.CreateServiceType(ctx, sys, schemas.ServiceTypeInput{Code: "clean", Name: "保洁", DefaultMinutes: 120, Active: true,
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
	c, err := srv.Office.CreateCustomer(ctx, sys, schemas.CustomerInput{Name: "林", Phone: "+8613900000001", Team: "team-1",
		Addresses: []schemas.Address{{Text: "上海市徐汇区1号", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []schemas.NewUser{
		{Login: "wk.1", Password: "worker password", Name: "wk", Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"},
		{Login: "sup", Password: "supervisor password", Name: "sup", Role: schemas.RoleSupervisor, Team: "team-1", Locale: "en"},
	} {
		if _, err := srv.Auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	token := func(login, pw, device string) string {
		_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": login, "password": pw, "deviceId": device})
		return out["accessToken"].(string)
	}
	wkTok, supTok := token("wk.1", "worker password", "phone"), token("sup", "supervisor password", "phone")
	fcmToken := "worker-fcm-token-0123456789abcdef"
	if st, out := call(t, "POST", base+"/v1/devices", wkTok, map[string]any{"token": fcmToken, "platform": "android"}); st != 204 {
		t.Fatalf("register device: %d %v", st, out)
	}
	if st, _ := call(t, "POST", base+"/v1/devices", supTok, map[string]any{"token": "supervisor-fcm-token-0123456789", "platform": "ios", "locale": "en"}); st != 204 {
		t.Fatal("register supervisor device")
	}
	if _, err := srv.Relay.RunOnce(ctx); err != nil { // the relay starts at the tail
		t.Fatal(err)
	}

	// The office plans a visit for the worker in three hours.
	v, err := srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: c.ID, AddressID: c.Addresses[0].ID, ServiceTypeID: st.ID,
		ScheduledStart: clk.Now().Add(3 * time.Hour), WorkerID: w.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Push.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fcm.byKind(fcmToken, "pull")); n != 1 {
		t.Fatalf("%d pull messages, want 1", n)
	}
	if n := len(fcm.byKind(fcmToken, "visit_assigned")); n != 0 {
		t.Fatal("the visible notice did not wait for the burst delay")
	}
	clk.Add(61 * time.Second)
	if _, _, err := srv.Push.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	notice := fcm.byKind(fcmToken, "visit_assigned")
	if len(notice) != 1 || notice[0]["notification"] == nil {
		t.Fatalf("assignment notice: %+v", notice)
	}
	// It lives until the visit ends (in five hours), on the injected clock.
	if ttl := notice[0]["android"].(map[string]any)["ttl"]; ttl != "18000s" {
		t.Fatalf("assignment notice ttl %v, want 18000s", ttl)
	}
	b, _ := json.Marshal(notice[0])
	for _, secret := range []string{"上海", "13900000001", "31.2"} {
		if containsStr(string(b), secret) {
			t.Fatalf("notice carries %q: %s", secret, b)
		}
	}

	// The worker reports a critical incident: the supervisor is alerted at once, at high priority.
	wkTok = token("wk.1", "worker password", "phone")
	st2, out := call(t, "POST", base+"/v1/sync/push", wkTok, map[string]any{"deviceId": "phone", "schemaVersion": 1, "deviceClock": clk.Now(),
		"ops": []any{map[string]any{"seq": 1, "opId": schemas.NewIDAt(clk.Now()), "kind": fsync.KindIncident, "visitId": v.ID, "at": clk.Now(),
			"payload": map[string]any{"category": "injury", "severity": "critical", "text": "割伤手指"}}}})
	if st2 != 200 {
		t.Fatalf("push: %d %v", st2, out)
	}
	if _, _, err := srv.Push.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	alerts := fcm.byKind("supervisor-fcm-token-0123456789", "alert")
	if len(alerts) != 1 {
		t.Fatalf("%d alerts to the supervisor, want 1", len(alerts))
	}
	apns := alerts[0]["apns"].(map[string]any)["headers"].(map[string]any)
	note := alerts[0]["notification"].(map[string]any)
	if apns["apns-priority"] != "10" || note["title"] != "Incident reported" {
		t.Fatalf("alert shape: %+v", alerts[0])
	}
	// Visible in the notification list for the visit.
	supTok = token("sup", "supervisor password", "phone")
	if st, out := call(t, "GET", base+"/v1/notifications?visitId="+v.ID, supTok, nil); st != 200 || len(out["items"].([]any)) < 3 {
		t.Fatalf("notifications of the visit: %d %v", st, out)
	}
	// Logging out stops pushes to that device.
	call(t, "POST", base+"/v1/auth/logout", wkTok, nil)
	if ts, _ := srv.Push.Targets().Live(ctx, mustUser(t, srv, "wk.1")); len(ts) != 0 {
		t.Fatalf("device still targeted after logout: %+v", ts)
	}
	// The wired server stamps everything with its clock.
	storetest.CheckNoWallClock(t, srv.Store)
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

func mustUser(t *testing.T, srv *Server, login string) string {
	u, err := srv.Store.Accounts.UserByLogin(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestShutdownBoundsPushSend: SIGTERM while FCM never answers a send. The
// dispatcher may finish it only within SHUTDOWN_TIMEOUT: Shutdown returns
// at the deadline, says the send was cut short, and the notification stays
// in the outbox under its lease, to be sent again when the lease runs out.
func TestShutdownBoundsPushSend(t *testing.T) {
	arrived := make(chan struct{})
	var once sync.Once
	stuck := make(chan struct{})
	srvFCM := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer srvFCM.Close()
	defer close(stuck)
	clk := &testClock{t: storetest.Epoch}
	cfg := testConfig(t, t.TempDir(), map[string]string{"FIREBASE_PROJECT_ID": "p", "FCM_ENDPOINT": srvFCM.URL + "/v1", "PUSH_INTERVAL": "100ms"})
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := srv.Push.Targets().Register(ctx, "u1", push.Target{Token: "fcm-token-0123456789abcdef", DeviceID: "phone", Platform: "android"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Outbox.Enqueue(ctx, &push.Notification{DedupeKey: "k1", UserID: "u1", Kind: "pull", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	<-arrived
	const timeout = time.Second
	res := make(chan error, 1)
	go func() { res <- srv.Shutdown(timeout) }()
	select {
	case err = <-res:
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("Shutdown did not return within its %s timeout", timeout)
	}
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("Shutdown error %v, want the push send reported cut short", err)
	}
}
