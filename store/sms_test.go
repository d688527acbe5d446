package store

import (
	"fmt"
	"sync"
	"testing"
)

func TestSMSCapPerRecipientAndDay(t *testing.T) {
	a, b, _ := openTwins(t)
	ctx := t.Context()
	const limit = 3
	// Two instances race ten different SMS for one recipient and day, each
	// asked twice (a retried send): exactly the cap passes, a repeat of a
	// counted one passes again without counting.
	var mu sync.Mutex
	passed := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 10 {
		for _, s := range []*Store{a, b} {
			wg.Go(func() {
				id := fmt.Sprint("n", i)
				ok, err := s.SMS.TakeSMS(ctx, "u1", "2037-11-24", id, limit)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					passed[id] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(passed) != limit {
		t.Fatalf("%d distinct SMS passed the cap of %d: %v", len(passed), limit, passed)
	}
	for id := range passed {
		if ok, err := a.SMS.TakeSMS(ctx, "u1", "2037-11-24", id, limit); err != nil || !ok {
			t.Fatalf("a counted SMS sent again (retry): %v, %v; want allowed", ok, err)
		}
	}
	if ok, _ := a.SMS.TakeSMS(ctx, "u1", "2037-11-24", "other", limit); ok {
		t.Fatal("a fourth SMS passed the cap")
	}
	// Another day, another recipient: their own caps.
	if ok, _ := a.SMS.TakeSMS(ctx, "u1", "2037-11-25", "other", limit); !ok {
		t.Fatal("the next day's first SMS refused")
	}
	if ok, _ := a.SMS.TakeSMS(ctx, "u2", "2037-11-24", "other", limit); !ok {
		t.Fatal("another recipient's first SMS refused")
	}
}
