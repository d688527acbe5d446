package store

import (
	"context"
	"errors"
	"fmt"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const colBookings = "bookings"

// bookingCollections are the collections Bookings writes: one document per
// worker, id the worker's id.
var bookingCollections = []doc.Collection{{Name: colBookings}}

// Bookings keeps each worker's claims on the times of their visits. All
// bookings of one worker are one document, written only conditioned on
// the version read, so two offices booking the worker at once serialize on
// it: the second re-reads and sees the first's booking.
type Bookings struct{ s *Store }

// Get returns the worker's bookings (none yet: empty, at version 0).
func (b *Bookings) Get(ctx context.Context, workerID string) (*schemas.WorkerBookings, error) {
	wb, v, err := doc.Get[schemas.WorkerBookings](ctx, b.s.engine, colBookings, workerID)
	if errors.Is(err, doc.ErrNotFound) {
		return &schemas.WorkerBookings{WorkerID: workerID, Bookings: []schemas.Booking{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bookings of %s: %w", workerID, err)
	}
	wb.Version = v
	return &wb, nil
}

// Update reads the worker's bookings, lets change edit them, and writes
// them if no one wrote them meanwhile (an insert for the first, a replace
// at the version read after); on a lost race it reads again and calls
// change again on the fresh state. An error from change stops it,
// unwritten.
func (b *Bookings) Update(ctx context.Context, workerID string, change func(*schemas.WorkerBookings) error) error {
	for attempt := 0; ; attempt++ {
		wb, err := b.Get(ctx, workerID)
		if err != nil {
			return err
		}
		if err := change(wb); err != nil {
			return err
		}
		wb.WorkerID = workerID
		if wb.Version == 0 {
			_, err = doc.Insert(ctx, b.s.engine, colBookings, wb)
		} else {
			_, err = doc.Replace(ctx, b.s.engine, colBookings, wb.Version, wb)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, doc.ErrVersion) && !errors.Is(err, doc.ErrDuplicate) && !errors.Is(err, doc.ErrNotFound) {
			return fmt.Errorf("write bookings of %s: %w", workerID, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write bookings of %s: %w", workerID, err)
		}
		if attempt >= 50 {
			return fmt.Errorf("%w (bookings of %s: %w)", schemas.Errorf(schemas.ECONFLICT, "the worker's bookings are changing too fast; retry").With("reason", "busy"), workerID, err)
		}
	}
}
