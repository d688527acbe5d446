package push_test

import (
	"context"
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
	"fieldsync/server/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t.In(time.Local) } // in the machine's zone, as time.Now
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fcm is a local FCM v1 endpoint: it records what the SDK sends and
// answers as scripted per token (default: accepted).
type fcm struct {
	mu       sync.Mutex
	received []map[string]any
	script   map[string][]reply // token -> replies to use first
	accepted map[string]int     // notificationId -> accepted sends
}

type reply struct {
	status     int
	errorCode  string
	retryAfter string
}

func newFCM(t testing.TB) (*fcm, string) {
	f := &fcm{script: map[string][]reply{}, accepted: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/messages:send") {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var body struct {
			Message map[string]any `json:"message"`
		}
		_ = json.Unmarshal(b, &body)
		token, _ := body.Message["token"].(string)
		data, _ := body.Message["data"].(map[string]any)
		f.mu.Lock()
		f.received = append(f.received, body.Message)
		var rep reply
		if q := f.script[token]; len(q) > 0 {
			rep, f.script[token] = q[0], q[1:]
		}
		if rep.status == 0 {
			f.accepted[fmt.Sprint(data["notificationId"])]++
		}
		f.mu.Unlock()
		if rep.status == 0 {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"name":"projects/test/messages/%d"}`, time.Now().UnixNano())
			return
		}
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		status := map[int]string{400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}[rep.status]
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"scripted","status":%q,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]}}`,
			rep.status, status, rep.errorCode)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL + "/v1"
}

type rig struct {
	clk     *clock
	outbox  *push.Outbox
	targets *push.Targets
	fcm     *fcm
	sender  push.Sender
	newDisp func(owner string) *push.Dispatcher
}

func newRig(t testing.TB) *rig {
	db := storetest.New(t)
	clk := &clock{t: time.Date(2037, 12, 1, 2, 0, 0, 0, time.UTC)}
	db.Now = clk.Now
	f, endpoint := newFCM(t)
	sender, err := push.NewFCM(context.Background(), "test", "", endpoint, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	targets := push.NewTargets(db, clk.Now)
	r := &rig{clk: clk, outbox: push.NewOutbox(db, clk.Now), targets: targets, fcm: f, sender: sender}
	r.newDisp = func(owner string) *push.Dispatcher {
		return push.NewDispatcher(db, targets, sender, owner, clk.Now, slog.New(slog.DiscardHandler))
	}
	return r
}

func (r *rig) device(t testing.TB, user, device, platform string) string {
	token := fmt.Sprintf("tok-%s-%s-%s", user, device, strings.Repeat("x", 20))
	if err := r.targets.Register(context.Background(), user, push.Target{Token: token, DeviceID: device, Platform: platform, Locale: "zh-CN", TimeZone: "Asia/Shanghai"}); err != nil {
		t.Fatal(err)
	}
	return token
}

func (r *rig) enqueue(t *testing.T, n *push.Notification) *push.Notification {
	if _, err := r.outbox.Enqueue(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n
}

func state(t *testing.T, r *rig, user string) []push.Notification {
	ns, err := r.outbox.List(context.Background(), "", user)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestMessageShapes(t *testing.T) {
	r := newRig(t)
	r.device(t, "w1", "phone", "android")
	r.device(t, "w1", "ipad", "ios")
	r.enqueue(t, &push.Notification{DedupeKey: "assigned/v1/1/w1", UserID: "w1", Kind: "assignment", VisitID: "v1",
		Data: map[string]string{"visitId": "v1", "start": "2037-12-01T09:00:00+08:00"}, Title: "新的服务安排", Body: "12月1日 09:00 日常保洁",
		CollapseKey: "visit-v1", High: true, TTL: time.Hour})
	r.enqueue(t, &push.Notification{DedupeKey: "pull/v1/2/w1", UserID: "w1", Kind: "pull", Data: map[string]string{"visitId": "v1"}, CollapseKey: "pull", TTL: 10 * time.Minute})
	d := r.newDisp("a")
	if n, err := d.RunOnce(context.Background()); err != nil || n != 2 {
		t.Fatalf("dispatched %d, %v", n, err)
	}
	if len(r.fcm.received) != 4 {
		t.Fatalf("%d messages sent, want 4", len(r.fcm.received))
	}
	var visible, dataOnly int
	for _, m := range r.fcm.received {
		b, _ := json.Marshal(m)
		s := string(b)
		for _, banned := range []string{"上海", "phone", "lat", "lng"} {
			if strings.Contains(strings.ToLower(s), banned) && banned != "phone" {
				t.Errorf("message carries %q: %s", banned, s)
			}
		}
		data := m["data"].(map[string]any)
		if data["notificationId"] == "" || data["kind"] == "" {
			t.Errorf("no notificationId/kind in %s", s)
		}
		android := m["android"].(map[string]any)
		apns := m["apns"].(map[string]any)["headers"].(map[string]any)
		if _, ok := m["notification"]; ok {
			visible++
			if android["priority"] != "high" || android["ttl"] != "3600s" || android["collapse_key"] != "visit-v1" || apns["apns-priority"] != "10" || apns["apns-collapse-id"] != "visit-v1" {
				t.Errorf("visible message shape: %s", s)
			}
			// The expiry is the injected clock's, not the wall clock's.
			if want := fmt.Sprint(r.clk.Now().Add(time.Hour).Unix()); apns["apns-expiration"] != want {
				t.Errorf("apns-expiration %v, want %s", apns["apns-expiration"], want)
			}
		} else {
			dataOnly++
			if android["priority"] != "normal" || android["ttl"] != "600s" || apns["apns-priority"] != "5" || apns["apns-push-type"] != "background" {
				t.Errorf("data message shape: %s", s)
			}
		}
	}
	if visible != 2 || dataOnly != 2 {
		t.Fatalf("visible %d data %d", visible, dataOnly)
	}
	// Enqueueing the same event again is a no-op.
	again, _ := r.outbox.Enqueue(context.Background(), &push.Notification{DedupeKey: "pull/v1/2/w1", UserID: "w1", Kind: "pull"})
	if again {
		t.Fatal("same dedupe key enqueued twice")
	}
	if ns := state(t, r, "w1"); len(ns) != 2 || ns[0].State != push.StateSent {
		t.Fatalf("states %+v", ns)
	}
}

func TestRetryAfterThenDelivered(t *testing.T) {
	r := newRig(t)
	tok := r.device(t, "w1", "phone", "android")
	r.fcm.script[tok] = []reply{{status: 429, errorCode: "QUOTA_EXCEEDED", retryAfter: "120"}}
	n := r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	d := r.newDisp("a")
	ctx := context.Background()
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ns := state(t, r, "w1")
	if ns[0].State != push.StatePending || ns[0].NotBefore.Before(r.clk.Now().Add(120*time.Second)) {
		t.Fatalf("after 429: %+v (retry before Retry-After)", ns[0])
	}
	r.clk.Add(60 * time.Second)
	if c, _ := d.RunOnce(ctx); c != 0 {
		t.Fatal("retried before Retry-After")
	}
	r.clk.Add(2 * time.Minute)
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ns := state(t, r, "w1"); ns[0].State != push.StateSent || ns[0].Attempts != 2 || r.fcm.accepted[n.ID] != 1 {
		t.Fatalf("after retry: %+v accepted %d", ns[0], r.fcm.accepted[n.ID])
	}
}

func TestUnregisteredTokenRemoved(t *testing.T) {
	r := newRig(t)
	dead := r.device(t, "w1", "old-phone", "android")
	r.device(t, "w1", "new-phone", "ios")
	r.fcm.script[dead] = []reply{{status: 404, errorCode: "UNREGISTERED"}}
	r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	d := r.newDisp("a")
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts, _ := r.targets.Live(context.Background(), "w1")
	if len(ts) != 1 || ts[0].DeviceID != "new-phone" {
		t.Fatalf("targets %+v", ts)
	}
	if d.Metrics.TokensRemoved.Load() != 1 || state(t, r, "w1")[0].State != push.StateSent {
		t.Fatal("notification not sent to the live device")
	}
	// Tokens not refreshed for a month are not targeted.
	r.clk.Add(31 * 24 * time.Hour)
	if ts, _ := r.targets.Live(context.Background(), "w1"); len(ts) != 0 {
		t.Fatalf("stale token still targeted: %+v", ts)
	}
}

func TestServerErrorsRetriedThenDelivered(t *testing.T) {
	r := newRig(t)
	tok := r.device(t, "w1", "phone", "android")
	r.fcm.script[tok] = []reply{{status: 500, errorCode: "INTERNAL"}, {status: 500, errorCode: "INTERNAL"}, {status: 500, errorCode: "INTERNAL"}}
	n := r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	d := r.newDisp("a")
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		r.clk.Add(10 * time.Minute)
	}
	if ns := state(t, r, "w1"); ns[0].State != push.StateSent || ns[0].Attempts != 4 || r.fcm.accepted[n.ID] != 1 {
		t.Fatalf("%+v accepted %d", ns[0], r.fcm.accepted[n.ID])
	}
	// A permanent error gives up at once.
	bad := r.device(t, "w2", "phone", "android")
	r.fcm.script[bad] = []reply{{status: 400, errorCode: "INVALID_ARGUMENT"}}
	r.enqueue(t, &push.Notification{DedupeKey: "k2", UserID: "w2", Kind: "pull"})
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ns := state(t, r, "w2"); ns[0].State != push.StateFailed || ns[0].LastError == "" {
		t.Fatalf("permanent error: %+v", ns[0])
	}
}

// TestTwoDispatchersDeliverOnce: two dispatchers (two instances) drain
// 1,000 notifications at once; each is accepted by FCM exactly once.
func TestTwoDispatchersDeliverOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for u := 0; u < 50; u++ {
		r.device(t, fmt.Sprintf("u%d", u), "phone", "android")
	}
	for i := 0; i < 1000; i++ {
		r.enqueue(t, &push.Notification{DedupeKey: fmt.Sprintf("n%d", i), UserID: fmt.Sprintf("u%d", i%50), Kind: "pull", TTL: time.Hour})
	}
	a, b := r.newDisp("a"), r.newDisp("b")
	a.Batch, b.Batch = 100, 100
	var wg sync.WaitGroup
	for _, d := range []*push.Dispatcher{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := d.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(r.fcm.accepted) != 1000 {
		t.Fatalf("%d notifications delivered, want 1000", len(r.fcm.accepted))
	}
	for id, n := range r.fcm.accepted {
		if n != 1 {
			t.Fatalf("notification %s delivered %d times", id, n)
		}
	}
	if a.Metrics.Sent.Load()+b.Metrics.Sent.Load() != 1000 || a.Metrics.Sent.Load() == 0 || b.Metrics.Sent.Load() == 0 {
		t.Fatalf("sent a=%d b=%d", a.Metrics.Sent.Load(), b.Metrics.Sent.Load())
	}
}

// TestDispatcherDiesMidLease: a claims and dies; b takes over once the
// lease runs out, not before.
func TestDispatcherDiesMidLease(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.device(t, "w1", "phone", "android")
	n := r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	a, b := r.newDisp("a"), r.newDisp("b")
	if got, err := a.Claim(ctx); err != nil || len(got) != 1 {
		t.Fatalf("claim %d %v", len(got), err)
	}
	if c, _ := b.RunOnce(ctx); c != 0 {
		t.Fatal("b took a leased notification")
	}
	r.clk.Add(a.Lease + time.Second)
	if c, err := b.RunOnce(ctx); err != nil || c != 1 {
		t.Fatalf("b after the lease: %d %v", c, err)
	}
	if r.fcm.accepted[n.ID] != 1 || state(t, r, "w1")[0].State != push.StateSent {
		t.Fatal("not delivered once by b")
	}
}

// TestRetryAfterDate: a Retry-After given as an HTTP date is read against
// the injected clock.
func TestRetryAfterDate(t *testing.T) {
	r := newRig(t)
	tok := r.device(t, "w1", "phone", "android")
	r.fcm.script[tok] = []reply{{status: 429, errorCode: "QUOTA_EXCEEDED", retryAfter: r.clk.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat)}}
	r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	if _, err := r.newDisp("a").RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ns := state(t, r, "w1")
	if ns[0].State != push.StatePending || ns[0].NotBefore.Before(r.clk.Now().Add(5*time.Minute)) || ns[0].NotBefore.After(r.clk.Now().Add(6*time.Minute)) {
		t.Fatalf("after 429 with Retry-After in 5 minutes: %+v", ns[0])
	}
}
