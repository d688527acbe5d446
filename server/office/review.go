package office

import (
	"context"
	"strings"

	"fieldsync/schemas"
)

// Reviews lists the visits whose facts need a decision (conflicts with the
// office's plan, far or outside-window check-ins, disputes), newest first:
// supervisors their team's, admins all.
func (s *Service) Reviews(ctx context.Context, a *schemas.Actor, limit int) ([]schemas.Visit, error) {
	team := ""
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		team = a.Team
	default:
		return nil, forbidden()
	}
	return s.db.Visits.NeedingReview(ctx, team, limit)
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
