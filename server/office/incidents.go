package office

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Incidents lists incidents: admins all, supervisors their team's, workers
// their own.
func (s *Service) Incidents(ctx context.Context, a *schemas.Actor, p Page) (schemas.Page[schemas.Incident], error) {
	f := p.Filter
	q := store.IncidentQuery{Open: f.Open, Status: f.State, Category: f.Category, Severity: f.Severity, WorkerID: f.WorkerID, VisitID: f.VisitID,
		From: f.From, To: f.To, After: p.After, Limit: p.Limit}
	if ok, err := scopeCases(a, &q.Team, &q.WorkerID); !ok {
		return schemas.Page[schemas.Incident]{Items: []schemas.Incident{}}, err
	}
	is, err := s.cases().ListIncidents(ctx, q)
	return is, caseErr(err, "incident")
}

// scopeCases narrows a list of incidents or escalations to what the actor
// may see: a supervisor their team's, a worker their own. Not ok: the
// list is empty (err nil) or the role may list none (err).
func scopeCases(a *schemas.Actor, team, workerID *string) (ok bool, err error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return false, nil
		}
		*team = a.Team
	case schemas.RoleWorker:
		if a.WorkerID == "" || *workerID != "" && *workerID != a.WorkerID {
			return false, nil
		}
		*workerID = a.WorkerID
	default:
		return false, forbidden()
	}
	return true, nil
}

// mayReadCase reports whether the actor may read an incident or an
// escalation of team about a worker: admins, the team's supervisors, the
// worker.
func mayReadCase(a *schemas.Actor, team, workerID string) bool {
	return a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor && team == a.Team && a.Team != "" ||
		a.Role == schemas.RoleWorker && workerID == a.WorkerID && a.WorkerID != ""
}

// Incident returns one incident the actor may see.
func (s *Service) Incident(ctx context.Context, a *schemas.Actor, id string) (*schemas.Incident, error) {
	i, err := s.cases().Incident(ctx, id)
	if err != nil {
		return nil, caseErr(err, "incident")
	}
	if !mayReadCase(a, i.Team, i.WorkerID) {
		return nil, errNotFound("incident")
	}
	return i, nil
}

// IncidentAction is a supervisor's step on an incident.
type IncidentAction struct {
	Action  string `json:"action"` // acknowledge, investigate, note, resolve
	Note    string `json:"note,omitempty"`
	Outcome string `json:"outcome,omitempty"` // required to resolve
}

// Validate checks the shape.
func (i *IncidentAction) Validate() error {
	if !slices.Contains([]string{"acknowledge", "investigate", "note", "resolve"}, i.Action) {
		return schemas.FieldError("action", "action must be acknowledge, investigate, note or resolve")
	}
	if len([]rune(i.Note)) > 2000 || len([]rune(i.Outcome)) > 2000 {
		return schemas.FieldError("note", "note and outcome are at most 2000 characters")
	}
	if i.Action == "resolve" && strings.TrimSpace(i.Outcome) == "" {
		return schemas.FieldError("outcome", "say how it was resolved")
	}
	if i.Action == "note" && strings.TrimSpace(i.Note) == "" {
		return schemas.FieldError("note", "a note needs text")
	}
	return nil
}

// ActOnIncident moves an incident open -> acknowledged -> investigating ->
// resolved, or adds a note. What the worker reported is never edited; only
// the team's supervisors (and admins) add to it or close it. Audited.
func (s *Service) ActOnIncident(ctx context.Context, a *schemas.Actor, id string, act IncidentAction) (*schemas.Incident, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	if err := act.Validate(); err != nil {
		return nil, err
	}
	next := map[string]map[string]string{
		"acknowledge": {schemas.IncidentOpen: schemas.IncidentAcknowledged},
		"investigate": {schemas.IncidentOpen: schemas.IncidentInvestigating, schemas.IncidentAcknowledged: schemas.IncidentInvestigating},
		"resolve":     {schemas.IncidentOpen: schemas.IncidentResolved, schemas.IncidentAcknowledged: schemas.IncidentResolved, schemas.IncidentInvestigating: schemas.IncidentResolved},
	}
	for attempt := 0; ; attempt++ {
		before, err := s.Incident(ctx, a, id)
		if err != nil {
			return nil, err
		}
		after := *before
		if act.Action != "note" {
			to, ok := next[act.Action][before.Status]
			if !ok {
				return nil, schemas.Errorf(schemas.ECONFLICT, "an incident that is %s cannot be %s", before.Status, act.Action).With("status", before.Status)
			}
			after.Status = to
		} else if before.Status == schemas.IncidentResolved {
			return nil, schemas.Errorf(schemas.ECONFLICT, "the incident is resolved")
		}
		if act.Action == "resolve" {
			after.Outcome = strings.TrimSpace(act.Outcome)
		}
		after.Events = append(slices.Clone(before.Events), schemas.ComplaintEvent{At: s.now().UTC(), By: a.UserID, Role: a.Role, Action: act.Action,
			Note: strings.TrimSpace(act.Note + " " + act.Outcome)})
		err = s.cases().ReplaceIncident(ctx, &after, before.Version)
		if errors.Is(err, store.ErrVersion) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, caseErr(err, "incident")
		}
		if err := s.audit(ctx, a, "incident", id, act.Action, after.Version, before, &after, nil, act.Note); err != nil {
			return nil, err
		}
		if act.Action == "resolve" {
			return &after, s.tellIncidentResolved(ctx, &after)
		}
		return &after, nil
	}
}

// EscalateIncidents alerts the admins, once, about critical incidents not
// acknowledged within 15 minutes of their report.
func (s *Service) EscalateIncidents(ctx context.Context) (int, error) {
	now := s.now().UTC()
	is, err := s.cases().IncidentsToEscalate(ctx, now.Add(-15*time.Minute), 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range is {
		inc := &is[i]
		after := *inc
		after.Escalated = true
		if err := s.cases().ReplaceIncident(ctx, &after, inc.Version); err != nil {
			if errors.Is(err, store.ErrVersion) {
				continue
			}
			return n, err
		}
		if err := s.raise(ctx, &schemas.Alert{ID: uuid.NewSHA1(nsOffice, []byte("incident-escalation/"+inc.ID)).String(), Kind: "incident_escalated",
			VisitID: inc.VisitID, WorkerID: inc.WorkerID, Priority: "high",
			Detail: inc.Category + "/" + inc.Severity + " not acknowledged within 15 minutes", CreatedAt: now}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
