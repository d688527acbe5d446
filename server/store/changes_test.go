package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"fieldsync/server/store"
	"fieldsync/server/store/storetest"
)

// TestChangeLogNeverShowsAGap: readers racing with writers only ever see
// a gap-free prefix of the log, so a cursor can never jump over an entry
// that commits late. Two views of the store stand in for two instances.
func TestChangeLogNeverShowsAGap(t *testing.T) {
	db := storetest.New(t)
	other := db.Database(db.DB.Name()) // another "instance": its own append lock
	ctx := context.Background()
	const writers, each = 6, 40
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := db
			if w%2 == 1 {
				target = other
			}
			for i := 0; i < each; i++ {
				if _, err := target.AppendChange(ctx, &store.Change{Kind: store.ChangeVisits, VisitIDs: []string{"v"}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var cursor int64
			finished := false
			for {
				select {
				case <-done:
					finished = true // writers stopped: one last read, then stop
				default:
				}
				chs, err := db.ChangesAfter(ctx, cursor, 50)
				if err != nil {
					t.Error(err)
					return
				}
				for _, c := range chs {
					if c.Seq != cursor+1 {
						t.Errorf("reader at %d saw %d: a gap", cursor, c.Seq)
						return
					}
					cursor = c.Seq
				}
				if cursor == writers*each || finished && len(chs) == 0 {
					return
				}
				if len(chs) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	tail, _ := db.ChangeTail(ctx)
	if tail != writers*each {
		t.Fatalf("tail %d, want %d", tail, writers*each)
	}
}

func TestRelayLogsDirtyVisits(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	// A visit written by a process that died before logging it stays dirty.
	if _, err := db.C("visits").InsertOne(ctx, map[string]any{"_id": "v1", "dirty": true, "version": 3, "workerId": "w1", "customerId": "c1", "updatedAt": storetest.Epoch,
		"addressText": "", "checklist": []any{}, "field": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.RelayDirty(ctx, storetest.Epoch, time.Minute); n != 0 {
		t.Fatalf("relay took a visit still inside the grace period")
	}
	n, err := db.RelayDirty(ctx, storetest.Epoch.Add(time.Hour), time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("relay = %d, %v", n, err)
	}
	chs, _ := db.ChangesAfter(ctx, 0, 10)
	if len(chs) != 1 || chs[0].VisitIDs[0] != "v1" || chs[0].Workers[0] != "w1" {
		t.Fatalf("log %+v", chs)
	}
	if n, _ := db.RelayDirty(ctx, storetest.Epoch.Add(time.Hour), time.Minute); n != 0 {
		t.Fatalf("relayed again: %d", n)
	}
}

// TestChangesTakeTheStoreClock: log entries are stamped with the injected
// clock, the one pruning measures retention with.
func TestChangesTakeTheStoreClock(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	at := storetest.Epoch.Add(90 * time.Minute)
	db.Now = func() time.Time { return at }
	if _, err := db.AppendChange(ctx, &store.Change{Kind: store.ChangeVisits, VisitIDs: []string{"v"}}); err != nil {
		t.Fatal(err)
	}
	chs, err := db.ChangesAfter(ctx, 0, 10)
	if err != nil || len(chs) != 1 || !chs[0].At.Equal(at) {
		t.Fatalf("changes %+v (%v), want one at %s", chs, err, at)
	}
}
