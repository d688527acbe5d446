package push

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestQuietHours(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(d, h, m int) time.Time { return time.Date(2037, 12, d, h, m, 0, 0, sh) }
	cases := []struct {
		in, deadline, want time.Time
	}{
		{at(1, 10, 0), time.Time{}, at(1, 10, 0)},   // daytime: unchanged
		{at(1, 22, 30), time.Time{}, at(2, 8, 0)},   // evening: next morning
		{at(2, 5, 30), time.Time{}, at(2, 8, 0)},    // early morning: 08:00
		{at(2, 5, 30), at(2, 7, 30), at(1, 20, 55)}, // 08:00 is after the visit: the evening before
		{at(1, 20, 59), at(2, 9, 0), at(1, 20, 59)}, // just before quiet hours
		{at(1, 21, 0), at(2, 9, 0), at(2, 8, 0)},    // quiet from 21:00
	}
	for _, c := range cases {
		if got := quiet(c.in, sh, c.deadline); !got.Equal(c.want) {
			t.Errorf("quiet(%s, %s) = %s, want %s", c.in, c.deadline, got.In(sh), c.want)
		}
	}
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t.In(time.Local) } // in the machine's zone, as time.Now

func TestRemindersFollowTheVisit(t *testing.T) {
	ctx := context.Background()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	clk := &fixedClock{t: time.Date(2037, 12, 1, 8, 0, 0, 0, sh)}
	db := storetest.New(t, clk.Now)
	log := slog.New(slog.DiscardHandler)
	outbox := NewOutbox(db.Push)
	relay := NewRelay(db, outbox, clk.Now, log)
	sched := NewScheduler(db, outbox, relay, clk.Now, log)

	w := &schemas.Worker{ID: schemas.NewID(), WorkerInput: schemas.WorkerInput{Name: "张桂兰", PhotoRef: "p/1.jpg", Team: "team-1"}, Version: 1}
	if err := db.Office.InsertWorker(ctx, w); err != nil {
		t.Fatal(err)
	}
	cust := schemas.NewID()
	users := map[string]*schemas.User{}
	for _, u := range []*schemas.User{
		{ID: schemas.NewID(), Login: "wk.a", Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"},
		{ID: schemas.NewID(), Login: "cu.a", Role: schemas.RoleCustomer, CustomerID: cust},
		{ID: schemas.NewID(), Login: "sup.a", Role: schemas.RoleSupervisor, Team: "team-1"},
	} {
		if err := db.Accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users[u.Login] = u
	}
	start := time.Date(2037, 12, 2, 10, 0, 0, 0, sh)
	v := &schemas.Visit{ID: schemas.NewID(), CustomerID: cust, WorkerID: w.ID, Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: start.UTC(), ScheduledEnd: start.Add(3 * time.Hour).UTC(), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Checklist: []schemas.VisitChecklistItem{}, Version: 1}
	if err := db.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	reminders := func() map[string]time.Time {
		ns, err := outbox.waiting(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, n := range ns {
			if n.CollapseKey == CollapseReminders {
				out[n.Kind] = n.NotBefore.In(sh)
				if n.Kind == "remind_customer_24h" && (n.Data["workerFirstName"] != "桂兰" || n.Data["workerPhotoRef"] != "p/1.jpg") {
					t.Errorf("customer reminder data %v", n.Data)
				}
			}
		}
		return out
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"remind_customer_24h":   time.Date(2037, 12, 1, 10, 0, 0, 0, sh),
		"remind_customer_2h":    time.Date(2037, 12, 2, 8, 0, 0, 0, sh),
		"remind_worker_evening": time.Date(2037, 12, 1, 19, 0, 0, 0, sh),
		"remind_worker_1h":      time.Date(2037, 12, 2, 9, 0, 0, 0, sh),
	}
	got := reminders()
	for k, wt := range want {
		if !got[k].Equal(wt) {
			t.Errorf("%s at %s, want %s", k, got[k], wt)
		}
	}
	if len(got) != 4 {
		t.Fatalf("reminders %v", got)
	}
	// Running again enqueues nothing twice.
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ns, _ := outbox.waiting(ctx, ""); len(ns) != 4 {
		t.Fatalf("%d waiting after a second run, want 4", len(ns))
	}

	// Rescheduled to 15:00: the reminders move with it.
	moved := start.Add(5 * time.Hour)
	v2, _ := db.Visits.Get(ctx, v.ID)
	v2.ScheduledStart, v2.ScheduledEnd, v2.Version = moved.UTC(), moved.Add(3*time.Hour).UTC(), 2
	if err := db.Visits.Replace(ctx, v2, 1); err != nil {
		t.Fatal(err)
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got = reminders()
	if len(got) != 4 || !got["remind_worker_1h"].Equal(moved.Add(-time.Hour)) || !got["remind_customer_2h"].Equal(moved.Add(-2*time.Hour)) {
		t.Fatalf("after reschedule %v", got)
	}
	// Cancelled: they disappear.
	v3, _ := db.Visits.Get(ctx, v.ID)
	v3.OfficeStatus, v3.CancelReason, v3.Version = schemas.VisitCancelled, "x", 3
	v3.Refresh()
	if err := db.Visits.Replace(ctx, v3, 2); err != nil {
		t.Fatal(err)
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := reminders(); len(got) != 0 {
		t.Fatalf("reminders of a cancelled visit: %v", got)
	}

	// A visit that started 20 minutes ago without a check-in: late, then missed.
	lateStart := clk.t.Add(-20 * time.Minute)
	lv := &schemas.Visit{ID: schemas.NewID(), CustomerID: cust, WorkerID: w.ID, Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: lateStart.UTC(), ScheduledEnd: lateStart.Add(2 * time.Hour).UTC(), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Checklist: []schemas.VisitChecklistItem{}, Version: 1}
	if err := db.Visits.Insert(ctx, lv); err != nil {
		t.Fatal(err)
	}
	alerts := func() []string {
		ns, _, _ := outbox.List(ctx, lv.ID, users["sup.a"].ID, "", 100)
		var out []string
		for _, n := range ns {
			out = append(out, n.Data["alertKind"]+map[bool]string{true: "!", false: ""}[n.High])
		}
		sort.Strings(out)
		return out
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alerts(); len(got) != 1 || got[0] != "late" {
		t.Fatalf("alerts %v, want late", got)
	}
	clk.t = clk.t.Add(45 * time.Minute)
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alerts(); len(got) != 2 || got[0] != "late" || got[1] != "missed!" {
		t.Fatalf("alerts %v, want late and missed (high)", got)
	}
}

// TestSchedulerIsIncremental checks that a pass reads only what entered
// the horizon or changed since the last one: a visit moved without a
// change-log entry (a write whose log entry is still due) is not seen
// until it is logged, which a pass reloading the whole horizon would not
// show; a visit entering the horizon later is planned then; a moved visit
// gets new reminders and loses the stale ones; two instances at once
// enqueue each reminder once.
func TestSchedulerIsIncremental(t *testing.T) {
	ctx := context.Background()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	clk := &fixedClock{t: time.Date(2037, 12, 1, 8, 0, 0, 0, sh)}
	db := storetest.New(t, clk.Now)
	log := slog.New(slog.DiscardHandler)
	outbox := NewOutbox(db.Push)
	relay := NewRelay(db, outbox, clk.Now, log)
	sched := NewScheduler(db, outbox, relay, clk.Now, log)
	other := NewScheduler(db, outbox, relay, clk.Now, log) // a second instance

	w := &schemas.Worker{ID: schemas.NewID(), WorkerInput: schemas.WorkerInput{Name: "Li Lei", Team: "team-1"}, Version: 1}
	if err := db.Office.InsertWorker(ctx, w); err != nil {
		t.Fatal(err)
	}
	cust := schemas.NewID()
	for _, u := range []*schemas.User{
		{ID: schemas.NewID(), Login: "wk.i", Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"},
		{ID: schemas.NewID(), Login: "cu.i", Role: schemas.RoleCustomer, CustomerID: cust},
	} {
		if err := db.Accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	visit := func(start time.Time) *schemas.Visit {
		v := &schemas.Visit{ID: schemas.NewID(), CustomerID: cust, WorkerID: w.ID, Team: "team-1", TimeZone: "Asia/Shanghai",
			ScheduledStart: start.UTC(), ScheduledEnd: start.Add(2 * time.Hour).UTC(), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
			Checklist: []schemas.VisitChecklistItem{}, Version: 1}
		if err := db.Visits.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// reminders are the waiting reminders' start times (unix) by visit.
	reminders := func() map[string][]int64 {
		ns, err := outbox.waiting(ctx, "remind/")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]int64{}
		for _, n := range ns {
			out[n.VisitID] = append(out[n.VisitID], n.NotBefore.Unix())
		}
		return out
	}
	runBoth := func() {
		t.Helper()
		errs := make(chan error, 2)
		for _, s := range []*Scheduler{sched, other} {
			go func() { errs <- s.RunOnce(ctx) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}

	near := visit(clk.t.Add(30 * time.Hour))  // in the horizon: 4 reminders
	later := visit(clk.t.Add(60 * time.Hour)) // enters the horizon in 10 hours
	hidden := visit(clk.t.Add(100 * time.Hour))
	runBoth()
	if r := reminders(); len(r[near.ID]) != 4 || len(r[later.ID]) != 0 || len(r[hidden.ID]) != 0 {
		t.Fatalf("first pass: %v", r)
	}

	// hidden moves into the horizon, written but not logged yet (as when
	// a writer dies before its log entry): a pass that reread the horizon
	// would plan it now; this one has no reason to look.
	moved := *hidden
	moved.ScheduledStart, moved.ScheduledEnd, moved.Version = clk.t.Add(20*time.Hour).UTC(), clk.t.Add(22*time.Hour).UTC(), 2
	if err := db.Visits.WriteSync(ctx, &moved, nil, 1); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute)
	runBoth()
	if r := reminders(); len(r[hidden.ID]) != 0 || len(r[near.ID]) != 4 {
		t.Fatalf("a pass with no logged change planned %v", r)
	}
	// Once logged, the change is followed.
	clk.t = clk.t.Add(time.Minute)
	if _, err := db.Visits.RelayDirty(ctx, clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	runBoth()
	if r := reminders(); len(r[hidden.ID]) != 3 { // 20 hours ahead: too late for the 24-hour one
		t.Fatalf("the logged move planned %v", r)
	}

	// near moves 3 hours later: new reminders, the stale ones withdrawn.
	before := reminders()[near.ID]
	v2, _ := db.Visits.Get(ctx, near.ID)
	v2.ScheduledStart, v2.ScheduledEnd, v2.Version = v2.ScheduledStart.Add(3*time.Hour), v2.ScheduledEnd.Add(3*time.Hour), 2
	if err := db.Visits.Replace(ctx, v2, 1); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute)
	runBoth()
	after := reminders()[near.ID]
	sort.Slice(before, func(i, j int) bool { return before[i] < before[j] })
	sort.Slice(after, func(i, j int) bool { return after[i] < after[j] })
	if len(after) != 4 || after[3]-before[3] != int64(3*time.Hour/time.Second) {
		t.Fatalf("after the move: %v, before %v", after, before)
	}
	ns, _ := db.Push.Pending(ctx, near.ID, "remind/")
	for _, n := range ns {
		if !strings.HasSuffix(n.DedupeKey, fmt.Sprint(v2.ScheduledStart.Unix())) {
			t.Errorf("stale reminder %s left", n.DedupeKey)
		}
	}

	// later enters the horizon after 10 hours (and not before).
	clk.t = clk.t.Add(9 * time.Hour)
	runBoth()
	if r := reminders(); len(r[later.ID]) != 0 {
		t.Fatalf("planned before it entered the horizon: %v", r[later.ID])
	}
	clk.t = clk.t.Add(time.Hour)
	runBoth()
	if r := reminders(); len(r[later.ID]) != 4 {
		t.Fatalf("entering the horizon: %v", r[later.ID])
	}
	// A pass with nothing new enqueues nothing.
	total := func() int {
		ns, _ := outbox.waiting(ctx, "")
		return len(ns)
	}
	n := total()
	clk.t = clk.t.Add(time.Minute)
	runBoth()
	if total() != n {
		t.Fatalf("a quiet pass changed the outbox: %d, then %d", n, total())
	}
}

// TestSchedulerAfterPrunedLog: when the change log was pruned past the
// scheduler's cursor (it was off longer than the log is kept), the next
// pass cannot know what changed, so it checks every waiting reminder and
// plans the whole horizon again.
func TestSchedulerAfterPrunedLog(t *testing.T) {
	ctx := context.Background()
	clk := &fixedClock{t: time.Date(2037, 12, 1, 0, 0, 0, 0, time.UTC)}
	db := storetest.New(t, clk.Now)
	log := slog.New(slog.DiscardHandler)
	outbox := NewOutbox(db.Push)
	sched := NewScheduler(db, outbox, NewRelay(db, outbox, clk.Now, log), clk.Now, log)
	if err := db.Accounts.CreateUser(ctx, &schemas.User{ID: schemas.NewID(), Login: "wk.p", Role: schemas.RoleWorker, WorkerID: "w1"}); err != nil {
		t.Fatal(err)
	}
	start := clk.t.Add(30 * time.Hour)
	v := &schemas.Visit{ID: schemas.NewID(), CustomerID: "c1", WorkerID: "w1", TimeZone: "UTC", ScheduledStart: start, ScheduledEnd: start.Add(time.Hour),
		Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled, Checklist: []schemas.VisitChecklistItem{}, Version: 1}
	if err := db.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	keys := func() []string {
		ns, _ := db.Push.Pending(ctx, v.ID, "remind/")
		var out []string
		for _, n := range ns {
			out = append(out, n.DedupeKey)
		}
		sort.Strings(out)
		return out
	}
	if k := keys(); len(k) != 2 {
		t.Fatalf("planned %v", k)
	}
	// Moved to an hour later, then the log is pruned but for a later entry.
	v.ScheduledStart, v.ScheduledEnd, v.Version = start.Add(time.Hour), start.Add(2*time.Hour), 2
	if err := db.Visits.Replace(ctx, v, 1); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Hour)
	if _, err := db.Changes.Append(ctx, &store.Change{Kind: store.ChangeCatalog}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Changes.Prune(ctx, clk.t); err != nil || n == 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if err := sched.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprint(v.ScheduledStart.Unix())
	k := keys()
	if len(k) != 2 || !strings.HasSuffix(k[0], suffix) || !strings.HasSuffix(k[1], suffix) {
		t.Fatalf("after the pruned log: %v, want the two of start %s", k, suffix)
	}
}
