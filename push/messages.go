package push

import (
	"context"
	"fmt"
	"time"

	"fieldsync/schemas"
)

// KindVisitMessage is the household's notice of a message from its worker.
const KindVisitMessage = "visit_message"

// messagesChanged brings each side the latest message of the other, once
// per message: the worker's phone a data push to pull (it shows the
// message from the pulled visit, as every fact), the household a notice
// that names the visit's time but never the text, since lock screens are
// seen by anyone near the phone. Only the latest of a burst is told: one
// pull, or one look at the thread, shows all of them.
func (r *Relay) messagesChanged(ctx context.Context, v *schemas.Visit) error {
	var fromWorker, fromCustomer *schemas.VisitMessage
	for i := range v.Field.Messages {
		if m := &v.Field.Messages[i]; m.From == schemas.MessageFromWorker {
			fromWorker = m
		} else {
			fromCustomer = m
		}
	}
	if fromCustomer != nil && v.WorkerID != "" {
		u, err := r.workerUser(ctx, v.WorkerID)
		if err != nil {
			return err
		}
		if u != nil && !u.Disabled {
			if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: "message/" + fromCustomer.ID + "/" + u.ID, UserID: u.ID, Kind: "pull",
				VisitID: v.ID, Data: map[string]string{"visitId": v.ID, "version": fmt.Sprint(v.Version), "messageId": fromCustomer.ID},
				CollapseKey: CollapsePull, High: true, TTL: time.Hour}); err != nil {
				return err
			}
		}
	}
	if fromWorker != nil {
		// Quiet hours apply, but give way to the visit's start and while
		// it lasts (an overrunning one too: the worker is there); a
		// message after it waits for the morning.
		now, before := r.now().UTC(), v.ScheduledStart
		if !now.Before(v.ScheduledStart) {
			before = v.ScheduledEnd
			if v.Field.CheckIn != nil && v.Field.CheckOut == nil && !before.After(now) {
				before = now.Add(time.Hour)
			}
		}
		if !before.After(now) {
			before = time.Time{}
		}
		return r.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: KindVisitMessage, Key: "message/" + fromWorker.ID,
			VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone, Before: before, Data: map[string]string{"messageId": fromWorker.ID}})
	}
	return nil
}
