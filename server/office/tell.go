package office

import (
	"context"
	"fmt"

	"fieldsync/schemas"
)

// tell tells the household, when a teller is set.
func (s *Service) tell(ctx context.Context, n schemas.CustomerNotice) error {
	if s.teller == nil {
		return nil
	}
	return s.teller.Tell(ctx, n)
}

// tellVisit tells the household what the office decided about its visit:
// booked (before is nil), cancelled, moved, or given to another worker,
// with that worker's public profile. Taking the worker away tells nothing:
// the household hears when one is given again. The key names the visit,
// the kind and the version written, so a retried call tells once.
func (s *Service) tellVisit(ctx context.Context, before, after *schemas.Visit) error {
	n := schemas.CustomerNotice{CustomerID: after.CustomerID, VisitID: after.ID, At: after.ScheduledStart, TimeZone: after.TimeZone, Before: after.ScheduledStart}
	switch {
	case before == nil:
		n.Kind = "visit_booked"
	case after.Status == schemas.VisitCancelled && before.Status != schemas.VisitCancelled:
		n.Kind = "visit_cancelled"
	case !after.ScheduledStart.Equal(before.ScheduledStart) || !after.ScheduledEnd.Equal(before.ScheduledEnd):
		n.Kind = "visit_rescheduled"
	case after.WorkerID != before.WorkerID && after.WorkerID != "":
		n.Kind = "visit_worker_changed"
		w, err := s.worker(ctx, after.WorkerID)
		if err != nil {
			return err
		}
		p := w.Public()
		n.Worker = &p
	default:
		return nil
	}
	n.Key = fmt.Sprintf("visit/%s/%s/%d", after.ID, n.Kind, after.Version)
	return s.tell(ctx, n)
}
