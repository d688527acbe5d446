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

// escalationStore is what the office uses of the escalations.
type escalationStore interface {
	Escalation(ctx context.Context, id string) (*schemas.Escalation, error)
	ReplaceEscalation(ctx context.Context, e *schemas.Escalation, version int64) error
	ListEscalations(ctx context.Context, q store.EscalationQuery) (schemas.Page[schemas.Escalation], error)
	EscalationsOverdue(ctx context.Context, t time.Time, limit int) ([]schemas.Escalation, error)
}

func (s *Service) escalations() escalationStore { return s.db.Cases }

// AlertEscalationOverdue is the alert of an escalation still open past
// its promised time: once per promise.
const AlertEscalationOverdue = "escalation_overdue"

// MaxPromise is how far ahead the office may promise to handle an
// escalation.
const MaxPromise = 30 * 24 * time.Hour

// Escalations lists escalations, the soonest promised first: admins all,
// supervisors their team's, workers their own. Overdue: open ones past
// their promised time.
func (s *Service) Escalations(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Escalation], error) {
	f := p.Filter
	q := store.EscalationQuery{Open: f.Open || f.Overdue, WorkerID: f.WorkerID, VisitID: f.VisitID, After: p.After, Limit: p.Limit}
	if f.Overdue {
		q.Before = s.now().UTC()
	}
	if ok, err := scopeCases(a, &q.Team, &q.WorkerID); !ok {
		return schemas.Page[schemas.Escalation]{Items: []schemas.Escalation{}}, err
	}
	es, err := s.escalations().ListEscalations(ctx, q)
	return es, caseErr(err, "escalation")
}

// Escalation returns one escalation the actor may see.
func (s *Service) Escalation(ctx context.Context, a *schemas.Actor, id string) (*schemas.Escalation, error) {
	e, err := s.escalations().Escalation(ctx, id)
	if err != nil {
		return nil, caseErr(err, "escalation")
	}
	if !mayReadCase(a, e.Team, e.WorkerID) {
		return nil, errNotFound("escalation")
	}
	return e, nil
}

// EscalationAction is a supervisor's step on an escalation.
type EscalationAction struct {
	Action string `json:"action"` // acknowledge, promise, resolve; the fields of another action are ignored
	// Version, when given, is the version the step was decided on: a
	// different stored one is a 409.
	Version    int64      `json:"version,omitempty"`
	PromisedBy *time.Time `json:"promisedBy,omitempty"` // promise: the new time, after now and the current promise
	Reason     string     `json:"reason,omitempty"`     // promise: why the first could not be kept (the office's)
	Outcome    string     `json:"outcome,omitempty"`    // resolve: how it was handled (the office's)
}

// Validate checks the shape.
func (e *EscalationAction) Validate() error {
	if !slices.Contains([]string{"acknowledge", "promise", "resolve"}, e.Action) {
		return schemas.FieldError("action", "action must be acknowledge, promise or resolve")
	}
	if e.Version < 0 {
		return schemas.FieldError("version", "version is a record's version")
	}
	if len([]rune(e.Reason)) > 500 || len([]rune(e.Outcome)) > 2000 {
		return schemas.FieldError("reason", "reason is at most 500 characters, outcome 2000")
	}
	switch e.Action {
	case "promise":
		if e.PromisedBy == nil {
			return schemas.FieldError("promisedBy", "promisedBy (the new time) is required to promise")
		}
		if strings.TrimSpace(e.Reason) == "" {
			return schemas.FieldError("reason", "a reason is required to promise: why the first time cannot be kept")
		}
	case "resolve":
		if strings.TrimSpace(e.Outcome) == "" {
			return schemas.FieldError("outcome", "say how it was resolved")
		}
	}
	return nil
}

// ActOnEscalation moves an escalation open -> acknowledged -> resolved,
// or makes a new promise (open or acknowledged), telling the household
// the new time or that it is handled; never the office's reason or
// outcome. Only the team's supervisors (and admins); conditional on the
// version read, audited.
func (s *Service) ActOnEscalation(ctx context.Context, a *schemas.Actor, id string, act EscalationAction) (*schemas.Escalation, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if err := act.Validate(); err != nil {
		return nil, err
	}
	next := map[string]map[string]string{
		"acknowledge": {schemas.EscalationOpen: schemas.EscalationAcknowledged},
		"promise":     {schemas.EscalationOpen: schemas.EscalationOpen, schemas.EscalationAcknowledged: schemas.EscalationAcknowledged},
		"resolve":     {schemas.EscalationOpen: schemas.EscalationResolved, schemas.EscalationAcknowledged: schemas.EscalationResolved},
	}
	for attempt := 0; ; attempt++ {
		before, err := s.Escalation(ctx, a, id)
		if err != nil {
			return nil, err
		}
		if act.Version != 0 && act.Version != before.Version {
			return nil, schemas.Errorf(schemas.ECONFLICT, "the escalation is at version %d, not %d; reload", before.Version, act.Version).With("version", before.Version)
		}
		to, ok := next[act.Action][before.Status]
		if !ok {
			return nil, schemas.Errorf(schemas.ECONFLICT, "an escalation that is %s cannot be %s", before.Status, act.Action).With("status", before.Status)
		}
		now := s.now().UTC()
		after := *before
		after.Status = to
		note := ""
		switch act.Action {
		case "promise":
			at := act.PromisedBy.UTC()
			if !at.After(now) || !at.After(before.PromisedBy) || at.After(now.Add(MaxPromise)) {
				return nil, schemas.FieldError("promisedBy", "promisedBy must be after now and the current promise (%s), and within %d days",
					before.PromisedBy.Format(time.RFC3339), int(MaxPromise/(24*time.Hour)))
			}
			after.PromisedBy, after.OverdueRaised = at, false
			note = at.Format(time.RFC3339) + ": " + strings.TrimSpace(act.Reason)
		case "resolve":
			after.Outcome, after.ResolvedAt = strings.TrimSpace(act.Outcome), &now
			note = after.Outcome
		}
		after.Events = append(slices.Clone(before.Events), schemas.ComplaintEvent{At: now, By: a.UserID, Role: a.Role, Action: act.Action, Note: note})
		err = s.escalations().ReplaceEscalation(ctx, &after, before.Version)
		if errors.Is(err, store.ErrVersion) && act.Version == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, caseErr(err, "escalation")
		}
		if err := s.audit(ctx, a, "escalation", id, act.Action, after.Version, before, &after, nil, note); err != nil {
			return nil, err
		}
		return &after, s.tellEscalation(ctx, act.Action, &after)
	}
}

// tellEscalation tells the household a new promised time or that the
// matter is handled, keyed by the escalation and the version written.
func (s *Service) tellEscalation(ctx context.Context, action string, e *schemas.Escalation) error {
	kind := map[string]string{"promise": "escalation_delayed", "resolve": "escalation_resolved"}[action]
	if kind == "" || s.teller == nil {
		return nil
	}
	v, err := s.db.Visits.Get(ctx, e.VisitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	n := schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: kind, Key: fmt.Sprintf("escalation/%s/%s/%d", e.ID, action, e.Version),
		VisitID: v.ID, TimeZone: v.TimeZone, Data: map[string]string{"escalationId": e.ID}}
	if action == "promise" {
		n.At, n.Before = e.PromisedBy, e.PromisedBy
		n.Data["promisedBy"] = e.PromisedBy.Format(time.RFC3339)
	}
	return s.tell(ctx, n)
}

// EscalateOverdue raises an escalation_overdue alert for each open
// escalation past its promised time, once per promise: the alert's id
// names the escalation and the promise, and is raised before the
// escalation is marked, so a crash between raises it again as the same
// alert.
func (s *Service) EscalateOverdue(ctx context.Context) (int, error) {
	now := s.now().UTC()
	es, err := s.escalations().EscalationsOverdue(ctx, now, 0)
	if err != nil {
		return 0, fmt.Errorf("overdue escalations: %w", err)
	}
	n := 0
	for i := range es {
		e := &es[i]
		a := &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("escalation-overdue/"+e.ID+"/"+e.PromisedBy.UTC().Format(time.RFC3339Nano))).String(),
			Kind: AlertEscalationOverdue, Team: e.Team, VisitID: e.VisitID, WorkerID: e.WorkerID, Priority: "high", CreatedAt: now,
			Detail: fmt.Sprintf("%s/%s promised by %s and not resolved: GET /v1/escalations/%s", e.Topic, e.Urgency, e.PromisedBy.Format(time.RFC3339), e.ID)}
		if err := s.raise(ctx, a); err != nil {
			return n, err
		}
		after := *e
		after.OverdueRaised = true
		if err := s.escalations().ReplaceEscalation(ctx, &after, e.Version); err != nil && !errors.Is(err, store.ErrVersion) {
			return n, err
		}
		n++
	}
	return n, nil
}
