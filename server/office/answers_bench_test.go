package office

import (
	"log/slog"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

// BenchmarkUnansweredSweep: the minute's search for unanswered assignments
// over four weeks of visits (2,000 booked one to fourteen days ahead, one
// in twenty unanswered), against
// reading every visit ahead, as the search did before it read two index
// windows. Run with -benchtime=20x; compare the two in one run.
func BenchmarkUnansweredSweep(b *testing.B) {
	now := storetest.Epoch
	db := storetest.New(b, func() time.Time { return now })
	s := New(db, func() time.Time { return now }, slog.New(slog.DiscardHandler), 24*time.Hour)
	s.SetAnswerBy(24 * time.Hour)
	ctx := b.Context()
	const n = 2000
	for i := range n {
		start := now.Add(time.Duration(i) * 28 * 24 * time.Hour / n).Add(time.Hour)
		assigned := start.Add(-time.Duration(i%14+1) * 24 * time.Hour) // booked one to fourteen days ahead
		if assigned.After(now) {
			assigned = now.Add(-time.Duration(i%48) * time.Hour)
		}
		v := &schemas.Visit{ID: schemas.NewIDAt(start), CustomerID: "c", WorkerID: "w", Team: "team-1", ScheduledStart: start, ScheduledEnd: start.Add(2 * time.Hour),
			TimeZone: "Asia/Shanghai", Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled, AssignedAt: schemas.AssignedAt(assigned),
			Checklist: []schemas.VisitChecklistItem{}, Version: 1, CreatedAt: assigned, UpdatedAt: assigned}
		if i%20 != 0 { // most workers answer; one in twenty has not
			v.Field.Assignment = &schemas.AssignmentAnswer{Answer: schemas.AssignmentAccepted, WorkerID: "w", At: v.AssignedAt, AssignedAt: v.AssignedAt, OpID: schemas.NewIDAt(start)}
		}
		if err := db.Visits.Insert(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	open := []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitConfirmed}
	b.Run("every visit ahead", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Visits.List(ctx, store.VisitFilter{From: now.Add(-24 * time.Hour), Statuses: open}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("two windows", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EscalateUnanswered(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
