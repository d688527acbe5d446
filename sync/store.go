package sync

import (
	"context"
	"errors"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Log is the sync log the engine keeps: the operations received, the
// devices' sync state and the visits' counts of wrong presence codes
// (fieldsync/store's SyncLog).
type Log interface {
	InsertOps(ctx context.Context, recs []*Record) (existing []int, err error)
	Op(ctx context.Context, id string) (*Record, error)
	Ops(ctx context.Context, ids []string) ([]*Record, error)
	DeviceOps(ctx context.Context, userID, deviceID string, opIDs []string) ([]*Record, error)
	SetOutcome(ctx context.Context, r *Record) error
	Device(ctx context.Context, userID, deviceID string) (*Device, error)
	RecordPush(ctx context.Context, d *Device, ops, rejected int64) error
	RecordPull(ctx context.Context, userID, deviceID, workerID, team string) error
	Devices(ctx context.Context, f store.DeviceFilter, limit int) ([]Device, error)
	CountDeviceOps(ctx context.Context, userID, deviceID, status string, since time.Time) (int64, error)
	Presence(ctx context.Context, visitID string) (store.PresenceCount, error)
	CountWrongPresence(ctx context.Context, visitID, recID string, maxWrong int, lockFor time.Duration) (store.PresenceCount, error)
}

// Device is the sync state of one phone of one user.
type Device = schemas.SyncDevice

// Gap is a hole in a device's sequence: the server expects Expected, the
// phone sent Got.
type Gap = schemas.SyncGap

func (e *Engine) device(ctx context.Context, a *schemas.Actor) (*Device, error) {
	d, err := e.ops.Device(ctx, a.UserID, a.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return &Device{ID: store.SyncDeviceID(a.UserID, a.DeviceID), UserID: a.UserID, DeviceID: a.DeviceID, WorkerID: a.WorkerID, Team: a.Team}, nil
	}
	return d, err
}

// insertRecords writes new records, with their outcomes, in one batch.
// Records that exist already are read back and replace ours; it returns
// the visits those belong to, to be decided again.
func (e *Engine) insertRecords(ctx context.Context, recs []*Record) (map[string]bool, error) {
	existing, err := e.ops.InsertOps(ctx, recs)
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 {
		return nil, nil
	}
	redo := map[string]bool{}
	for _, i := range existing {
		if r := recs[i]; r.Status != StatusRejected && r.Kind != KindRetire {
			redo[r.VisitID] = true
		}
	}
	return redo, nil
}

// record reads one recorded operation, or nil.
func (e *Engine) record(ctx context.Context, id string) (*Record, error) {
	r, err := e.ops.Op(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return r, err
}
