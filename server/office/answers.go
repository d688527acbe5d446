package office

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// DefaultAnswerBy is ASSIGNMENT_ANSWER_BY's default: an assignment still
// unanswered this long after it was made alerts the supervisor (at the
// latest half way to the visit's start).
const DefaultAnswerBy = 24 * time.Hour

// SetAnswerBy sets how long after an assignment its worker has to answer.
func (s *Service) SetAnswerBy(d time.Duration) { s.answerBy = d }

// AlertUnanswered is the alert of an assignment its worker has not
// answered by the deadline.
const AlertUnanswered = "assignment_unanswered"

// answerDeadline is when v's assignee must have answered: answerBy after
// the assignment, or half way from the assignment to the start when that
// comes first (an assignment made at short notice still leaves the office
// half the time to find someone else). A visit assigned before assignedAt
// was recorded keeps the earlier rule: answerBy before the start.
func answerDeadline(v *schemas.Visit, answerBy time.Duration) time.Time {
	if v.AssignedAt.IsZero() {
		return v.ScheduledStart.Add(-answerBy)
	}
	left := max(v.ScheduledStart.Sub(v.AssignedAt), 0)
	return v.AssignedAt.Add(min(answerBy, left/2))
}

// EscalateUnanswered raises an assignment_unanswered alert for each
// assigned, not yet started visit past its answer deadline whose assignee
// has neither accepted nor declined this assignment. The alert's id is
// derived from the visit, the assignee and the assignment, so running
// again raises nothing new, and a reassign (also back to the same worker)
// starts a deadline of its own.
func (s *Service) EscalateUnanswered(ctx context.Context) (int, error) {
	if s.answerBy <= 0 {
		return 0, nil
	}
	now := s.now().UTC()
	// Two windows, each read by index, never every visit ahead: visits
	// starting from answerBy ago up to answerBy ahead (assigned at short
	// notice: due half way to their start; an older one without
	// assignedAt, answerBy before it), and visits
	// assigned between 2·answerBy and answerBy ago (due answerBy after
	// it). Each is looked for up to answerBy after its deadline, should
	// the check not have run then.
	open := []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitConfirmed}
	byStart, err := s.db.Visits.List(ctx, store.VisitFilter{From: now.Add(-s.answerBy), To: now.Add(s.answerBy), Statuses: open})
	if err != nil {
		return 0, fmt.Errorf("unanswered assignments: %w", err)
	}
	byAssignment, err := s.db.Visits.AssignedBetween(ctx, open, now.Add(-2*s.answerBy), now.Add(-s.answerBy).Add(time.Millisecond))
	if err != nil {
		return 0, fmt.Errorf("unanswered assignments: %w", err)
	}
	n := 0
	seen := map[string]bool{}
	for _, vs := range [][]schemas.Visit{byStart, byAssignment} {
		for i := range vs {
			v := &vs[i]
			if seen[v.ID] {
				continue
			}
			seen[v.ID] = true
			due := answerDeadline(v, s.answerBy)
			if v.WorkerID == "" || v.Answer() != "" || now.Before(due) {
				continue
			}
			key := "unanswered/" + v.ID + "/" + v.WorkerID
			if !v.AssignedAt.IsZero() {
				key += "/" + strconv.FormatInt(v.AssignedAt.UnixMilli(), 10)
			}
			a := &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte(key)).String(), Kind: AlertUnanswered,
				Team: v.Team, VisitID: v.ID, WorkerID: v.WorkerID, Priority: "high", CreatedAt: now,
				Detail: fmt.Sprintf("the worker has not accepted the visit of %s (due %s): reassign from GET /v1/visits/%s/candidates",
					v.ScheduledStart.Format(time.RFC3339), due.Format(time.RFC3339), v.ID)}
			if err := s.raise(ctx, a); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
