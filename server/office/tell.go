package office

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
// booked (before is nil), cancelled or moved. A change of worker is told
// once the new worker accepts (Accepted), never before: a worker who
// declines is not one the household should expect. The key names the
// visit, the kind and the version written, so a retried call tells once.
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
	default:
		return nil
	}
	n.Key = fmt.Sprintf("visit/%s/%s/%d", after.ID, n.Kind, after.Version)
	return s.tell(ctx, n)
}

// Accepted tells the household, with the worker's public profile, that
// the worker given to its visit after it was booked (a reassign, an
// assignment of a visit booked without one, a schedule edit) accepted:
// the sync engine calls it when an acceptance of the current assignment
// stands. The worker of a visit booked with one is no change: the
// household sees the worker in the visit once accepted. The key names the
// visit, the worker and the assignment, so the notice is sent once however
// often the acceptance is folded or retried, and a later A -> B -> A
// assignment is told again.
func (s *Service) Accepted(ctx context.Context, v *schemas.Visit) error {
	if s.teller == nil || v.Answer() != schemas.AssignmentAccepted || !v.AssignedAt.After(v.CreatedAt) || !v.Status.BeforeArrival() {
		return nil
	}
	w, err := s.worker(ctx, v.WorkerID)
	if err != nil {
		return err
	}
	p := w.Public()
	return s.tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "visit_worker_changed", VisitID: v.ID, At: v.ScheduledStart,
		TimeZone: v.TimeZone, Before: v.ScheduledStart, Worker: &p,
		Key: fmt.Sprintf("visit/%s/worker/%s/%d", v.ID, v.WorkerID, v.AssignedAt.UnixMilli())})
}

// tellSchedule tells the household once about a recurring schedule:
// booked (before is nil) or changed in what it sees (days, times, dates,
// service, address), with its rhythm and the first visit to come, or given
// an end, with its last date. Its generated visits tell nothing of their
// own: one notice per schedule, not one per occurrence; the reminders
// cover each visit. A change of worker is told per visit, once the worker
// accepts (Accepted); notes are the office's. The key names the schedule,
// the kind and the version written, so a retried call tells once.
func (s *Service) tellSchedule(ctx context.Context, before, after *schemas.Schedule) error {
	samePattern := before != nil && slices.Equal(before.Weekdays, after.Weekdays) && before.StartTime == after.StartTime &&
		before.EndTime == after.EndTime && before.StartsOn == after.StartsOn && before.ServiceTypeID == after.ServiceTypeID && before.AddressID == after.AddressID
	if samePattern && before.EndsOn == after.EndsOn {
		return nil
	}
	days := make([]string, len(after.Weekdays))
	for i, d := range slices.Sorted(slices.Values(after.Weekdays)) {
		days[i] = strconv.Itoa(d)
	}
	n := schemas.CustomerNotice{CustomerID: after.CustomerID, TimeZone: after.TimeZone,
		Data: map[string]string{"scheduleId": after.ID, "weekdays": strings.Join(days, ","), "startTime": string(after.StartTime)}}
	first, ok := firstOccurrence(after, s.now().UTC())
	switch {
	case after.EndsOn != "" && (samePattern || before != nil && !ok):
		n.Kind, n.Data["date"] = "schedule_ended", after.EndsOn // given an end, or nothing left to come
	case !ok:
		return nil // nothing to come: nothing to tell
	case before == nil:
		n.Kind, n.VisitID, n.At, n.Before = "schedule_booked", first.VisitID, first.Start, first.Start
	default:
		n.Kind, n.VisitID, n.At, n.Before = "schedule_changed", first.VisitID, first.Start, first.Start
	}
	n.Key = fmt.Sprintf("schedule/%s/%s/%d", after.ID, n.Kind, after.Version)
	return s.tell(ctx, n)
}

// firstOccurrence is a schedule's first occurrence starting at now or
// later, if it has one.
func firstOccurrence(sch *schemas.Schedule, now time.Time) (schemas.Occurrence, bool) {
	from := now
	if loc, err := schemas.LoadZone(sch.TimeZone); err == nil {
		if d, err := time.ParseInLocation(schemas.DateLayout, sch.StartsOn, loc); err == nil && d.After(from) {
			from = d
		}
	}
	for _, o := range sch.Occurrences(from, from.Add(8*24*time.Hour)) {
		if !o.Start.Before(now) {
			return o, true
		}
	}
	return schemas.Occurrence{}, false
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
