package sync

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
	"fieldsync/server/store"
)

// Collections of the sync engine.
const (
	colOps     = "sync_ops"
	colDevices = "sync_devices"
)

func init() {
	store.Register(store.Migration{Version: 10, Name: "sync", Up: func(ctx context.Context, db *store.DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colOps: {
				{Keys: bson.D{{Key: "visitId", Value: 1}, {Key: "effAt", Value: 1}}},
				{Keys: bson.D{{Key: "deviceId", Value: 1}, {Key: "receivedAt", Value: 1}}},
			},
			colDevices: {{Keys: bson.D{{Key: "workerId", Value: 1}}}, {Keys: bson.D{{Key: "team", Value: 1}}}},
		})
	}})
}

// Device is the sync state of one phone of one user.
type Device struct {
	ID            string    `json:"id" bson:"_id"` // userID/deviceID
	UserID        string    `json:"userId" bson:"userId"`
	DeviceID      string    `json:"deviceId" bson:"deviceId"`
	WorkerID      string    `json:"workerId,omitempty" bson:"workerId,omitempty"`
	Team          string    `json:"team,omitempty" bson:"team,omitempty"`
	LastSeq       int64     `json:"lastSeq" bson:"lastSeq"` // every op up to here is applied
	LastEffAt     time.Time `json:"-" bson:"lastEffAt"`
	LastPushAt    time.Time `json:"lastPushAt,omitempty" bson:"lastPushAt,omitempty"`
	LastPullAt    time.Time `json:"lastPullAt,omitempty" bson:"lastPullAt,omitempty"`
	AppVersion    string    `json:"appVersion,omitempty" bson:"appVersion,omitempty"`
	SchemaVersion int       `json:"schemaVersion,omitempty" bson:"schemaVersion,omitempty"`
	PendingGap    *Gap      `json:"pendingGap,omitempty" bson:"pendingGap,omitempty"`
	SkewMs        int64     `json:"skewMs" bson:"skewMs"`
	Pushes        int64     `json:"pushes" bson:"pushes"`
	Ops           int64     `json:"ops" bson:"ops"`
	Rejected      int64     `json:"rejected" bson:"rejected"`
	// RejectedLastDay is filled in when devices are listed.
	RejectedLastDay int64 `json:"rejectedLastDay" bson:"-"`
}

// Gap is a hole in a device's sequence: the server expects Expected, the
// phone sent Got.
type Gap struct {
	Expected int64 `json:"expected" bson:"expected"`
	Got      int64 `json:"got" bson:"got"`
}

func deviceKey(userID, deviceID string) string { return userID + "/" + deviceID }

func (e *Engine) device(ctx context.Context, a *schemas.Actor) (*Device, error) {
	var d Device
	err := e.db.C(colDevices).FindOne(ctx, bson.D{{Key: "_id", Value: deviceKey(a.UserID, a.DeviceID)}}).Decode(&d)
	if err == mongo.ErrNoDocuments {
		return &Device{ID: deviceKey(a.UserID, a.DeviceID), UserID: a.UserID, DeviceID: a.DeviceID, WorkerID: a.WorkerID, Team: a.Team}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	return &d, nil
}

// saveDevice records the push. lastSeq only grows ($max), so a slow,
// older request can never move it back.
func (e *Engine) saveDevice(ctx context.Context, d *Device, ops, rejected int64) error {
	set := bson.D{
		{Key: "userId", Value: d.UserID}, {Key: "deviceId", Value: d.DeviceID}, {Key: "workerId", Value: d.WorkerID},
		{Key: "team", Value: d.Team}, {Key: "lastPushAt", Value: d.LastPushAt}, {Key: "appVersion", Value: d.AppVersion},
		{Key: "schemaVersion", Value: d.SchemaVersion}, {Key: "pendingGap", Value: d.PendingGap}, {Key: "skewMs", Value: d.SkewMs},
	}
	_, err := e.db.C(colDevices).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, bson.D{
		{Key: "$set", Value: set},
		{Key: "$max", Value: bson.D{{Key: "lastSeq", Value: d.LastSeq}, {Key: "lastEffAt", Value: d.LastEffAt}}},
		{Key: "$inc", Value: bson.D{{Key: "pushes", Value: 1}, {Key: "ops", Value: ops}, {Key: "rejected", Value: rejected}}},
	}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

func (e *Engine) touchPull(ctx context.Context, a *schemas.Actor, now time.Time) error {
	_, err := e.db.C(colDevices).UpdateOne(ctx, bson.D{{Key: "_id", Value: deviceKey(a.UserID, a.DeviceID)}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "lastPullAt", Value: now}, {Key: "userId", Value: a.UserID}, {Key: "deviceId", Value: a.DeviceID},
			{Key: "workerId", Value: a.WorkerID}, {Key: "team", Value: a.Team}}},
	}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

// insertRecords writes new records, with their outcomes, in one round
// trip. Records that exist already are read back (one point read each:
// FerretDB scans a collection for $in) and replace ours; it returns the
// visits those belong to, to be decided again.
func (e *Engine) insertRecords(ctx context.Context, recs []*Record) (map[string]bool, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(recs))
	for i, r := range recs {
		d, err := e.sealed(r)
		if err != nil {
			return nil, err
		}
		docs[i] = d
	}
	_, err := e.db.C(colOps).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if !asBulk(err, &bwe) {
		return nil, fmt.Errorf("record operations: %w", err)
	}
	redo := map[string]bool{}
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return nil, fmt.Errorf("record operations: %w", err)
		}
		r := recs[we.Index]
		var stored Record
		if err := e.db.C(colOps).FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&stored); err != nil {
			return nil, fmt.Errorf("read recorded operation: %w", err)
		}
		if err := e.open(&stored); err != nil {
			return nil, err
		}
		*r = stored
		if r.Status != StatusRejected {
			redo[r.VisitID] = true
		}
	}
	return redo, nil
}

func asBulk(err error, bwe *mongo.BulkWriteException) bool {
	switch x := err.(type) {
	case mongo.BulkWriteException:
		*bwe = x
		return true
	case *mongo.BulkWriteException:
		*bwe = *x
		return true
	}
	return false
}

// record reads one recorded operation, or nil.
func (e *Engine) record(ctx context.Context, id string) (*Record, error) {
	var r Record
	err := e.db.C(colOps).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if err == mongo.ErrNoDocuments {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read operation: %w", err)
	}
	if err := e.open(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// insertOnce inserts a document whose id is derived from its cause; an
// existing one means it was recorded already.
func (e *Engine) insertOnce(ctx context.Context, col string, doc any) error {
	if _, err := e.db.C(col).InsertOne(ctx, doc); err != nil && !store.IsDuplicate(err) {
		return fmt.Errorf("insert into %s: %w", col, err)
	}
	return nil
}
