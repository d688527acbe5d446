package office

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// writeHook runs a function before the store's ReplaceWorker, once per
// call number: the real store, with a pause where a race would land.
type writeHook struct {
	Records
	mu    sync.Mutex
	calls int
	at    map[int]func()
}

func (h *writeHook) ReplaceWorker(ctx context.Context, w *schemas.Worker, version int64) error {
	h.mu.Lock()
	h.calls++
	f := h.at[h.calls]
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return h.Records.ReplaceWorker(ctx, w, version)
}

// TestRefreshRatingRace: X reads the visits, then a second sign-off lands
// and its recomputation L reads them too; X writes its stale rating first,
// and L's write fails on the version. The stored rating must still count
// both sign-offs: X checks again after writing, and L retries.
func TestRefreshRatingRace(t *testing.T) {
	now := func() time.Time { return storetest.Epoch }
	db := storetest.New(t, now)
	s := New(db, now, slog.New(slog.DiscardHandler), 24*time.Hour)
	ctx := t.Context()
	w := &schemas.Worker{ID: schemas.NewIDAt(now()), WorkerInput: schemas.WorkerInput{Name: "张桂兰", Team: "team-1"}, CreatedAt: now()}
	if err := db.Office.InsertWorker(ctx, w); err != nil {
		t.Fatal(err)
	}
	signed := func(i int, score int) {
		t.Helper()
		start := storetest.Epoch.Add(-time.Duration(i) * 24 * time.Hour)
		v := &schemas.Visit{ID: schemas.NewIDAt(start), CustomerID: "c", WorkerID: w.ID, Team: "team-1", ScheduledStart: start, ScheduledEnd: start.Add(time.Hour),
			TimeZone: "Asia/Shanghai", Status: schemas.VisitSignedOff, OfficeStatus: schemas.VisitScheduled, CreatedAt: start, UpdatedAt: start,
			Field: schemas.FieldState{SignOff: &schemas.SignOff{At: storetest.Epoch, Source: "customer_app", OpID: schemas.NewIDAt(start),
				Rating: &schemas.Rating{Attitude: score, Quality: score, Efficiency: score, Price: score}}}}
		if err := db.Visits.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	signed(1, 5)
	hook := &writeHook{Records: db.Office, at: map[int]func(){}}
	s.records = hook
	xWrites, lReady, xWrote := make(chan struct{}), make(chan struct{}), make(chan struct{})
	hook.at[1] = func() { close(xWrites); <-lReady }
	hook.at[2] = func() { close(lReady); <-xWrote }
	xDone := make(chan error, 1)
	go func() { err := s.RefreshRating(ctx, w.ID); close(xWrote); xDone <- err }()
	<-xWrites
	signed(2, 1)
	if err := s.RefreshRating(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-xDone; err != nil {
		t.Fatal(err)
	}
	got, err := db.Office.Worker(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	// (3*4 + 5 + 1) / 5 = 3.6, both at the same instant.
	if got.Rating != 3.6 || got.RatingCount != 2 {
		t.Fatalf("rating %v of %d", got.Rating, got.RatingCount)
	}
}
