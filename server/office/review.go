package office

import (
	"context"
	"strings"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Reviews lists the visits whose facts need a decision (conflicts with the
// office's plan, far or outside-window check-ins, disputes), the earliest
// visit first (it has waited longest): supervisors their team's, admins all.
func (s *Service) Reviews(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Visit], error) {
	f := p.Filter
	q := store.ReviewQuery{WorkerID: f.WorkerID, CustomerID: f.CustomerID, From: f.From, To: f.To, After: p.After, Limit: p.Limit}
	switch a.Role {
	case schemas.RoleAdmin:
		q.AllTeams = true
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return schemas.Page[schemas.Visit]{Items: []schemas.Visit{}}, nil
		}
		q.Team = a.Team
	default:
		return schemas.Page[schemas.Visit]{}, forbidden()
	}
	vs, err := s.db.Visits.ReviewQueue(ctx, q)
	return vs, caseErr(err, "visit")
}

// ResolveReview records a supervisor's decision on everything that needed
// review on a visit so far. Facts that arrive later need review again.
func (s *Service) ResolveReview(ctx context.Context, a *schemas.Actor, id, note string) (*schemas.Visit, error) {
	if !isOffice(a) {
		return nil, forbidden()
	}
	if strings.TrimSpace(note) == "" || len([]rune(note)) > 2000 {
		return nil, schemas.FieldError("note", "a note of 1 to 2000 characters is required")
	}
	note = strings.TrimSpace(note)
	return s.changeVisit(ctx, a, id, "resolve_review", note, func(v *schemas.Visit) error {
		if !canManageVisit(a, v) {
			return errNotFound("visit")
		}
		if !v.NeedsReview {
			return schemas.Errorf(schemas.ECONFLICT, "nothing on this visit needs review")
		}
		v.Review = schemas.ReviewState{ResolvedCount: v.Field.ReviewItems(), ResolvedBy: a.UserID, ResolvedAt: s.now().UTC(), Note: note}
		return nil
	})
}
