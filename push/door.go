package push

import (
	"context"
	"time"

	"fieldsync/schemas"
)

// alertCustomerNotHome is the sync engine's alert of a worker's record at
// the door (sync.AlertCustomerNotHome).
const alertCustomerNotHome = "customer_not_home"

// tellWaiting tells the household that its worker is at the door and
// could not reach it, at once and at high priority: the visit is now, so
// quiet hours give way, and after an hour the notice is of no use. Keyed by the alert, which is
// one per visit.
// waitingFor is how long after the worker's record at the door the
// household is still told the worker waits.
const waitingFor = time.Hour

func (r *Relay) tellWaiting(ctx context.Context, a *schemas.Alert) error {
	if a.Kind != alertCustomerNotHome || a.VisitID == "" {
		return nil
	}
	v, err := r.db.Visits.Get(ctx, a.VisitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	// The hour runs from the worker's time at the door, not from when the
	// record arrived: a phone without signal there syncs it later, when
	// the worker has left and "at your door" would be false.
	now := r.now().UTC()
	before := now
	if x := v.Field.CustomerAbsent; x != nil {
		if before = x.At.Add(waitingFor); !now.Before(before) {
			return nil
		}
	}
	return r.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "worker_waiting", Key: "door/" + a.ID,
		VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone, Before: before, Urgent: true})
}

// atTheDoor reports whether the assignee recorded that nobody answered
// the door: they are not late, and customer_not_home told the supervisor.
func atTheDoor(v *schemas.Visit) bool {
	a := v.Field.CustomerAbsent
	return a != nil && a.WorkerID == v.WorkerID && !a.AfterCheckIn
}
