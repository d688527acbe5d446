package sync

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

// Devices lists the sync health of phones: last push and pull, last
// applied seq, a pending gap, app and schema versions, and operations
// rejected in the last day. Supervisors see their team's, admins all.
func (e *Engine) Devices(ctx context.Context, a *schemas.Actor, workerID string) ([]Device, error) {
	filter := bson.D{}
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		filter = append(filter, bson.E{Key: "team", Value: a.Team})
	default:
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "your role may not do this")
	}
	if workerID != "" {
		filter = append(filter, bson.E{Key: "workerId", Value: workerID})
	}
	cur, err := e.db.C(colDevices).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "lastPushAt", Value: -1}}).SetLimit(500))
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	out := []Device{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	since := e.now().Add(-24 * time.Hour)
	for i := range out {
		n, err := e.db.C(colOps).CountDocuments(ctx, bson.D{{Key: "deviceId", Value: out[i].DeviceID}, {Key: "userId", Value: out[i].UserID},
			{Key: "receivedAt", Value: bson.D{{Key: "$gte", Value: since}}}, {Key: "status", Value: StatusRejected}})
		if err != nil {
			return nil, fmt.Errorf("count rejected: %w", err)
		}
		out[i].RejectedLastDay = n
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
		if n, err := e.db.Docs.Visits.RelayDirty(ctx, e.now(), 30*time.Second); err != nil && ctx.Err() == nil {
			e.log.Error("change-log relay", "err", err)
		} else if n > 0 {
			e.log.Warn("logged visits a crash left out of the change log", "visits", n)
		}
		if time.Since(lastPrune) > time.Hour {
			if n, err := e.db.Docs.Changes.Prune(ctx, e.now().Add(-retention)); err != nil && ctx.Err() == nil {
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
