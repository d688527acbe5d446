package office

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

var nsOffice = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/office"))

// FileComplaint records a customer's complaint, optionally about one of
// their visits, with its response-time SLA, and alerts the team's
// supervisors (at high priority when urgent).
func (s *Service) FileComplaint(ctx context.Context, a *schemas.Actor, in schemas.NewComplaint) (*schemas.Complaint, error) {
	if a.Role != schemas.RoleCustomer || a.CustomerID == "" {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c, err := s.customer(ctx, a.CustomerID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	cp := &schemas.Complaint{ID: schemas.NewIDAt(now), CustomerID: c.ID, Team: c.Team, Category: in.Category, Text: strings.TrimSpace(in.Text),
		Urgent: schemas.UrgentCategory(in.Category), State: schemas.ComplaintReceived, ReceivedAt: now, Version: 1}
	if in.VisitID != "" {
		v, err := s.db.Visits.Get(ctx, in.VisitID)
		if err != nil || v.CustomerID != c.ID {
			return nil, schemas.FieldError("visitId", "visitId does not name one of your visits")
		}
		cp.VisitID, cp.WorkerID, cp.Team = v.ID, v.WorkerID, v.Team
	}
	cp.AckDueAt = schemas.AckDue(now, cp.Urgent, s.calendar)
	cp.History = []schemas.ComplaintEvent{{At: now, By: a.UserID, Role: a.Role, Action: "filed"}}
	if err := s.cases().InsertComplaint(ctx, cp); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, a, schemas.EntityComplaint, cp.ID, "create", 1, nil, cp, nil, ""); err != nil {
		return nil, err
	}
	prio := "normal"
	if cp.Urgent {
		prio = "high"
	}
	// A flood of complaints from one customer is one alert with a count.
	return cp, s.raiseAbout(ctx, "customer/"+cp.CustomerID, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("complaint/"+cp.ID)).String(), Kind: "complaint",
		Team: cp.Team, VisitID: cp.VisitID, WorkerID: cp.WorkerID, Priority: prio, Detail: cp.Category, CreatedAt: now})
}

func canSeeComplaint(a *schemas.Actor, c *schemas.Complaint) bool {
	switch a.Role {
	case schemas.RoleAdmin:
		return true
	case schemas.RoleSupervisor:
		return c.Team != "" && c.Team == a.Team
	case schemas.RoleCustomer:
		return c.CustomerID == a.CustomerID
	}
	return false
}

// Complaint returns one complaint the actor may see.
func (s *Service) Complaint(ctx context.Context, a *schemas.Actor, id string) (*schemas.Complaint, error) {
	c, err := s.cases().Complaint(ctx, id)
	if err != nil {
		return nil, caseErr(err, "complaint")
	}
	if !canSeeComplaint(a, c) {
		return nil, errNotFound("complaint")
	}
	return c, nil
}

// ListComplaints lists the complaints the actor may see.
func (s *Service) ListComplaints(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Complaint], error) {
	q := store.ComplaintQuery{After: p.After, Limit: p.Limit}
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return schemas.Page[schemas.Complaint]{Items: []schemas.Complaint{}}, nil
		}
		q.Team = a.Team
	case schemas.RoleCustomer:
		if a.CustomerID == "" {
			return schemas.Page[schemas.Complaint]{Items: []schemas.Complaint{}}, nil
		}
		q.CustomerID = a.CustomerID
	default:
		return schemas.Page[schemas.Complaint]{}, forbidden()
	}
	cs, err := s.cases().ListComplaints(ctx, q)
	return cs, caseErr(err, "complaint")
}

// ComplaintAction is a step of handling.
type ComplaintAction struct {
	Action string          `json:"action"` // acknowledge, investigate, propose, close (office); accept, reject (customer)
	Note   string          `json:"note,omitempty"`
	Remedy *schemas.Remedy `json:"remedy,omitempty"`
}

// Validate checks the shape.
func (c *ComplaintAction) Validate() error {
	if !slices.Contains([]string{"acknowledge", "investigate", "propose", "close", "accept", "reject"}, c.Action) {
		return schemas.FieldError("action", "action must be acknowledge, investigate, propose, close, accept or reject")
	}
	if len([]rune(c.Note)) > 2000 {
		return schemas.FieldError("note", "note is at most 2000 characters")
	}
	if c.Action == "propose" {
		if c.Remedy == nil || !slices.Contains(schemas.Remedies, c.Remedy.Kind) {
			return schemas.FieldError("remedy", "a remedy of kind %s is required", strings.Join(schemas.Remedies, ", "))
		}
		if strings.TrimSpace(c.Remedy.Detail) == "" || len([]rune(c.Remedy.Detail)) > 2000 {
			return schemas.FieldError("remedy.detail", "say what the remedy is")
		}
	}
	return nil
}

// ActOnComplaint moves a complaint through intake -> acknowledged ->
// investigating -> remedy proposed -> accepted (or back to investigating)
// -> closed. Office steps are the team's supervisors' and admins';
// accepting or rejecting the remedy is the customer's. Each step is in the
// complaint's history and audited; closing schedules the follow-up.
func (s *Service) ActOnComplaint(ctx context.Context, a *schemas.Actor, id string, act ComplaintAction) (*schemas.Complaint, error) {
	if err := act.Validate(); err != nil {
		return nil, err
	}
	office := a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor
	customerStep := act.Action == "accept" || act.Action == "reject"
	if office == customerStep {
		return nil, forbidden()
	}
	for attempt := 0; ; attempt++ {
		before, err := s.Complaint(ctx, a, id)
		if err != nil {
			return nil, err
		}
		to := map[string]string{"acknowledge": schemas.ComplaintAcknowledged, "investigate": schemas.ComplaintInvestigating,
			"propose": schemas.ComplaintRemedyProposed, "close": schemas.ComplaintClosed, "accept": schemas.ComplaintAccepted,
			"reject": schemas.ComplaintInvestigating}[act.Action]
		if !schemas.ComplaintCanMove(before.State, to) {
			return nil, schemas.Errorf(schemas.ECONFLICT, "a %s complaint cannot be %sd", before.State, strings.TrimSuffix(act.Action, "e")).With("state", before.State)
		}
		now := s.now().UTC()
		after := *before
		after.History = append(slices.Clone(before.History), schemas.ComplaintEvent{At: now, By: a.UserID, Role: a.Role, Action: act.Action, Note: strings.TrimSpace(act.Note)})
		after.State = to
		switch act.Action {
		case "acknowledge":
			after.AckedAt = &now
			after.Breached = before.Breached || now.After(before.AckDueAt)
		case "propose":
			after.Remedy = act.Remedy
		case "close":
			follow := now.Add(24 * time.Hour)
			after.ClosedAt, after.FollowUpDue = &now, &follow
		}
		err = s.cases().ReplaceComplaint(ctx, &after, before.Version)
		if errors.Is(err, store.ErrVersion) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, caseErr(err, "complaint")
		}
		return &after, s.audit(ctx, a, schemas.EntityComplaint, id, act.Action, after.Version, before, &after, nil, act.Note)
	}
}

// EscalateBreaches marks complaints not acknowledged by their SLA as
// breached and alerts the admins, once each. It returns how many.
func (s *Service) EscalateBreaches(ctx context.Context) (int, error) {
	now := s.now().UTC()
	cs, err := s.cases().ComplaintsPastDue(ctx, now, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range cs {
		c := &cs[i]
		after := *c
		after.Breached = true
		after.History = append(slices.Clone(c.History), schemas.ComplaintEvent{At: now, By: System.UserID, Role: System.Role, Action: "sla_breached"})
		if err := s.cases().ReplaceComplaint(ctx, &after, c.Version); err != nil {
			if errors.Is(err, store.ErrVersion) {
				continue // acknowledged meanwhile
			}
			return n, err
		}
		if s.observer != nil { // counted once: the write above succeeds once per complaint
			s.observer.ComplaintBreached(c.Category)
		}
		if err := s.audit(ctx, System, schemas.EntityComplaint, c.ID, "sla_breached", after.Version, c, &after, nil, ""); err != nil {
			return n, err
		}
		if err := s.raiseAbout(ctx, "customer/"+c.CustomerID, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("breach/"+c.ID)).String(), Kind: "complaint_sla_breach",
			VisitID: c.VisitID, Priority: "high", Detail: fmt.Sprintf("complaint %s (%s) not acknowledged by %s", c.ID, c.Category, c.AckDueAt.Format(time.RFC3339)),
			CreatedAt: now}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunSLA escalates complaint breaches and unacknowledged critical
// incidents every interval until ctx ends.
func (s *Service) RunSLA(ctx context.Context, every time.Duration) {
	for {
		if _, err := s.EscalateBreaches(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("complaint SLA check", "err", err)
		}
		if _, err := s.EscalateIncidents(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("incident escalation", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
