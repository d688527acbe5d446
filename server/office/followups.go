package office

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// SignedOff is told about a visit the customer signed off (through either
// path): it schedules the follow-up, recomputes the worker's rating and,
// for a rework visit accepted, closes the disputed visit. Doing it twice changes nothing.
func (s *Service) SignedOff(ctx context.Context, v *schemas.Visit) error {
	so := v.Field.SignOff
	if so == nil {
		return nil
	}
	f := &schemas.FollowUp{ID: uuid.NewSHA1(nsOffice, []byte("followup/"+v.ID)).String(), VisitID: v.ID, CustomerID: v.CustomerID,
		WorkerID: v.WorkerID, Team: v.Team, DueAt: so.At.Add(24 * time.Hour), LatestAt: so.At.Add(7 * 24 * time.Hour), Version: 1}
	if _, err := s.cases().RecordFollowUp(ctx, f); err != nil {
		return err
	}
	if so.Rating != nil && v.WorkerID != "" {
		if err := s.RefreshRating(ctx, v.WorkerID); err != nil {
			return err
		}
	}
	return s.ReworkAccepted(ctx, v)
}

// FollowUps lists follow-ups, the open ones first, each part soonest due
// first: supervisors their team's, admins all.
func (s *Service) FollowUps(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.FollowUp], error) {
	f := p.Filter
	q := store.FollowUpQuery{Open: f.Open, Done: f.Done, WorkerID: f.WorkerID, CustomerID: f.CustomerID, VisitID: f.VisitID, From: f.From, To: f.To,
		After: p.After, Limit: p.Limit}
	if f.Overdue {
		q.Overdue = s.now().UTC()
	}
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return schemas.Page[schemas.FollowUp]{Items: []schemas.FollowUp{}}, nil
		}
		q.Team = a.Team
	default:
		return schemas.Page[schemas.FollowUp]{}, forbidden()
	}
	fs, err := s.cases().ListFollowUps(ctx, q)
	if err != nil {
		return fs, caseErr(err, "follow-up")
	}
	now := s.now()
	for i := range fs.Items {
		fs.Items[i].Overdue = !fs.Items[i].Done && now.After(fs.Items[i].LatestAt)
	}
	return fs, nil
}

// CompleteFollowUp records what came of a follow-up. Audited.
func (s *Service) CompleteFollowUp(ctx context.Context, a *schemas.Actor, id, outcome string) (*schemas.FollowUp, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	outcome = strings.TrimSpace(outcome)
	if outcome == "" || len([]rune(outcome)) > 2000 {
		return nil, schemas.FieldError("outcome", "say what came of the follow-up (1 to 2000 characters)")
	}
	before, err := s.cases().FollowUp(ctx, id)
	if err != nil {
		return nil, caseErr(err, "follow-up")
	}
	if a.Role == schemas.RoleSupervisor && (a.Team == "" || before.Team != a.Team) {
		return nil, errNotFound("follow-up")
	}
	if before.Done {
		return nil, schemas.Errorf(schemas.ECONFLICT, "the follow-up is done already")
	}
	now := s.now().UTC()
	after := *before
	after.Done, after.DoneAt, after.DoneBy, after.Outcome = true, &now, a.UserID, outcome
	if err := s.cases().ReplaceFollowUp(ctx, &after, before.Version); err != nil {
		return nil, caseErr(err, "follow-up")
	}
	return &after, s.audit(ctx, a, "followup", id, "complete", after.Version, before, &after, nil, outcome)
}
