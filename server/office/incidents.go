package office

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
)

// Incidents lists incidents: admins all, supervisors their team's, workers
// their own.
func (s *Service) Incidents(ctx context.Context, a *schemas.Actor, limit int) ([]schemas.Incident, error) {
	switch a.Role {
	case schemas.RoleAdmin:
		return s.db.ListIncidents(ctx, "", "", limit)
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return []schemas.Incident{}, nil
		}
		return s.db.ListIncidents(ctx, a.Team, "", limit)
	case schemas.RoleWorker:
		if a.WorkerID == "" {
			return []schemas.Incident{}, nil
		}
		return s.db.ListIncidents(ctx, "", a.WorkerID, limit)
	}
	return nil, forbidden()
}

// Incident returns one incident the actor may see.
func (s *Service) Incident(ctx context.Context, a *schemas.Actor, id string) (*schemas.Incident, error) {
	i, err := s.db.IncidentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	ok := a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor && i.Team == a.Team && a.Team != "" ||
		a.Role == schemas.RoleWorker && i.WorkerID == a.WorkerID && a.WorkerID != ""
	if !ok {
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
		after.Version = before.Version + 1
		err = s.db.ReplaceIncident(ctx, &after, before.Version)
		if schemas.ErrorCode(err) == schemas.ECONFLICT && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &after, s.audit(ctx, a, "incident", id, act.Action, after.Version, before, &after, nil, act.Note)
	}
}

// EscalateIncidents alerts the admins, once, about critical incidents not
// acknowledged within 15 minutes of their report.
func (s *Service) EscalateIncidents(ctx context.Context) (int, error) {
	is, err := s.db.ListIncidents(ctx, "", "", 0)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	n := 0
	for i := range is {
		inc := &is[i]
		if inc.Status != schemas.IncidentOpen || inc.Escalated || !inc.Critical() || now.Before(inc.ReportedAt.Add(15*time.Minute)) {
			continue
		}
		after := *inc
		after.Escalated = true
		after.Version = inc.Version + 1
		if err := s.db.ReplaceIncident(ctx, &after, inc.Version); err != nil {
			if schemas.ErrorCode(err) == schemas.ECONFLICT {
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
