package push

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

// TestRelayTTLsFromTheClock: how long a notice lives is measured from the
// injected clock to the visit's times, not from the wall clock.
func TestRelayTTLsFromTheClock(t *testing.T) {
	ctx := context.Background()
	now := storetest.Epoch
	clk := func() time.Time { return now }
	db := storetest.New(t, clk)
	outbox := NewOutbox(db.Push)
	relay := NewRelay(db, outbox, clk, slog.New(slog.DiscardHandler))
	if _, err := relay.RunOnce(ctx); err != nil { // starts at the tail
		t.Fatal(err)
	}
	w, cust := schemas.NewIDAt(now), schemas.NewIDAt(now)
	for _, u := range []*schemas.User{
		{ID: schemas.NewIDAt(now), Login: "wk.a", Role: schemas.RoleWorker, WorkerID: w, Team: "team-1"},
		{ID: schemas.NewIDAt(now), Login: "cu.a", Role: schemas.RoleCustomer, CustomerID: cust},
	} {
		if err := db.Accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	start := now.Add(2 * time.Hour)
	eta := now.Add(30 * time.Minute)
	v := &schemas.Visit{ID: schemas.NewIDAt(now), CustomerID: cust, WorkerID: w, Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: start, ScheduledEnd: start.Add(3 * time.Hour), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Checklist: []schemas.VisitChecklistItem{}, Field: schemas.FieldState{ETA: &eta}, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := db.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{store.SourceOffice, store.SourceSync} {
		if _, err := db.Visits.Log(ctx, source, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ns, err := outbox.waiting(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"visit_assigned": 5 * time.Hour, "worker_on_the_way": 90 * time.Minute}
	for _, n := range ns {
		if d, ok := want[n.Kind]; ok {
			if n.TTL != d {
				t.Errorf("%s: ttl %s, want %s", n.Kind, n.TTL, d)
			}
			delete(want, n.Kind)
		}
	}
	if len(want) > 0 {
		t.Fatalf("not enqueued: %v (of %d)", want, len(ns))
	}
}

// TestRelayPassesAPrunedLog: a relay stopped for longer than the change
// log's retention finds its next entries pruned; it moves on to what is
// still kept instead of waiting for ever for entries that are gone.
func TestRelayPassesAPrunedLog(t *testing.T) {
	ctx := context.Background()
	now := storetest.Epoch
	clk := func() time.Time { return now }
	db := storetest.New(t, clk)
	relay := NewRelay(db, NewOutbox(db.Push), clk, slog.New(slog.DiscardHandler))
	if _, err := relay.RunOnce(ctx); err != nil { // starts at the tail
		t.Fatal(err)
	}
	v := &schemas.Visit{ID: schemas.NewIDAt(now), CustomerID: schemas.NewIDAt(now), Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: now.Add(24 * time.Hour), ScheduledEnd: now.Add(27 * time.Hour), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Checklist: []schemas.VisitChecklistItem{}, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := db.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := db.Visits.Log(ctx, store.SourceOffice, v); err != nil {
			t.Fatal(err)
		}
	}
	// The relay is down for 40 days; the log is pruned to 30 (the newest
	// entry is always kept).
	now = now.Add(40 * 24 * time.Hour)
	if n, err := db.Changes.Prune(ctx, now.Add(-30*24*time.Hour)); err != nil || n == 0 {
		t.Fatalf("prune = %d, %v; want entries pruned", n, err)
	}
	read := 0
	for range 3 {
		n, err := relay.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		read += n
	}
	if read != 1 {
		t.Fatalf("relay read %d entries after the prune; want the one kept", read)
	}
	if _, err := db.Visits.Log(ctx, store.SourceOffice, v); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("a new entry after the prune: read %d, %v; want 1", n, err)
	}
}
