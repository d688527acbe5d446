package office

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"fieldsync/schemas"
)

// CorrectTime records a supervisor's correction of a check-in or check-out
// time beside what the phone recorded (which stays as it is). Audited.
func (s *Service) CorrectTime(ctx context.Context, a *schemas.Actor, id string, in schemas.NewCorrection) (*schemas.Visit, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return s.changeVisit(ctx, a, id, "correct_"+in.Field, in.Note, func(v *schemas.Visit) error {
		if !canManageVisit(a, v) {
			return errNotFound("visit")
		}
		c := schemas.Correction{N: len(v.Corrections) + 1, Field: in.Field, At: in.At.UTC(), ReasonCode: in.ReasonCode,
			Note: strings.TrimSpace(in.Note), By: a.UserID, CreatedAt: s.now().UTC()}
		if att := map[string]*schemas.Attendance{"checkIn": v.Field.CheckIn, "checkOut": v.Field.CheckOut}[in.Field]; att != nil {
			t := att.At
			c.Recorded = &t
		}
		v.Corrections = append(slices.Clone(v.Corrections), c)
		return nil
	})
}

// DisputeCorrection is the assigned worker objecting to a correction of
// their visit's times; it goes to the supervisor's feed. Audited.
func (s *Service) DisputeCorrection(ctx context.Context, a *schemas.Actor, id string, n int, note string) (*schemas.Visit, error) {
	if a.Role != schemas.RoleWorker {
		return nil, forbidden()
	}
	note = strings.TrimSpace(note)
	if note == "" || len([]rune(note)) > 1000 {
		return nil, schemas.FieldError("note", "say what is wrong with the correction (1 to 1000 characters)")
	}
	var team string
	v, err := s.changeVisit(ctx, a, id, "dispute_correction", note, func(v *schemas.Visit) error {
		// Checked on the visit as it is now: a worker it was taken from no
		// longer acts on it (nor sees it).
		if !canSeeVisit(a, v) {
			return errNotFound("visit")
		}
		if n < 1 || n > len(v.Corrections) {
			return errNotFound("correction")
		}
		cs := slices.Clone(v.Corrections)
		if cs[n-1].Dispute != nil {
			return schemas.Errorf(schemas.ECONFLICT, "that correction is disputed already")
		}
		cs[n-1].Dispute = &schemas.CorrectionDispute{Note: note, By: a.UserID, At: s.now().UTC()}
		v.Corrections = cs
		team = v.Team
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, s.raise(ctx, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte(fmt.Sprintf("correction-dispute/%s/%d", id, n))).String(),
		Kind: "correction_disputed", Team: team, VisitID: id, WorkerID: a.WorkerID, Priority: "normal", Detail: note, CreatedAt: s.now().UTC()})
}
