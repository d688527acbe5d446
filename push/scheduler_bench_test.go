package push

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

// BenchmarkSchedulerPass times the scheduler's steady pass, a minute after
// the last, with 10,000 visits in the next 50 hours and 5,000 users
// (2,500 workers' and 2,500 customers' accounts), nothing changed since
// but the minute's worth of visits entering the horizon and of starts
// passing. It reports the first pass too, which plans the whole horizon:
//
//	go test ./push -run '^$' -bench SchedulerPass -benchtime 20x
func BenchmarkSchedulerPass(b *testing.B) {
	const visits, people = 10000, 2500
	ctx := context.Background()
	clk := &fixedClock{t: time.Date(2037, 12, 1, 0, 0, 0, 0, time.UTC)}
	db := storetest.New(b, clk.Now)
	log := slog.New(slog.DiscardHandler)
	outbox := NewOutbox(db.Push)
	sched := NewScheduler(db, outbox, NewRelay(db, outbox, clk.Now, log), clk.Now, log)
	for i := range people {
		for _, u := range []*schemas.User{
			{ID: schemas.NewID(), Login: fmt.Sprintf("wk%d", i), Role: schemas.RoleWorker, WorkerID: fmt.Sprintf("w%d", i), Team: "t"},
			{ID: schemas.NewID(), Login: fmt.Sprintf("cu%d", i), Role: schemas.RoleCustomer, CustomerID: fmt.Sprintf("c%d", i)},
		} {
			if err := db.Accounts.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range visits {
		// Spread over 52 hours: some start beyond the horizon.
		start := clk.t.Add(time.Duration(i) * 52 * time.Hour / visits)
		v := &schemas.Visit{ID: schemas.NewID(), CustomerID: fmt.Sprintf("c%d", i%people), WorkerID: fmt.Sprintf("w%d", i%people), Team: "t",
			TimeZone: "UTC", ScheduledStart: start, ScheduledEnd: start.Add(time.Hour), Status: schemas.VisitScheduled,
			OfficeStatus: schemas.VisitScheduled, Checklist: []schemas.VisitChecklistItem{}, Version: 1}
		if err := db.Visits.Insert(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := sched.RunOnce(ctx); err != nil {
		b.Fatal(err)
	}
	first := time.Since(t0)
	b.ResetTimer()
	for b.Loop() {
		clk.t = clk.t.Add(time.Minute)
		if err := sched.RunOnce(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(first.Seconds(), "first-pass-s")
}
