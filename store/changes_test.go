package store

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestChangeLogTwoInstancesGapFree: 20 appenders on two stores over the
// same data all land, and readers racing with them only ever see a
// gap-free prefix of the log, so a cursor can never jump over an entry
// that commits late.
func TestChangeLogTwoInstancesGapFree(t *testing.T) {
	a, b, _ := openTwins(t)
	ctx := t.Context()
	const writers, each = 20, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			target := a
			if w%2 == 1 {
				target = b
			}
			for range each {
				if _, err := target.Changes.Append(ctx, &Change{Kind: ChangeVisits, VisitIDs: []string{"v"}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			s := a
			if r%2 == 1 {
				s = b
			}
			var cursor int64
			finished := false
			for cursor < writers*each {
				select {
				case <-done:
					finished = true // one last read, then stop
				default:
				}
				chs, err := s.Changes.After(ctx, cursor, 50)
				if err != nil {
					t.Error(err)
					return
				}
				for _, ch := range chs {
					if ch.Seq != cursor+1 {
						t.Errorf("reader at %d saw %d: a gap", cursor, ch.Seq)
						return
					}
					cursor = ch.Seq
				}
				if finished && len(chs) == 0 {
					t.Errorf("reader stopped at %d of %d", cursor, writers*each)
					return
				}
				if len(chs) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	for _, s := range []*Store{a, b} {
		if tail, err := s.Changes.Tail(ctx); err != nil || tail != writers*each {
			t.Fatalf("tail %d (%v), want %d", tail, err, writers*each)
		}
	}
	all, err := a.Changes.After(ctx, 0, writers*each+10)
	if err != nil || len(all) != writers*each {
		t.Fatalf("log holds %d entries (%v), want %d", len(all), err, writers*each)
	}
}

// TestChangeLogTwoInstancesTakeTurns: an instance whose idea of the tail is
// behind (another appended meanwhile) still appends at the tail.
func TestChangeLogTwoInstancesTakeTurns(t *testing.T) {
	a, b, _ := openTwins(t)
	ctx := t.Context()
	var want int64
	for _, s := range []*Store{a, a, b, b, b, a, b, a} {
		want++
		seq, err := s.Changes.Append(ctx, &Change{Kind: ChangeCustomers, CustomerIDs: []string{"c1"}})
		if err != nil || seq != want {
			t.Fatalf("append = %d, %v; want %d", seq, err, want)
		}
	}
}

func TestChangesAfterPages(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	if tail, err := s.Changes.Tail(ctx); err != nil || tail != 0 {
		t.Fatalf("tail of an empty log: %d, %v", tail, err)
	}
	for i := range 25 {
		c.advance(time.Second)
		seq, err := s.Changes.Append(ctx, &Change{Kind: ChangeVisits, VisitIDs: []string{"v" + strconv.Itoa(i)}})
		if err != nil || seq != int64(i+1) {
			t.Fatalf("append %d = %d, %v", i, seq, err)
		}
	}
	for _, tc := range []struct {
		after       int64
		limit       int
		first, last int64
		n           int
	}{{0, 10, 1, 10, 10}, {10, 10, 11, 20, 10}, {20, 10, 21, 25, 5}, {25, 10, 0, 0, 0}, {99, 10, 0, 0, 0}, {3, 1, 4, 4, 1}} {
		chs, err := s.Changes.After(ctx, tc.after, tc.limit)
		if err != nil || len(chs) != tc.n {
			t.Fatalf("After(%d, %d) = %d entries, %v; want %d", tc.after, tc.limit, len(chs), err, tc.n)
		}
		if tc.n > 0 && (chs[0].Seq != tc.first || chs[len(chs)-1].Seq != tc.last) {
			t.Fatalf("After(%d, %d) = %d..%d, want %d..%d", tc.after, tc.limit, chs[0].Seq, chs[len(chs)-1].Seq, tc.first, tc.last)
		}
	}
	chs, _ := s.Changes.After(ctx, 0, 1)
	if want := epoch.Add(time.Second); !chs[0].At.Equal(want) || chs[0].VisitIDs[0] != "v0" {
		t.Fatalf("entry 1 = %+v, want at %s (the store's clock)", chs[0], want)
	}
	// An entry missing in the middle (one that commits late, as a MongoDB
	// scan may meet it): a read stops before it.
	if err := s.engine.Delete(ctx, colChanges, seqID(13), 0); err != nil {
		t.Fatal(err)
	}
	if chs, _ := s.Changes.After(ctx, 10, 10); len(chs) != 2 || chs[1].Seq != 12 {
		t.Fatalf("After a gap: %+v", chs)
	}
	if chs, _ := s.Changes.After(ctx, 13, 10); len(chs) != 10 || chs[0].Seq != 14 {
		t.Fatalf("After the gap: %d entries", len(chs))
	}
}

func TestChangesPrune(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	for range 10 {
		if _, err := s.Changes.Append(ctx, &Change{Kind: ChangeVisits, VisitIDs: []string{"v"}}); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Hour)
	}
	// Entries 1..10 are at epoch+0h..9h.
	if head, _ := s.Changes.Head(ctx); head != 1 {
		t.Fatalf("head before pruning: %d", head)
	}
	n, err := s.Changes.Prune(ctx, epoch.Add(4*time.Hour+time.Minute))
	if err != nil || n != 5 {
		t.Fatalf("prune = %d, %v; want 5", n, err)
	}
	if head, _ := s.Changes.Head(ctx); head != 6 {
		t.Fatalf("head after pruning: %d, want 6", head)
	}
	if chs, _ := s.Changes.After(ctx, 5, 100); len(chs) != 5 || chs[0].Seq != 6 {
		t.Fatalf("what is left: %+v", chs)
	}
	if chs, _ := s.Changes.After(ctx, 0, 100); len(chs) != 0 {
		t.Fatalf("a cursor before the head read %d entries past a gap", len(chs))
	}
	// Pruning everything keeps the newest, so seqs keep growing.
	if n, err := s.Changes.Prune(ctx, epoch.Add(100*time.Hour)); err != nil || n != 4 {
		t.Fatalf("prune all = %d, %v; want 4", n, err)
	}
	if head, _ := s.Changes.Head(ctx); head != 10 {
		t.Fatalf("head %d, want 10", head)
	}
	if n, _ := s.Changes.Prune(ctx, epoch.Add(100*time.Hour)); n != 0 {
		t.Fatalf("pruned the newest entry")
	}
	if seq, err := s.Changes.Append(ctx, &Change{Kind: ChangeVisits}); err != nil || seq != 11 {
		t.Fatalf("append after pruning = %d, %v", seq, err)
	}
}

// TestChangesPruneSparesACommittingEntry: an entry missing just below the
// tail may be one still committing (MongoDB): pruning moves the head past
// it only when the tail itself is past the retention, or a reader (the
// push relay) would skip it for good once it lands.
func TestChangesPruneSparesACommittingEntry(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	for range 3 {
		if _, err := s.Changes.Append(ctx, &Change{Kind: ChangeVisits, VisitIDs: []string{"v"}}); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Hour)
	}
	// Entries 1..3 at epoch+0h..2h; 2 is still committing.
	if err := s.engine.Delete(ctx, colChanges, seqID(2), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Changes.Prune(ctx, epoch.Add(time.Minute)); err != nil { // prunes 1
		t.Fatal(err)
	}
	if head, _ := s.Changes.Head(ctx); head != 2 {
		t.Fatalf("head %d after pruning entry 1, want 2", head)
	}
	// Only entry 2 (missing) is below the tail, and the tail is recent.
	if _, err := s.Changes.Prune(ctx, epoch.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if head, _ := s.Changes.Head(ctx); head != 2 {
		t.Fatalf("head %d: moved past an entry that may still commit", head)
	}
	// Once the tail too is past the retention, what is missing below it is old.
	if _, err := s.Changes.Prune(ctx, epoch.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if head, _ := s.Changes.Head(ctx); head != 3 {
		t.Fatalf("head %d, want 3 once the tail is old", head)
	}
}
