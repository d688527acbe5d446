package office

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	case after.OfficeStatus == schemas.VisitNoShow && before.OfficeStatus != schemas.VisitNoShow:
		// Past its start: outside quiet hours, and useful for a week.
		n.Kind, n.Before, n.Data = "visit_no_show", time.Time{}, map[string]string{"party": after.NoShow.Party}
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

// tellRequestAnswered tells the household that the office answered its
// request to move or cancel a visit: the request's alert was resolved.
// What the office decided, it hears from the visit's own notices; the
// resolution note is the office's and stays there.
func (s *Service) tellRequestAnswered(ctx context.Context, before, after *schemas.Alert) error {
	kind, ok := strings.CutPrefix(after.Kind, "customer_request_")
	if !ok || after.VisitID == "" || after.State != schemas.AlertResolved || before.State == schemas.AlertResolved {
		return nil
	}
	v, err := s.db.Visits.Get(ctx, after.VisitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return s.tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "request_answered_" + kind, Key: "request/" + after.ID + "/answered",
		VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone})
}

// complaintSteps are the office's steps on a complaint the household is
// told about. A remedy closed unanswered has its own notice.
var complaintSteps = map[string]string{"acknowledge": "complaint_acknowledged", "investigate": "complaint_investigating",
	"propose": "complaint_remedy_proposed", "close": "complaint_closed"}

// tellComplaintStep tells the household a step of its complaint, keyed by
// the complaint, the step and the version written; never the office's
// notes.
func (s *Service) tellComplaintStep(ctx context.Context, action string, c *schemas.Complaint) error {
	kind, ok := complaintSteps[action]
	if !ok || s.teller == nil {
		return nil
	}
	cu, err := s.customer(ctx, c.CustomerID)
	if err != nil {
		return err
	}
	return s.tell(ctx, schemas.CustomerNotice{CustomerID: c.CustomerID, Kind: kind, Key: fmt.Sprintf("complaint/%s/%s/%d", c.ID, action, c.Version),
		TimeZone: cu.TimeZone, Data: map[string]string{"complaintId": c.ID, "state": c.State}})
}

// tellIncidentResolved tells the household that what happened during its
// visit is handled: never the outcome or notes, which are the office's.
func (s *Service) tellIncidentResolved(ctx context.Context, i *schemas.Incident) error {
	if s.teller == nil || i.VisitID == "" {
		return nil
	}
	v, err := s.db.Visits.Get(ctx, i.VisitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return s.tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "incident_resolved", Key: "incident/" + i.ID + "/resolved",
		VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone, Data: map[string]string{"incidentId": i.ID}})
}
