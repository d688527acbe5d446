package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var now0 = time.Date(2037, 12, 1, 8, 0, 0, 0, time.UTC)

// clock0 stands at now0, in the machine's zone as time.Now answers.
func clock0() time.Time { return now0.In(time.Local) }

func setup(t *testing.T) (*store.Store, *schemas.Visit, *schemas.Actor) {
	return setupAt(t, clock0)
}

// setupAt is setup with the store on the clock now.
func setupAt(t *testing.T, now func() time.Time) (*store.Store, *schemas.Visit, *schemas.Actor) {
	db := storetest.New(t, now)
	v := &schemas.Visit{ID: schemas.NewID(), CustomerID: schemas.NewID(), WorkerID: schemas.NewID(), Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: now0.Add(-4 * time.Hour), ScheduledEnd: now0.Add(-time.Hour), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Address:   schemas.VisitAddress{Text: "上海", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}},
		Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}, {ID: "floors"}}, Version: 1, CreatedAt: now0, UpdatedAt: now0}
	if err := db.Visits.Insert(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	a := &schemas.Actor{UserID: schemas.NewID(), Role: schemas.RoleWorker, WorkerID: v.WorkerID, Team: "team-1", DeviceID: "phone-1"}
	return db, v, a
}

func engine(db *store.Store) *fsync.Engine {
	return fsync.New(db, clock0, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
}

func batch(v *schemas.Visit, n int) *fsync.Batch {
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: 1, DeviceClock: now0, Ops: []fsync.Op{}}
	for i := 1; i <= n; i++ {
		var kind, payload string
		switch i % 4 {
		case 1:
			kind, payload = fsync.KindProgress, fmt.Sprintf(`{"itemId":"%s","done":%v}`, []string{"kitchen", "floors"}[i%2], i%3 == 0)
		case 2:
			kind, payload = fsync.KindNote, fmt.Sprintf(`{"text":"note %d"}`, i)
		case 3:
			kind, payload = fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`
		default:
			kind, payload = fsync.KindIncident, fmt.Sprintf(`{"category":"other","severity":"low","text":"incident %d"}`, i)
		}
		b.Ops = append(b.Ops, fsync.Op{Seq: int64(i), OpID: schemas.NewID(), Kind: kind, VisitID: v.ID,
			At: v.ScheduledStart.Add(time.Duration(i) * time.Minute), Payload: json.RawMessage(payload)})
	}
	return b
}

func fieldJSON(t *testing.T, db *store.Store, id string) (string, *schemas.Visit) {
	v, err := db.Visits.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v.Field)
	return string(b), v
}

// TestStoreGoesAwayMidBatch cuts pushes off at random points (a deadline
// of a few milliseconds stands in for the store going away), retries until
// the batch lands, and checks the visit ends exactly as after one clean
// push: nothing twice, nothing lost.
func TestStoreGoesAwayMidBatch(t *testing.T) {
	cleanDB, cleanV, a := setup(t)
	b := batch(cleanV, 24)
	if _, err := engine(cleanDB).Push(context.Background(), a, b); err != nil {
		t.Fatal(err)
	}
	want, _ := fieldJSON(t, cleanDB, cleanV.ID)

	db, v, a2 := setup(t)
	// Same operations (ids, times) against the second visit.
	for i := range b.Ops {
		b.Ops[i].VisitID = v.ID
	}
	a2.WorkerID = v.WorkerID
	e := engine(db)
	rng := rand.New(rand.NewPCG(3, 5))
	failures := 0
	var lastErr error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(40))*time.Millisecond)
		if attempt >= 12 {
			// Then as a server does, with a request deadline. Twelve random
			// cuts land at many steps of the 24-operation batch; many more
			// wear out FerretDB v1, whose SQLite connections can stay
			// in a stale transaction after an interrupted command (every
			// write then fails with SQLITE_BUSY_SNAPSHOT): an engine defect
			// the direct SQLite store of the storage issue removes.
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
		}
		resp, err := e.Push(ctx, a2, b)
		cancel()
		if err != nil {
			failures++
			lastErr = err
			if attempt > 30 {
				t.Fatalf("no push landed in %d attempts: %v", attempt, lastErr)
			}
			continue
		}
		for _, r := range resp.Results {
			if r.Status != fsync.StatusApplied && r.Status != fsync.StatusDuplicate && r.Status != fsync.StatusConflict {
				t.Fatalf("op %d: %+v", r.Seq, r)
			}
		}
		break
	}
	if failures == 0 {
		t.Log("no push was cut off; the deadlines were too generous on this machine")
	}
	got, gv := fieldJSON(t, db, v.ID)
	var wf, gf schemas.FieldState
	_ = json.Unmarshal([]byte(want), &wf)
	_ = json.Unmarshal([]byte(got), &gf)
	if gf.Ops != wf.Ops || len(gf.Notes) != len(wf.Notes) || len(gf.Incidents) != len(wf.Incidents) || gf.FactStatus != wf.FactStatus {
		t.Fatalf("after %d cut-off pushes the visit differs from a clean push:\nwant %s\ngot  %s", failures, want, got)
	}
	incs, _ := db.Cases.ListIncidents(context.Background(), store.IncidentQuery{VisitID: v.ID})
	if incidents := len(incs.Items); incidents != len(wf.Incidents) {
		t.Fatalf("%d incidents recorded, want %d", incidents, len(wf.Incidents))
	}
	// The change log has the visit, or the relay puts it there.
	if gv.Version > 1 {
		if _, err := db.Visits.RelayDirty(context.Background(), now0.Add(time.Hour), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d pushes cut off before one landed", failures)
}

// TestTwoInstancesSameBatch: two server instances (two engines, each with
// its own change-log lock) receive the same batch at the same moment, as
// when a phone retries through another instance. Every operation is
// applied once.
func TestTwoInstancesSameBatch(t *testing.T) {
	storetest.NeedsIsolation(t)
	db, v, a := setup(t)
	other := storetest.Another(t, db)
	b := batch(v, 30)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := db
			if i%2 == 1 {
				target = other
			}
			_, errs[i] = engine(target).Push(context.Background(), a, b)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Field.Ops != 30 {
		t.Fatalf("%d operations applied, want 30", got.Field.Ops)
	}
	recs, err := db.SyncLog.VisitOps(context.Background(), v.ID)
	if err != nil || len(recs) != 30 {
		t.Fatalf("%d records, want 30 (%v)", len(recs), err)
	}
}

// TestSameOperationsSameStateWithinASecond: two phones of one worker set
// the same checklist items to different values and check in within the
// same second or two. Two fresh servers receive the same batches, one in
// the other's order reversed between the phones, each with its own
// network delays and with the phones' clocks sent to the second, as phones
// do. Both must end with the same visit: the fold order depends on the
// operations alone, never on which batch arrived first.
func TestSameOperationsSameStateWithinASecond(t *testing.T) {
	ctx := context.Background()
	var dbs [2]*store.Store
	var engines [2]*fsync.Engine
	var clocks [2]time.Time
	for i := range dbs {
		dbs[i] = storetest.New(t, nil)
		engines[i] = fsync.New(dbs[i], func() time.Time { return clocks[i] }, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
	}
	rng := rand.New(rand.NewPCG(10, 1))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	// Phones' clocks: most within a second or so of the server, some set
	// minutes or an hour off (all well clear of a rounding boundary).
	skew := func() time.Duration {
		switch rng.IntN(6) {
		case 0:
			return 10*time.Minute + ms(-3000, 3000)
		case 1:
			return -7*time.Minute + ms(-3000, 3000)
		case 2:
			return time.Hour + ms(-3000, 3000)
		}
		return ms(-1500, 1500)
	}
	items := []string{"kitchen", "floors"}
	differ := 0
	for iter := 0; iter < 30; iter++ {
		v := &schemas.Visit{ID: schemas.NewID(), CustomerID: schemas.NewID(), WorkerID: schemas.NewID(), Team: "team-1", TimeZone: "Asia/Shanghai",
			ScheduledStart: now0.Add(-4 * time.Hour), ScheduledEnd: now0.Add(-time.Hour), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
			Address:   schemas.VisitAddress{Text: "上海", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}},
			Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}, {ID: "floors"}}, Version: 1, CreatedAt: now0, UpdatedAt: now0}
		for _, db := range dbs {
			c := *v
			if err := db.Visits.Insert(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		userID := schemas.NewID()
		type phone struct {
			actor   *schemas.Actor
			skew    time.Duration
			batches [][]fsync.Op
		}
		var phones []*phone
		for _, dev := range []string{"phone-a", "phone-b"} {
			p := &phone{actor: &schemas.Actor{UserID: userID, Role: schemas.RoleWorker, WorkerID: v.WorkerID, Team: "team-1", DeviceID: dev}, skew: skew()}
			// The same few seconds of work on both phones: ties within a second.
			event := v.ScheduledStart.Add(30 * time.Minute)
			var ops []fsync.Op
			for s := int64(1); s <= 6; s++ {
				event = event.Add(ms(0, 700))
				at := event.Add(p.skew)
				if rng.IntN(2) == 0 {
					at = at.Truncate(time.Second) // some phones send whole seconds
				}
				kind, payload := fsync.KindProgress, fmt.Sprintf(`{"itemId":%q,"done":%v}`, items[rng.IntN(2)], rng.IntN(2) == 0)
				if s == 1 {
					kind, payload = fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`
				}
				ops = append(ops, fsync.Op{Seq: s, OpID: schemas.NewID(), Kind: kind, VisitID: v.ID, At: at, Payload: json.RawMessage(payload)})
			}
			cut := 1 + rng.IntN(len(ops)-1)
			p.batches = [][]fsync.Op{ops[:cut], ops[cut:]}
			phones = append(phones, p)
		}
		// Server 0 gets the batches in a random interleaving; server 1 the
		// same interleaving with the phones swapped: every batch of one phone
		// that came before the other's now comes after it.
		order := []int{0, 0, 1, 1}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for srv := range engines {
			next := []int{0, 0}
			receipt := now0.Add(time.Duration(iter) * time.Minute)
			for _, who := range order {
				if srv == 1 {
					who = 1 - who
				}
				p := phones[who]
				receipt = receipt.Add(time.Second + ms(0, 999))
				sent := receipt.Add(-ms(50, 2500)) // the network's delay
				clocks[srv] = receipt
				b := &fsync.Batch{DeviceID: p.actor.DeviceID, SchemaVersion: 1, DeviceClock: sent.Add(p.skew).Truncate(time.Second), Ops: p.batches[next[who]]}
				next[who]++
				if _, err := engines[srv].Push(ctx, p.actor, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		a, va := fieldJSON(t, dbs[0], v.ID)
		b, vb := fieldJSON(t, dbs[1], v.ID)
		if va.Field.Ops != 12 || vb.Field.Ops != 12 {
			t.Fatalf("iteration %d: %d and %d operations applied, want 12", iter, va.Field.Ops, vb.Field.Ops)
		}
		if a != b || va.Status != vb.Status || va.NeedsReview != vb.NeedsReview {
			differ++
			t.Errorf("iteration %d (skews %s, %s; arrival %v): the two servers disagree\n%s\n%s", iter, phones[0].skew, phones[1].skew, order, a, b)
		}
	}
	if differ > 0 {
		t.Logf("%d of 30 runs ended differently", differ)
	}
}

func pushOK(t *testing.T, e *fsync.Engine, a *schemas.Actor, b *fsync.Batch) *fsync.PushResponse {
	t.Helper()
	resp, err := e.Push(context.Background(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func noteOps(v *schemas.Visit, from, n int, text string) []fsync.Op {
	var ops []fsync.Op
	for i := from; i < from+n; i++ {
		ops = append(ops, fsync.Op{Seq: int64(i), OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: v.ID,
			At: v.ScheduledStart.Add(time.Duration(i) * time.Second), Payload: json.RawMessage(fmt.Sprintf(`{"text":%q}`, text))})
	}
	return ops
}

// TestVisitFull: one phone flooding a visit with the longest notes (the
// issue's 6 MB in one push) fills the visit's text cap; the rest is
// rejected as visit_full, from any phone, while facts without text still
// go in, and the team is alerted once.
func TestVisitFull(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	long := strings.Repeat("请", 4000) // 12,000 bytes, the longest note
	resp := pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: noteOps(v, 1, 500, long)})
	fits := int(fsync.DefaultLimits.MaxVisitBytes / 12000)
	for i, r := range resp.Results {
		want := fsync.StatusApplied
		if i >= fits {
			want = fsync.StatusRejected
		}
		if r.Status != want || (want == fsync.StatusRejected && r.Code != fsync.RejectVisitFull) {
			t.Fatalf("op %d of 500: %+v, want %s (%d notes fit)", i+1, r, want, fits)
		}
	}
	if resp.NextSeq != 501 {
		t.Fatalf("rejected operations must advance the sequence: next %d", resp.NextSeq)
	}
	raw, err := db.Visits.Raw(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := bson.Marshal(raw)
	if len(size) > 1<<20 {
		t.Fatalf("the visit grew to %d bytes", len(size))
	}
	t.Logf("a 6 MB flood left the visit at %d KiB", len(size)>>10)
	// Another phone of the worker meets the same cap; a tick without text still fits.
	b := *a
	b.DeviceID = "tablet-1"
	resp = pushOK(t, e, &b, &fsync.Batch{DeviceID: b.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: append(noteOps(v, 1, 1, strings.Repeat("再写一条", 800)),
		fsync.Op{Seq: 2, OpID: schemas.NewID(), Kind: fsync.KindProgress, VisitID: v.ID, At: v.ScheduledEnd, Payload: json.RawMessage(`{"itemId":"kitchen","done":true}`)})})
	if resp.Results[0].Code != fsync.RejectVisitFull || resp.Results[1].Status != fsync.StatusApplied {
		t.Fatalf("second phone: %+v", resp.Results)
	}
	if n := alertCount(t, db, v.ID, fsync.RejectVisitFull); n != 1 {
		t.Fatalf("%d visit_full alerts, want 1", n)
	}

	// The number of operations is capped too.
	db2, v2, a2 := setup(t)
	small := fsync.DefaultLimits
	small.MaxVisitOps = 40
	e2 := fsync.New(db2, func() time.Time { return now0 }, slog.New(slog.DiscardHandler), fsync.DefaultRules, small, nil)
	resp = pushOK(t, e2, a2, &fsync.Batch{DeviceID: a2.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: noteOps(v2, 1, 50, "好")})
	for i, r := range resp.Results {
		if (i < 40) != (r.Status == fsync.StatusApplied) || (i >= 40 && r.Code != fsync.RejectVisitFull) {
			t.Fatalf("op %d: %+v", i+1, r)
		}
	}
	if _, got := fieldJSON(t, db2, v2.ID); got.Field.Ops != 40 {
		t.Fatalf("%d operations folded, want 40", got.Field.Ops)
	}
}

// TestOfflineBacklogOfADay: a phone offline for a long working day comes
// back with 2,000 operations on one visit (ticks, notes with photos,
// incidents, check-in/out, sign-off) and syncs them all, in batches of the
// default size, under the per-visit caps.
func TestOfflineBacklogOfADay(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	const n = 2000
	var ops []fsync.Op
	photo := fmt.Sprintf("%064x", 7)
	for i := 1; i <= n; i++ {
		at := v.ScheduledStart.Add(time.Duration(i) * 5 * time.Second)
		kind, payload := fsync.KindProgress, fmt.Sprintf(`{"itemId":%q,"done":%v}`, []string{"kitchen", "floors"}[i%2], i%3 != 0)
		switch {
		case i == 1:
			kind, payload = fsync.KindRunningLate, fmt.Sprintf(`{"eta":%q}`, v.ScheduledStart.Add(10*time.Minute).Format(time.RFC3339))
		case i == 2:
			kind, payload = fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`
		case i == n-1:
			kind, payload = fsync.KindCheckOut, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`
		case i == n:
			kind, payload = fsync.KindSignOff, `{"signerName":"林先生","items":[{"itemId":"kitchen","accepted":true},{"itemId":"floors","accepted":true}],"rating":{"attitude":5,"quality":5,"efficiency":5,"price":5}}`
		case i%200 == 0:
			kind, payload = fsync.KindIncident, `{"category":"other","severity":"low","text":"门口地垫破损，已告知客户"}`
		case i%10 == 0:
			kind, payload = fsync.KindNote, fmt.Sprintf(`{"text":%q}`, strings.Repeat("客户说明天家里有客人，请把客厅和厨房再擦一遍。", 4))
		case i%7 == 0:
			kind, payload = fsync.KindProgress, fmt.Sprintf(`{"itemId":"kitchen","done":true,"text":%q,"photos":[%q]}`, "灶台和抽油烟机已清洁，水槽下有轻微漏水，已拍照", photo)
		}
		ops = append(ops, fsync.Op{Seq: int64(i), OpID: schemas.NewID(), Kind: kind, VisitID: v.ID, At: at, Payload: json.RawMessage(payload)})
	}
	start := time.Now()
	max := fsync.DefaultLimits.MaxOps
	for from := 0; from < n; from += max {
		resp := pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: ops[from:min(from+max, n)]})
		for _, r := range resp.Results {
			if r.Status != fsync.StatusApplied && r.Status != fsync.StatusConflict {
				t.Fatalf("op %d: %+v", r.Seq, r)
			}
		}
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Field.Ops != n || got.Status != schemas.VisitSignedOff {
		t.Fatalf("%d operations folded, status %s; want %d, signed off", got.Field.Ops, got.Status, n)
	}
	raw, _ := db.Visits.Raw(context.Background(), v.ID)
	doc, _ := bson.Marshal(raw)
	t.Logf("2,000 operations synced in %s in %d batches; the visit is %d KiB", time.Since(start).Round(time.Millisecond), (n+max-1)/max, len(doc)>>10)
}

var testPresence = fsync.NewPresence([][]byte{[]byte("presence-test-key-0123456789abcd")}, 5*time.Minute)

func checkIns(v *schemas.Visit, from int, codes ...string) []fsync.Op {
	var ops []fsync.Op
	for i, code := range codes {
		ops = append(ops, fsync.Op{Seq: int64(from + i), OpID: schemas.NewID(), Kind: fsync.KindCheckIn, VisitID: v.ID, At: v.ScheduledStart,
			Payload: json.RawMessage(fmt.Sprintf(`{"location":{"lat":31.2,"lng":121.45,"accuracyM":5},"presenceCode":%q}`, code))})
	}
	return ops
}

// wrongCodes are n codes that are not the visit's at its start.
func wrongCodes(v *schemas.Visit, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		c := fmt.Sprintf("%06d", i)
		if ok, _ := testPresence.Verify(v.ID, c, v.ScheduledStart); !ok {
			out = append(out, c)
		}
	}
	return out
}

func alertCount(t *testing.T, db *store.Store, visitID, kind string) int64 {
	t.Helper()
	return int64(len(visitAlerts(t, db, visitID, kind)))
}

// visitAlerts are the alerts of a kind about a visit.
func visitAlerts(t *testing.T, db *store.Store, visitID, kind string) []schemas.Alert {
	t.Helper()
	feed, err := db.Cases.ListAlerts(context.Background(), store.AlertQuery{AllTeams: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []schemas.Alert
	for _, a := range feed.Items {
		if a.VisitID == visitID && a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// TestPresenceCodeLocks: the 500 guesses in one push, the right
// code among them. After five wrong codes the visit's code is locked: the
// right one is not checked, the visit is not confirmed, the team gets one
// alert; the check-ins themselves are all kept. After the lock time a
// right code confirms the visit again.
func TestPresenceCodeLocks(t *testing.T) {
	now := now0
	clk := func() time.Time { return now } // one clock for the engine and the store
	db, v, a := setupAt(t, clk)
	e := fsync.New(db, clk, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, testPresence)
	right := testPresence.Code(v.ID, v.ScheduledStart)
	codes := wrongCodes(v, 500)
	codes[199] = right
	resp := pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now, Ops: checkIns(v, 1, codes...)})
	for i, r := range resp.Results {
		want := fsync.RulePresenceInvalid
		if i >= fsync.DefaultLimits.PresenceMaxWrong {
			want = fsync.RulePresenceLocked
		}
		if r.Status != fsync.StatusConflict || r.Rule != want {
			t.Fatalf("guess %d: %+v, want conflict %s", i+1, r, want)
		}
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Field.CustomerConfirmed || got.Field.CheckIn == nil || got.Field.Ops != 500 || !got.NeedsReview {
		t.Fatalf("visit after the guesses: confirmed %v, ops %d, review %v", got.Field.CustomerConfirmed, got.Field.Ops, got.NeedsReview)
	}
	if n, m := alertCount(t, db, v.ID, fsync.RulePresenceLocked), alertCount(t, db, v.ID, fsync.RulePresenceInvalid); n != 1 || m != 1 {
		t.Fatalf("%d presence_locked and %d presence_code_invalid alerts, want one each", n, m)
	}
	// Later, still locked: the right code is refused.
	now = now.Add(50 * time.Minute)
	resp = pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now, Ops: checkIns(v, 501, right)})
	if r := resp.Results[0]; r.Rule != fsync.RulePresenceLocked {
		t.Fatalf("right code while locked: %+v", r)
	}
	// After the lock: the right code counts again.
	now = now.Add(11 * time.Minute)
	resp = pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now, Ops: checkIns(v, 502, right)})
	if _, got = fieldJSON(t, db, v.ID); !got.Field.CustomerConfirmed {
		t.Fatalf("right code after the lock: %+v, not confirmed", resp.Results[0])
	}
	// And a new run of wrong codes locks it again, with a new alert.
	resp = pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now, Ops: checkIns(v, 503, wrongCodes(v, 6)...)})
	if r := resp.Results[5]; r.Rule != fsync.RulePresenceLocked {
		t.Fatalf("second run: %s", r.Rule)
	}
	if n := alertCount(t, db, v.ID, fsync.RulePresenceLocked); n != 2 {
		t.Fatalf("%d presence_locked alerts after two locks, want 2", n)
	}
}

// TestPresenceCountIsExact: wrong codes are counted once each, whether
// the same batch reaches two instances at once, phones push concurrently,
// or a push is cut off and retried.
func TestPresenceCountIsExact(t *testing.T) {
	storetest.NeedsIsolation(t)
	db, v, a := setup(t)
	ctx := context.Background()
	other := storetest.Another(t, db)
	newEngine := func(db *store.Store) *fsync.Engine {
		return fsync.New(db, func() time.Time { return now0 }, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, testPresence)
	}
	wrong := func() int {
		g, err := db.SyncLog.Presence(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g.Wrong
	}
	codes := wrongCodes(v, 10)
	phone := func(dev string) *schemas.Actor {
		b := *a
		b.DeviceID = dev
		return &b
	}
	// The same batch of two wrong codes, four times at once through two instances.
	b := &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: checkIns(v, 1, codes[0], codes[1])}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() {
			target := db
			if i%2 == 1 {
				target = other
			}
			_, errs[i] = newEngine(target).Push(ctx, a, b)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := wrong(); n != 2 {
		t.Fatalf("the same batch four times counted %d wrong codes, want 2", n)
	}
	// Two more phones, one wrong code each, at once.
	for i, dev := range []string{"tablet-1", "tablet-2"} {
		wg.Go(func() {
			_, errs[i] = newEngine(db).Push(ctx, phone(dev), &fsync.Batch{DeviceID: dev, SchemaVersion: 1, DeviceClock: now0, Ops: checkIns(v, 1, codes[2+i])})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs[0], errs[1])
	}
	if n := wrong(); n != 4 {
		t.Fatalf("%d wrong codes counted, want 4", n)
	}
	// A fifth, from a phone whose pushes are cut off at random points and
	// retried until one lands: it counts once, and locks the code.
	e := newEngine(db)
	p := phone("tablet-3")
	b = &fsync.Batch{DeviceID: p.DeviceID, SchemaVersion: 1, DeviceClock: now0, Ops: checkIns(v, 1, codes[4])}
	rng := rand.New(rand.NewPCG(5, 8))
	cut := 0
	for attempt := 0; ; attempt++ {
		c, cancel := context.WithTimeout(ctx, time.Duration(1+rng.IntN(15))*time.Millisecond)
		if attempt >= 8 { // few cut-offs: many can wedge the embedded store (see TestStoreGoesAwayMidBatch)
			cancel()
			c, cancel = context.WithTimeout(ctx, 20*time.Second)
		}
		_, err := e.Push(c, p, b)
		cancel()
		if err == nil {
			break
		}
		if cut++; attempt > 20 {
			t.Fatalf("no push landed in %d attempts: %v", attempt, err)
		}
	}
	if n := wrong(); n != 5 {
		t.Fatalf("after %d cut-off pushes %d wrong codes counted, want 5", cut, n)
	}
	right := testPresence.Code(v.ID, v.ScheduledStart)
	resp := pushOK(t, e, phone("tablet-4"), &fsync.Batch{DeviceID: "tablet-4", SchemaVersion: 1, DeviceClock: now0, Ops: checkIns(v, 1, right)})
	if r := resp.Results[0]; r.Rule != fsync.RulePresenceLocked {
		t.Fatalf("right code after five wrong ones: %+v", r)
	}
	if n := alertCount(t, db, v.ID, fsync.RulePresenceLocked); n != 1 {
		t.Fatalf("%d presence_locked alerts, want 1", n)
	}
	t.Logf("%d pushes cut off before the fifth landed", cut)
}

// TestSeqHeldByAnInterruptedAttemptOfAnotherVisit: an earlier push of the
// device (the app's install before a reinstall) recorded a note on one
// visit at seq 1 and the server died before writing the visit and the
// device's state. The reinstalled app sends another operation, on another
// visit, at seq 1. The record at seq 1 stands: its note reaches its visit
// (lastSeq now covers it, nothing else would ever fold it), and the new
// operation, answered seq_taken and not recorded, changes nothing until
// it is sent again under its new seq, then once.
func TestSeqHeldByAnInterruptedAttemptOfAnotherVisit(t *testing.T) {
	ctx := context.Background()
	db, v1, a := setup(t)
	v2 := *v1
	v2.ID = schemas.NewID()
	if err := db.Visits.Insert(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	at := v1.ScheduledStart.Add(time.Minute).UTC()
	held := &schemas.SyncRecord{ID: a.UserID + "/" + a.DeviceID + "/1", UserID: a.UserID, WorkerID: a.WorkerID, DeviceID: a.DeviceID, Seq: 1,
		OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: v2.ID, DeviceAt: at, CorrectedAt: at, EffAt: at, ReceivedAt: now0,
		Payload: schemas.SyncPayload{Text: "held"}, Status: fsync.StatusApplied}
	if _, err := db.SyncLog.InsertOps(ctx, []*schemas.SyncRecord{held}); err != nil {
		t.Fatal(err)
	}
	e := engine(db)
	op := fsync.Op{Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: v1.ID, At: at.Add(time.Minute), Payload: json.RawMessage(`{"text":"new"}`)}
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: 2, DeviceClock: now0, Ops: []fsync.Op{op}}
	resp, err := e.Push(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Results[0]; r.Status != fsync.StatusSkipped || r.Code != fsync.SkipSeqTaken || resp.NextSeq != 2 {
		t.Fatalf("new operation at a held seq: %+v, next %d", r, resp.NextSeq)
	}
	notes := func(id string) []string {
		_, v := fieldJSON(t, db, id)
		var out []string
		for _, n := range v.Field.Notes {
			out = append(out, n.Text)
		}
		return out
	}
	if got := notes(v2.ID); len(got) != 1 || got[0] != "held" {
		t.Fatalf("the recorded note's visit has %q, want [held]", got)
	}
	if got := notes(v1.ID); len(got) != 0 {
		t.Fatalf("the seq_taken operation's visit has %q, want none", got)
	}
	op.Seq = resp.NextSeq
	b.Ops = []fsync.Op{op}
	if resp, err = e.Push(ctx, a, b); err != nil || resp.Results[0].Status != fsync.StatusApplied {
		t.Fatalf("renumbered: %+v, %v", resp, err)
	}
	if got := notes(v1.ID); len(got) != 1 || got[0] != "new" {
		t.Fatalf("after the renumbered send the visit has %q, want [new]", got)
	}
}

// TestRenumberedQueueOverAnInterruptedAttempt: the phone pushed A (applied,
// the answer lost), then X, recorded at seq 2 before the server died (its
// visit and the device's state unwritten). Signed in again, it numbers its
// queue, A and X as far as it knows unsent, from nextSeq 2. A's resend
// finds seq 2 held by X's record; X's resend at seq 3 repeats that record.
// X's note must reach its visit, once, and A's stay once.
func TestRenumberedQueueOverAnInterruptedAttempt(t *testing.T) {
	ctx := context.Background()
	db, v1, a := setup(t)
	v2 := *v1
	v2.ID = schemas.NewID()
	if err := db.Visits.Insert(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	e := engine(db)
	at := v1.ScheduledStart.Add(time.Minute).UTC()
	opA := fsync.Op{Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: v1.ID, At: at, Payload: json.RawMessage(`{"text":"a"}`)}
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: 2, DeviceClock: now0, Ops: []fsync.Op{opA}}
	if resp, err := e.Push(ctx, a, b); err != nil || resp.Results[0].Status != fsync.StatusApplied {
		t.Fatalf("A: %+v, %v", resp, err)
	}
	xAt := at.Add(time.Minute)
	held := &schemas.SyncRecord{ID: a.UserID + "/" + a.DeviceID + "/2", UserID: a.UserID, WorkerID: a.WorkerID, DeviceID: a.DeviceID, Seq: 2,
		OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: v2.ID, DeviceAt: xAt, CorrectedAt: xAt, EffAt: xAt, ReceivedAt: now0,
		Payload: schemas.SyncPayload{Text: "x"}, Status: fsync.StatusApplied}
	if _, err := db.SyncLog.InsertOps(ctx, []*schemas.SyncRecord{held}); err != nil {
		t.Fatal(err)
	}
	opA.Seq = 2
	opX := fsync.Op{Seq: 3, OpID: held.OpID, Kind: fsync.KindNote, VisitID: v2.ID, At: xAt, Payload: json.RawMessage(`{"text":"x"}`)}
	b.Ops = []fsync.Op{opA, opX}
	resp, err := e.Push(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	notes := func(id string) []string {
		_, v := fieldJSON(t, db, id)
		var out []string
		for _, n := range v.Field.Notes {
			out = append(out, n.Text)
		}
		return out
	}
	if got := notes(v2.ID); len(got) != 1 || got[0] != "x" {
		t.Fatalf("X's visit has %q, want [x] (results %+v)", got, resp.Results)
	}
	if got := notes(v1.ID); len(got) != 1 || got[0] != "a" {
		t.Fatalf("A's visit has %q, want [a]", got)
	}
}
