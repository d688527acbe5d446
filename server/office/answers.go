package office

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// DefaultAnswerBy is ASSIGNMENT_ANSWER_BY's default: an assignment still
// unanswered this long before the visit starts alerts the supervisor.
const DefaultAnswerBy = 24 * time.Hour

// SetAnswerBy sets how long before a visit's start its assignee must have
// answered the assignment.
func (s *Service) SetAnswerBy(d time.Duration) { s.answerBy = d }

// AlertUnanswered is the alert of an assignment its worker has not
// answered by the deadline.
const AlertUnanswered = "assignment_unanswered"

// EscalateUnanswered raises an assignment_unanswered alert for each
// assigned visit starting within answerBy whose assignee has neither
// accepted nor declined. The alert's id is derived from the visit and the
// assignee, so running again raises nothing new, and a reassign to
// another worker starts a deadline of its own.
func (s *Service) EscalateUnanswered(ctx context.Context) (int, error) {
	if s.answerBy <= 0 {
		return 0, nil
	}
	now := s.now().UTC()
	vs, err := s.db.Visits.List(ctx, store.VisitFilter{From: now, To: now.Add(s.answerBy),
		Statuses: []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitConfirmed}})
	if err != nil {
		return 0, fmt.Errorf("unanswered assignments: %w", err)
	}
	n := 0
	for i := range vs {
		v := &vs[i]
		if v.WorkerID == "" || v.Answer() != "" {
			continue
		}
		a := &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("unanswered/"+v.ID+"/"+v.WorkerID)).String(), Kind: AlertUnanswered,
			Team: v.Team, VisitID: v.ID, WorkerID: v.WorkerID, Priority: "high", CreatedAt: now,
			Detail: fmt.Sprintf("the worker has not accepted the visit of %s: reassign from GET /v1/visits/%s/candidates", v.ScheduledStart.Format(time.RFC3339), v.ID)}
		if err := s.raise(ctx, a); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
