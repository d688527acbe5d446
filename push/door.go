package push

import (
	"context"

	"fieldsync/schemas"
)

// alertCustomerNotHome is the sync engine's alert of a worker's record at
// the door (sync.AlertCustomerNotHome).
const alertCustomerNotHome = "customer_not_home"

// tellWaiting tells the household that its worker is at the door and
// could not reach it, at once and at high priority: the visit is now, so
// quiet hours give way, and after an hour the notice is of no use. Keyed by the alert, which is
// one per visit.
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
	return r.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "worker_waiting", Key: "door/" + a.ID,
		VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone, Before: r.now().UTC(), Urgent: true})
}

// atTheDoor reports whether the assignee recorded that nobody answered
// the door: they are not late, and customer_not_home told the supervisor.
func atTheDoor(v *schemas.Visit) bool {
	a := v.Field.CustomerAbsent
	return a != nil && a.WorkerID == v.WorkerID && !a.AfterCheckIn
}
