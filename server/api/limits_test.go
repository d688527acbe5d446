package api_test

import (
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	fsync "fieldsync/sync"
)

// withLimits serves the world's fixture through an API with the default
// request budgets, the default sync limits and the push relay as the
// office's alerter, as the server runs it.
func withLimits(t *testing.T, w *world) *push.Outbox {
	t.Helper()
	f := w.f
	log := slog.New(slog.DiscardHandler)
	outbox := push.NewOutbox(f.db.Push)
	f.office.SetAlerter(push.NewRelay(f.db, outbox, f.clock.Now, log))
	f.sync = fsync.New(f.db, f.clock.Now, log, fsync.DefaultRules, fsync.DefaultLimits, f.presence)
	f.sync.SetReworkHook(f.office)
	f.api = api.New(api.Config{BodyLimit: 4 << 20, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, RequestTimeout: 20 * time.Second,
		Limits: api.DefaultLimits},
		api.Deps{Auth: f.auth, Office: f.office, Sync: f.sync, Presence: f.presence, Outbox: outbox, Targets: push.NewTargets(f.db.Push),
			Store: f.db, Log: log, Now: f.clock.Now})
	return outbox
}

// TestComplaintFloodIsLimitedAndCoalesced: a customer firing 100 urgent
// complaints in a moment gets the write budget's burst through, then 429
// with Retry-After; what got through is one high-priority alert with a
// count, and push sends the supervisor one notification, not one each.
func TestComplaintFloodIsLimitedAndCoalesced(t *testing.T) {
	w := newWorld(t)
	f := w.f
	withLimits(t, w)
	burst := api.DefaultLimits.Write.Burst

	created, limited := 0, 0
	for i := range 100 {
		r := f.do("POST", "/v1/complaints", map[string]any{"category": "safety", "text": fmt.Sprintf("第%d次投诉", i+1)}, w.cu1)
		switch r.status {
		case 201:
			created++
		case 429:
			limited++
			e := r.wantError(429, schemas.ERATELIMIT)
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || e.Details["budget"] != "write" {
				t.Fatalf("429 with Retry-After %q, details %v", r.header.Get("Retry-After"), e.Details)
			}
		default:
			t.Fatalf("complaint %d: status %d %s", i+1, r.status, r.body)
		}
	}
	if created != burst || limited != 100-burst {
		t.Fatalf("%d created, %d limited; want %d and %d", created, limited, burst, 100-burst)
	}
	// Reads have their own budget, and the budget refills with time.
	f.do("GET", "/v1/complaints", nil, w.cu1).want(200)
	f.clock.Add(time.Second)
	f.do("POST", "/v1/complaints", map[string]any{"category": "safety", "text": "再一次"}, w.cu1).want(201)
	created++

	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, w.s1).want(200).decode(&feed)
	var complaints []schemas.Alert
	for _, a := range feed.Items {
		if a.Kind == "complaint" {
			complaints = append(complaints, a)
		}
	}
	if len(complaints) != 1 || complaints[0].Count != created || complaints[0].Priority != "high" || complaints[0].LastAt == nil {
		t.Fatalf("want one high complaint alert counting %d, got %+v", created, complaints)
	}
	sent := 0
	err := f.db.Each(t.Context(), func(coll string, d bson.Raw) error {
		var n push.Notification
		if coll == "push_notifications" && bson.Unmarshal(d, &n) == nil && n.Kind == "alert" && n.Data["alertKind"] == "complaint" {
			sent++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent != 1 {
		t.Fatalf("%d alert notifications for the flood, want 1 (to sup.one)", sent)
	}
}

// TestAlertCoalescing: the rules of one coalesced alert, on the store.
func TestAlertCoalescing(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	raise := func(cause, subject, prio string) (string, bool) {
		t.Helper()
		a := &schemas.Alert{Kind: "complaint", Team: "team-1", Priority: prio, CreatedAt: f.clock.Now()}
		first, err := f.db.Cases.RaiseAlert(ctx, a, "complaint/"+prio+"/"+subject, cause, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return a.ID, first
	}
	f.clock.Add(f.clock.Now().Truncate(10 * time.Minute).Add(10 * time.Minute).Sub(f.clock.Now())) // the start of a window
	id, first := raise("c1", "customer/a", "high")
	if !first {
		t.Fatal("the first cause is not first")
	}
	f.clock.Add(time.Minute)
	if again, first := raise("c2", "customer/a", "high"); again != id || first {
		t.Fatalf("same group, same window: %s first=%v, want %s and not first", again, first, id)
	}
	if again, first := raise("c1", "customer/a", "high"); again != id || !first {
		t.Fatal("raising the first cause again must find it, as first (to notify again after a crash)")
	}
	if other, _ := raise("c3", "customer/b", "high"); other == id {
		t.Fatal("another subject joined the group")
	}
	if other, _ := raise("c4", "customer/a", "normal"); other == id {
		t.Fatal("a normal alert joined a high one")
	}
	al, err := f.office.ActOnAlert(ctx, &schemas.Actor{UserID: "sup", Role: schemas.RoleSupervisor, Team: "team-1"}, id, "acknowledge", "")
	if err != nil || al.Count != 2 {
		t.Fatalf("ack: %+v %v", al, err)
	}
	if next, first := raise("c5", "customer/a", "high"); next == id || !first {
		t.Fatal("a cause after the alert was acknowledged must open a new alert, and notify")
	}
	f.clock.Add(10 * time.Minute)
	if later, first := raise("c6", "customer/a", "high"); later == id || !first {
		t.Fatal("the next window joined the old alert")
	}
}

// TestPushBudgetPerDevice: one-operation pushes from one phone are cut
// off after the push burst; the worker's other phone has its own budget.
func TestPushBudgetPerDevice(t *testing.T) {
	w := newSyncWorld(t)
	withLimits(t, w)
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	ok := 0
	for i := range 40 {
		_, r := p.push(p.ops(opSpec{fsync.KindNote, w.v1.ID, at.Add(time.Duration(i) * time.Minute), map[string]any{"text": "一条"}}))
		if r.status == 429 {
			if e := r.wantError(429, schemas.ERATELIMIT); e.Details["budget"] != "push" || r.header.Get("Retry-After") == "" {
				t.Fatalf("429: %+v %v", e, r.header)
			}
			p.seq-- // not received: send it again later
			continue
		}
		r.want(200)
		ok++
	}
	if ok != api.DefaultLimits.Push.Burst {
		t.Fatalf("%d one-op pushes got through, want the burst %d", ok, api.DefaultLimits.Push.Burst)
	}
	other := w.phone("wk.one", "phone-2")
	other.mustPush(other.ops(opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "另一部手机"}}))
	p.pull("") // reads are not pushes
}

// TestOfflineBacklogSyncs: a phone back after days offline with 2,000
// operations pushes them in 4 batches of 500 at once, inside the default
// budgets, and every operation gets a final result.
func TestOfflineBacklogSyncs(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	withLimits(t, w)
	ctx := t.Context()
	// A week of visits, as a worker offline that long would have done.
	var visits []string
	for d := range 20 {
		start := w.v1.ScheduledStart.Add(time.Duration(d-20) * 24 * time.Hour)
		v, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID, ScheduledStart: start, WorkerID: w.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		visits = append(visits, v.ID)
	}
	p := w.phone("wk.one", "phone-1")
	var specs []opSpec
	for i := range 2000 {
		v := visits[i%len(visits)]
		at := w.v1.ScheduledStart.Add(-time.Duration(2000-i) * time.Minute)
		if i%2 == 0 {
			specs = append(specs, opSpec{fsync.KindProgress, v, at, map[string]any{"itemId": "kitchen", "done": i%4 == 0}})
		} else {
			specs = append(specs, opSpec{fsync.KindNote, v, at, map[string]any{"text": fmt.Sprintf("记录 %d", i)}})
		}
	}
	// 4 pushes of 500; a push the server cut short (its time budget, on a
	// slow machine) leaves the rest skipped, and the phone sends them again.
	pending := p.ops(specs...)
	pushes, applied := 0, 0
	for len(pending) > 0 {
		batch := pending[:min(500, len(pending))]
		pushes++
		resp := p.mustPush(batch) // never 429
		var again []map[string]any
		for i, r := range resp.Results {
			switch r.Status {
			case fsync.StatusApplied, fsync.StatusConflict:
				applied++
			case fsync.StatusSkipped:
				again = append(again, batch[i])
			default:
				t.Fatalf("push %d: op %d %s %s %s", pushes, r.Seq, r.Status, r.Code, r.Message)
			}
		}
		pending = append(again, pending[len(batch):]...)
	}
	if applied != 2000 || pushes > api.DefaultLimits.Push.Burst {
		t.Fatalf("%d applied in %d pushes; want 2000 within the push burst of %d", applied, pushes, api.DefaultLimits.Push.Burst)
	}
	t.Logf("2,000 operations in %d pushes", pushes)
}
