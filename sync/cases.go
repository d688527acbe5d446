package sync

import (
	"context"
	"time"

	"fieldsync/schemas"
)

// caseStore is what the engine uses of the alerts and cases aggregate.
type caseStore interface {
	RaiseAlert(ctx context.Context, a *schemas.Alert, group, cause string, window time.Duration) (bool, error)
	RecordAlert(ctx context.Context, a *schemas.Alert) (bool, error)
	RecordIncident(ctx context.Context, i *schemas.Incident) (bool, error)
	IncidentsByID(ctx context.Context, ids []string) ([]schemas.Incident, error)
	RecordEscalation(ctx context.Context, e *schemas.Escalation) (bool, error)
	Escalation(ctx context.Context, id string) (*schemas.Escalation, error)
}

func (e *Engine) cases() caseStore { return e.db.Cases }
