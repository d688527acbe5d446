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
	"sync/atomic"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/store/storetest"
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
	url      string // the server's base URL
	mu       sync.Mutex
	received []map[string]any
	script   map[string][]reply  // token -> replies to use first
	accepted map[string]int      // notificationId -> accepted sends
	hold     func(*http.Request) // when set, runs before each send is answered
}

// setHold makes every send wait in h before it is answered.
func (f *fcm) setHold(h func(*http.Request)) { f.mu.Lock(); f.hold = h; f.mu.Unlock() }

func (f *fcm) acceptedOf(id string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.accepted[id] }

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
		hold := f.hold
		f.mu.Unlock()
		if hold != nil {
			hold(r)
		}
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
	f.url = srv.URL
	return f, srv.URL + "/v1"
}

type rig struct {
	clk     *clock
	outbox  *push.Outbox
	targets *push.Targets
	fcm     *fcm
	sender  push.Sender
	newDisp func(owner string) *push.Dispatcher
	// newDispVia is newDisp with a sender of its own, whose requests go to
	// /{owner}/v1/... on the local FCM, so a test sees which instance sent.
	newDispVia func(owner string) *push.Dispatcher
}

func newRig(t testing.TB) *rig {
	clk := &clock{t: time.Date(2037, 12, 1, 2, 0, 0, 0, time.UTC)}
	db := storetest.New(t, clk.Now)
	f, endpoint := newFCM(t)
	sender, err := push.NewFCM(context.Background(), "test", "", endpoint, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	targets := push.NewTargets(db.Push)
	r := &rig{clk: clk, outbox: push.NewOutbox(db.Push), targets: targets, fcm: f, sender: sender}
	r.newDisp = func(owner string) *push.Dispatcher {
		return push.NewDispatcher(db, targets, sender, owner, clk.Now, slog.New(slog.DiscardHandler))
	}
	r.newDispVia = func(owner string) *push.Dispatcher {
		own, err := push.NewFCM(context.Background(), "test", "", f.url+"/"+owner+"/v1", clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		return push.NewDispatcher(db, targets, own, owner, clk.Now, slog.New(slog.DiscardHandler))
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
	ns, _, err := r.outbox.List(context.Background(), "", user, "", 1000)
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
	if n, _, err := d.RunOnce(context.Background()); err != nil || n != 2 {
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
	if _, _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ns := state(t, r, "w1")
	if ns[0].State != push.StatePending || ns[0].NotBefore.Before(r.clk.Now().Add(120*time.Second)) {
		t.Fatalf("after 429: %+v (retry before Retry-After)", ns[0])
	}
	r.clk.Add(60 * time.Second)
	if c, _, _ := d.RunOnce(ctx); c != 0 {
		t.Fatal("retried before Retry-After")
	}
	r.clk.Add(2 * time.Minute)
	if _, _, err := d.RunOnce(ctx); err != nil {
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
	if _, _, err := d.RunOnce(context.Background()); err != nil {
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
		if _, _, err := d.RunOnce(ctx); err != nil {
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
	if _, _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ns := state(t, r, "w2"); ns[0].State != push.StateFailed || ns[0].LastError == "" {
		t.Fatalf("permanent error: %+v", ns[0])
	}
}

// TestTwoDispatchersDeliverOnce: two dispatchers (two instances) drain
// 1,000 notifications at once; each is accepted by FCM exactly once, and
// both take part. No timing decides it: FCM holds every send until each
// instance has one under way, so neither can drain the outbox alone, and
// each loop stops only when it found nothing due and lost no race. A loop
// that stops with the gate still shut (it took its lost races for an empty
// queue) opens it and fails the test.
func TestTwoDispatchersDeliverOnce(t *testing.T) {
	storetest.NeedsIsolation(t)
	r := newRig(t)
	ctx := context.Background()
	for u := 0; u < 50; u++ {
		r.device(t, fmt.Sprintf("u%d", u), "phone", "android")
	}
	for i := 0; i < 1000; i++ {
		r.enqueue(t, &push.Notification{DedupeKey: fmt.Sprintf("n%d", i), UserID: fmt.Sprintf("u%d", i%50), Kind: "pull", TTL: time.Hour})
	}
	a, b := r.newDispVia("a"), r.newDispVia("b")
	a.Batch, b.Batch = 100, 100
	g := newGate("a", "b")
	r.fcm.setHold(g.wait)
	var wg sync.WaitGroup
	var races atomic.Int64
	for owner, d := range map[string]*push.Dispatcher{"a": a, "b": b} {
		wg.Go(func() {
			defer g.stopped(owner)
			for {
				n, lost, err := d.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				races.Add(int64(lost))
				if n == 0 && lost == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("claims lost to the other instance: %d", races.Load())
	if g.forced != "" {
		t.Fatalf("dispatcher %s stopped before sending anything while notifications were due", g.forced)
	}
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

// gate holds FCM sends until each named instance has sent one.
type gate struct {
	mu     sync.Mutex
	want   map[string]bool
	open   chan struct{}
	forced string // the instance whose loop ended with the gate shut
}

func newGate(owners ...string) *gate {
	g := &gate{want: map[string]bool{}, open: make(chan struct{})}
	for _, o := range owners {
		g.want[o] = true
	}
	return g
}

func (g *gate) wait(r *http.Request) {
	owner, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	g.mu.Lock()
	if delete(g.want, owner); len(g.want) == 0 && !g.isOpen() {
		close(g.open)
	}
	g.mu.Unlock()
	<-g.open
}

func (g *gate) stopped(owner string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.isOpen() {
		g.forced = owner
		close(g.open)
	}
}

func (g *gate) isOpen() bool {
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

// TestClaimLostRaceIsNotEmpty: another instance leases what a dispatcher
// read as due before its own lease lands. The claim reports the race as
// lost, distinct from nothing due.
func TestClaimLostRaceIsNotEmpty(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.device(t, "w1", "phone", "android")
	for i := range 4 { // two older, then two newer: the order of a claim
		r.enqueue(t, &push.Notification{DedupeKey: fmt.Sprintf("k%d", i), UserID: "w1", Kind: "pull", NotBefore: r.clk.Now().Add(time.Duration(i/2-2) * time.Minute)})
	}
	a, b := r.newDisp("a"), r.newDisp("b")
	a.Batch, b.Batch = 2, 2
	push.SetBeforeLease(b, func() {
		push.SetBeforeLease(b, nil)
		if got, _, err := a.Claim(ctx); err != nil || len(got) != 2 {
			t.Errorf("a's claim: %d, %v", len(got), err)
		}
	})
	if got, lost, err := b.Claim(ctx); err != nil || len(got) != 0 || lost != 2 {
		t.Fatalf("b's claim after a took its two: claimed %d lost %d, %v; want 0 and 2", len(got), lost, err)
	}
	if got, lost, err := b.Claim(ctx); err != nil || len(got) != 2 || lost != 0 {
		t.Fatalf("b's next claim: claimed %d lost %d, %v; want the two newer", len(got), lost, err)
	}
	if got, lost, err := b.Claim(ctx); err != nil || len(got) != 0 || lost != 0 {
		t.Fatalf("all leased: claimed %d lost %d, %v; want nothing due", len(got), lost, err)
	}
}

// TestRunLooksAgainAfterLostRace: Run's first pass loses all its claims to
// another instance; it must look again at once, not sleep its interval (an
// hour here) as if nothing were due.
func TestRunLooksAgainAfterLostRace(t *testing.T) {
	r := newRig(t)
	r.device(t, "w1", "phone", "android")
	var newer []string
	for i := range 4 {
		n := r.enqueue(t, &push.Notification{DedupeKey: fmt.Sprintf("k%d", i), UserID: "w1", Kind: "pull", NotBefore: r.clk.Now().Add(time.Duration(i/2-2) * time.Minute)})
		if i >= 2 {
			newer = append(newer, n.ID)
		}
	}
	sent := make(chan struct{}, 4)
	r.fcm.setHold(func(*http.Request) { sent <- struct{}{} })
	a, b := r.newDisp("a"), r.newDisp("b")
	a.Batch, b.Batch = 2, 2
	ctx, cancel := context.WithCancel(context.Background())
	push.SetBeforeLease(b, func() {
		push.SetBeforeLease(b, nil)
		if _, _, err := a.Claim(ctx); err != nil {
			t.Error(err)
		}
	})
	done := make(chan struct{})
	go func() { b.Run(ctx, time.Hour); close(done) }()
	for range 2 {
		select {
		case <-sent:
		case <-time.After(30 * time.Second): // only a failure waits this long
			cancel()
			<-done
			t.Fatal("after losing its claims the dispatcher slept instead of looking again")
		}
	}
	cancel()
	<-done
	for _, id := range newer {
		if r.fcm.acceptedOf(id) != 1 {
			t.Fatalf("notification %s accepted %d times, want 1", id, r.fcm.acceptedOf(id))
		}
	}
}

// TestGracefulStopRecordsSendUnderWay: SIGTERM (the dispatcher's context
// ends) while FCM holds a send. The send completes and is recorded as sent,
// so once the lease has run out another instance sends nothing.
func TestGracefulStopRecordsSendUnderWay(t *testing.T) {
	r := newRig(t)
	r.device(t, "w1", "phone", "android")
	n := r.enqueue(t, &push.Notification{DedupeKey: "k1", UserID: "w1", Kind: "pull", TTL: time.Hour})
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.fcm.setHold(func(*http.Request) {
		once.Do(func() { close(arrived) })
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	a := r.newDisp("a")
	done := make(chan struct{})
	go func() { a.Run(ctx, time.Hour); close(done) }()
	<-arrived
	cancel()       // the loop is told to stop while the send is at FCM
	close(release) // FCM accepts it only now
	<-done
	if ns := state(t, r, "w1"); len(ns) != 1 || ns[0].State != push.StateSent {
		t.Fatalf("after a graceful stop: %+v, want the notification recorded as sent", ns)
	}
	r.clk.Add(a.Lease + time.Second)
	if c, lost, err := r.newDisp("b").RunOnce(context.Background()); err != nil || c != 0 || lost != 0 {
		t.Fatalf("the next instance claimed %d (lost %d), %v; want nothing", c, lost, err)
	}
	if got := r.fcm.acceptedOf(n.ID); got != 1 {
		t.Fatalf("accepted %d times, want once", got)
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
	if got, lost, err := a.Claim(ctx); err != nil || len(got) != 1 || lost != 0 {
		t.Fatalf("claim %d lost %d %v", len(got), lost, err)
	}
	if c, lost, _ := b.RunOnce(ctx); c != 0 || lost != 0 {
		t.Fatalf("b took a leased notification, or saw it due: claimed %d lost %d", c, lost)
	}
	r.clk.Add(a.Lease + time.Second)
	if c, _, err := b.RunOnce(ctx); err != nil || c != 1 {
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
	if _, _, err := r.newDisp("a").RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ns := state(t, r, "w1")
	if ns[0].State != push.StatePending || ns[0].NotBefore.Before(r.clk.Now().Add(5*time.Minute)) || ns[0].NotBefore.After(r.clk.Now().Add(6*time.Minute)) {
		t.Fatalf("after 429 with Retry-After in 5 minutes: %+v", ns[0])
	}
}
