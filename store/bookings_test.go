package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestBookingsUpdateLosesNothing: two instances adding bookings to one
// worker's document at once, from its first write on, lose none of them.
func TestBookingsUpdateLosesNothing(t *testing.T) {
	a, b, c := openTwins(t)
	ctx := t.Context()
	if wb, err := a.Bookings.Get(ctx, "w1"); err != nil || wb.Version != 0 || len(wb.Bookings) != 0 {
		t.Fatalf("no bookings yet: %+v, %v", wb, err)
	}
	const each = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for n := range each {
				id := fmt.Sprintf("v%d-%02d", i, n)
				errs <- s.Bookings.Update(ctx, "w1", func(wb *schemas.WorkerBookings) error {
					wb.Bookings = append(wb.Bookings, schemas.Booking{VisitID: id, Start: c.now().UTC(), End: c.now().Add(time.Hour).UTC(), Version: 1, At: c.now().UTC()})
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wb, err := b.Bookings.Get(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, bk := range wb.Bookings {
		seen[bk.VisitID] = true
	}
	if len(wb.Bookings) != 2*each || len(seen) != 2*each {
		t.Fatalf("%d bookings (%d distinct), want %d", len(wb.Bookings), len(seen), 2*each)
	}
}
