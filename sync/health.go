package sync

import (
	"context"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Devices lists the sync health of phones: last push and pull, last
// applied seq, a pending gap, app and schema versions, and operations
// rejected in the last day. Supervisors see their team's, admins all.
func (e *Engine) Devices(ctx context.Context, a *schemas.Actor, workerID string) ([]Device, error) {
	f := store.DeviceFilter{WorkerID: workerID}
	switch a.Role {
	case schemas.RoleAdmin:
		f.AllTeams = true
	case schemas.RoleSupervisor:
		f.Team = a.Team
	default:
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "your role may not do this")
	}
	out, err := e.ops.Devices(ctx, f, 500)
	if err != nil {
		return nil, err
	}
	since := e.now().Add(-24 * time.Hour)
	for i := range out {
		if out[i].RejectedLastDay, err = e.ops.CountDeviceOps(ctx, out[i].UserID, out[i].DeviceID, StatusRejected, since); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Relay logs visits whose change-log entry was lost to a crash, and prunes
// the log past the retention, until ctx ends.
func (e *Engine) Relay(ctx context.Context, every, retention time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if n, err := e.db.Visits.RelayDirty(ctx, e.now(), 30*time.Second); err != nil && ctx.Err() == nil {
			e.log.Error("change-log relay", "err", err)
		} else if n > 0 {
			e.log.Warn("logged visits a crash left out of the change log", "visits", n)
		}
		if time.Since(lastPrune) > time.Hour {
			if n, err := e.db.Changes.Prune(ctx, e.now().Add(-retention)); err != nil && ctx.Err() == nil {
				e.log.Error("prune change log", "err", err)
			} else if n > 0 {
				e.log.Info("pruned change log", "entries", n)
			}
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeviceState is what a phone needs to know of its own sync state: where
// its sequence stands and which protocol versions the server speaks.
type DeviceState struct {
	DeviceID         string `json:"deviceId"`
	NextSeq          int64  `json:"nextSeq"` // the seq the server expects next from this device
	LastSeq          int64  `json:"lastSeq"` // every operation up to here is recorded
	PendingGap       *Gap   `json:"pendingGap,omitempty"`
	SchemaVersion    int    `json:"schemaVersion"`    // the newest push protocol this server speaks
	MinSchemaVersion int    `json:"minSchemaVersion"` // the oldest it still accepts
}

// NextSeq is the seq the server expects next from one device of a user:
// 1 for a device never seen. A reinstalled phone learns it at sign-in.
func (e *Engine) NextSeq(ctx context.Context, userID, deviceID string) (int64, error) {
	d, err := e.device(ctx, &schemas.Actor{UserID: userID, DeviceID: deviceID})
	if err != nil {
		return 0, err
	}
	return d.LastSeq + 1, nil
}

// DeviceState answers a worker's phone about its own device.
func (e *Engine) DeviceState(ctx context.Context, a *schemas.Actor) (*DeviceState, error) {
	if a.Role != schemas.RoleWorker || a.WorkerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only workers' phones sync")
	}
	d, err := e.device(ctx, a)
	if err != nil {
		return nil, err
	}
	return &DeviceState{DeviceID: a.DeviceID, NextSeq: d.LastSeq + 1, LastSeq: d.LastSeq, PendingGap: d.PendingGap,
		SchemaVersion: SchemaVersion, MinSchemaVersion: MinSchemaVersion}, nil
}
