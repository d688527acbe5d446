package office

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// DefaultTravelBuffer is kept free between two visits of one worker when
// the configuration says nothing.
const DefaultTravelBuffer = 30 * time.Minute

// bookingGrace is how long a booking whose visit has not been written yet
// still holds: the writer writes the visit right after its booking, so a
// booking older than this whose visit never came is a writer that died.
const bookingGrace = time.Minute

// SetTravelBuffer sets the time kept free before and after each visit of
// a worker.
func (s *Service) SetTravelBuffer(d time.Duration) { s.buffer = d }

// mayOverride is who may book a worker despite hard constraints: admins,
// and supervisors (of the visit's team, which the callers check). The
// server's own runs (schedule generation) never override.
func mayOverride(a *schemas.Actor) bool {
	return a != System && (a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor && a.Team != "")
}

// assignment completes what the hard constraints of booking as.Worker on
// as.Visit are checked against: the visit's customer and service (unless
// the caller has them already) and the worker's visits around it.
func (s *Service) assignment(ctx context.Context, as *schemas.Assignment) error {
	var err error
	if as.Customer == nil {
		if as.Customer, err = s.customer(ctx, as.Visit.CustomerID); err != nil {
			return err
		}
	}
	if as.Service == nil {
		if as.Service, err = s.serviceType(ctx, as.Visit.ServiceTypeID); err != nil {
			return err
		}
	}
	// A visit lasts at most 24 hours: one that starts a day and a buffer
	// earlier cannot reach this one.
	v := as.Visit
	as.Busy, err = s.db.Visits.List(ctx, store.VisitFilter{WorkerID: as.Worker.ID,
		From: v.ScheduledStart.Add(-24*time.Hour - s.buffer), To: v.ScheduledEnd.Add(s.buffer)})
	as.Buffer = s.buffer
	return err
}

// book checks the hard constraints of w on v (v as it is about to be
// written, at its new version) and claims v's time in w's bookings. A
// broken constraint refuses the booking (409, with the list), unless the
// actor may override and gives a reason: then the overridden violations
// are returned, for the audit. The claim is one conditional write of the
// worker's bookings document, so of two overlapping bookings made at once
// only one lands; the other finds the first's claim and is refused.
func (s *Service) book(ctx context.Context, a *schemas.Actor, w *schemas.Worker, v *schemas.Visit, override string) ([]schemas.Violation, error) {
	return s.bookAs(ctx, a, &schemas.Assignment{Worker: w, Visit: v}, override)
}

// bookAs is book of an assignment whose customer and service the caller
// may have loaded already.
func (s *Service) bookAs(ctx context.Context, a *schemas.Actor, as *schemas.Assignment, override string) ([]schemas.Violation, error) {
	w, v := as.Worker, as.Visit
	if err := schemas.ValidateOverrideReason(override); err != nil {
		return nil, err
	}
	if override != "" && !mayOverride(a) {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "your role may not override the constraints of an assignment").With("reason", "override_forbidden")
	}
	if err := s.assignment(ctx, as); err != nil {
		return nil, err
	}
	vs := as.Violations()
	if len(vs) > 0 && override == "" {
		return nil, schemas.UnsafeAssignment(vs)
	}
	overridesFree := slices.ContainsFunc(vs, func(x schemas.Violation) bool { return x.Code == schemas.ConstraintFree })
	err := s.db.Bookings.Update(ctx, w.ID, func(wb *schemas.WorkerBookings) error {
		now := s.now().UTC()
		kept := wb.Bookings[:0:0]
		for _, b := range wb.Bookings {
			if b.VisitID == v.ID || !b.End.Add(s.buffer).After(now) {
				continue // replaced below, or past
			}
			if !schemas.Overlap(v.ScheduledStart, v.ScheduledEnd, b.Start, b.End, s.buffer) {
				kept = append(kept, b)
				continue
			}
			live, err := s.liveBooking(ctx, w.ID, b, now)
			if err != nil {
				return err
			}
			if live == nil {
				continue // stale: its visit moved on
			}
			kept = append(kept, *live)
			if !overridesFree && schemas.Overlap(v.ScheduledStart, v.ScheduledEnd, live.Start, live.End, s.buffer) {
				return schemas.UnsafeAssignment([]schemas.Violation{{Code: schemas.ConstraintFree,
					Detail: "visit " + live.VisitID + " at " + live.Start.Format(time.RFC3339) + " (booked meanwhile)"}})
			}
		}
		wb.Bookings = append(kept, schemas.Booking{VisitID: v.ID, Start: v.ScheduledStart.UTC(), End: v.ScheduledEnd.UTC(), Version: v.Version, At: now})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// liveBooking checks a booking against its visit: nil when the visit no
// longer holds the worker (reassigned, cancelled, gone, or never written
// and past the grace), else the booking with the visit's current times.
func (s *Service) liveBooking(ctx context.Context, workerID string, b schemas.Booking, now time.Time) (*schemas.Booking, error) {
	v, err := s.db.Visits.Get(ctx, b.VisitID)
	if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
		return nil, err
	}
	if v == nil || v.Version < b.Version {
		// Its write is still to come, or never came.
		if now.Sub(b.At) < bookingGrace {
			return &b, nil
		}
		if v == nil {
			return nil, nil
		}
	}
	if v.WorkerID != workerID || v.Status == schemas.VisitCancelled || v.Status == schemas.VisitNoShow || v.Status.Final() {
		return nil, nil
	}
	b.Start, b.End = v.ScheduledStart.UTC(), v.ScheduledEnd.UTC()
	return &b, nil
}

// errNoBooking stops an unbook that finds nothing to remove.
var errNoBooking = errors.New("no booking")

// unbook drops w's booking of a visit that is no longer theirs. It is
// tidiness, not safety: a booking left behind is found stale when it is
// next in the way, so a failure is logged, not returned.
func (s *Service) unbook(ctx context.Context, workerID, visitID string) {
	if workerID == "" {
		return
	}
	err := s.db.Bookings.Update(ctx, workerID, func(wb *schemas.WorkerBookings) error {
		n := len(wb.Bookings)
		wb.Bookings = slices.DeleteFunc(wb.Bookings, func(b schemas.Booking) bool { return b.VisitID == visitID })
		if len(wb.Bookings) == n {
			return errNoBooking
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoBooking) {
		s.log.Warn("could not drop a booking; it will be found stale", "worker", workerID, "visit", visitID, "err", err)
	}
}

// overrideNote is the audit note of a change that overrode constraints.
func overrideNote(vs []schemas.Violation, reason, note string) string {
	if len(vs) == 0 {
		return note
	}
	codes := make([]string, len(vs))
	for i, v := range vs {
		codes[i] = v.Code
	}
	out := "override " + strings.Join(codes, ",") + ": " + reason
	if note != "" {
		out += "; " + note
	}
	return out
}
