// Package push delivers notifications to workers, supervisors and
// customers: a durable outbox in the store, a dispatcher that claims due
// notifications with a lease (safe with several server instances) and
// sends them through a Sender, retrying what failed for a while and
// giving up on what never will.
package push

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/server/store"
)

// Collections: the outbox holds only what is not final, so scanning it
// for due notifications stays cheap; final ones move to the log.
const (
	colOutbox  = "push_outbox"
	colLog     = "push_log"
	colTargets = "push_targets"
)

func init() {
	store.Register(store.Migration{Version: 20, Name: "push", Up: func(ctx context.Context, db *store.DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colOutbox:  {{Keys: bson.D{{Key: "notBefore", Value: 1}}}},
			colLog:     {{Keys: bson.D{{Key: "visitId", Value: 1}}}, {Keys: bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}}}},
			colTargets: nil,
		})
	}})
}

// Notification states.
const (
	StatePending = "pending" // in the outbox, maybe leased
	StateSent    = "sent"    // FCM accepted it for at least one device
	StateFailed  = "failed"  // gave up: a permanent error, or retries ran out
	StateDropped = "dropped" // no device to send to
)

// Notification is one message to one user, on all their devices.
type Notification struct {
	ID          string            `json:"id" bson:"_id"` // derived from DedupeKey: enqueueing twice is a no-op
	DedupeKey   string            `json:"dedupeKey" bson:"dedupeKey"`
	UserID      string            `json:"userId" bson:"userId"`
	Kind        string            `json:"kind" bson:"kind"`
	VisitID     string            `json:"visitId,omitempty" bson:"visitId,omitempty"`
	Data        map[string]string `json:"data" bson:"data"` // ids and times only: no address, phone or position
	Title       string            `json:"title,omitempty" bson:"title,omitempty"`
	Body        string            `json:"body,omitempty" bson:"body,omitempty"`
	CollapseKey string            `json:"collapseKey,omitempty" bson:"collapseKey,omitempty"`
	High        bool              `json:"high" bson:"high"`
	TTL         time.Duration     `json:"ttl" bson:"ttl"`
	NotBefore   time.Time         `json:"notBefore" bson:"notBefore"`
	State       string            `json:"state" bson:"state"`
	Attempts    int               `json:"attempts" bson:"attempts"`
	SentTokens  []string          `json:"-" bson:"sentTokens,omitempty"` // accepted by FCM: never sent again
	LeaseOwner  string            `json:"-" bson:"leaseOwner,omitempty"`
	LeaseUntil  time.Time         `json:"-" bson:"leaseUntil,omitempty"`
	LastError   string            `json:"lastError,omitempty" bson:"lastError,omitempty"`
	Version     int64             `json:"-" bson:"version"`
	CreatedAt   time.Time         `json:"createdAt" bson:"createdAt"`
	FinishedAt  *time.Time        `json:"finishedAt,omitempty" bson:"finishedAt,omitempty"`
}

var nsPush = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/push"))

// Outbox is where notifications wait to be sent.
type Outbox struct {
	db  *store.DB
	now func() time.Time
}

// NewOutbox returns the outbox of the store.
func NewOutbox(db *store.DB, now func() time.Time) *Outbox { return &Outbox{db: db, now: now} }

// Enqueue records a notification unless one with the same dedupe key is
// already waiting (it is then a no-op and returns false). Callers derive
// the key from the event, so a retried event enqueues nothing twice.
func (o *Outbox) Enqueue(ctx context.Context, n *Notification) (bool, error) {
	n.ID = uuid.NewSHA1(nsPush, []byte(n.DedupeKey)).String()
	n.State, n.Version, n.CreatedAt = StatePending, 1, o.now().UTC()
	if n.NotBefore.IsZero() {
		n.NotBefore = n.CreatedAt
	}
	if n.Data == nil {
		n.Data = map[string]string{}
	}
	// Every message carries its id, so the app drops a copy a network
	// retry produced.
	n.Data["notificationId"] = n.ID
	n.Data["kind"] = n.Kind
	if _, err := o.db.C(colOutbox).InsertOne(ctx, n); err != nil {
		if store.IsDuplicate(err) {
			return false, nil
		}
		return false, fmt.Errorf("enqueue notification: %w", err)
	}
	// Finished already? Finishing writes the log before it empties the
	// outbox, so either the insert above collided or the log has it now.
	err := o.db.C(colLog).FindOne(ctx, bson.D{{Key: "_id", Value: n.ID}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if err == nil {
		if _, err := o.db.C(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: n.ID}}); err != nil {
			return false, fmt.Errorf("withdraw notification: %w", err)
		}
		return false, nil
	}
	if err != mongo.ErrNoDocuments {
		return false, fmt.Errorf("read push log: %w", err)
	}
	return true, nil
}

// Cancel removes waiting notifications of a visit whose dedupe keys start
// with prefix (a reminder for a time that moved).
func (o *Outbox) Cancel(ctx context.Context, visitID, prefix string) (int, error) {
	ns, err := o.waiting(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ns {
		if x.VisitID == visitID && len(x.DedupeKey) >= len(prefix) && x.DedupeKey[:len(prefix)] == prefix && x.LeaseOwner == "" {
			if _, err := o.db.C(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: x.ID}}); err != nil {
				return n, fmt.Errorf("cancel notification: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// waiting lists the outbox; it holds only what is not final.
func (o *Outbox) waiting(ctx context.Context) ([]Notification, error) {
	cur, err := o.db.C(colOutbox).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "notBefore", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var out []Notification
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// List returns notifications of a visit or a user, waiting and final,
// newest first: what push did, for supervisors and admins.
func (o *Outbox) List(ctx context.Context, visitID, userID string) ([]Notification, error) {
	var out []Notification
	for _, col := range []string{colOutbox, colLog} {
		cur, err := o.db.C(col).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(2000))
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		var ns []Notification
		if err := cur.All(ctx, &ns); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		for _, n := range ns {
			if (visitID == "" || n.VisitID == visitID) && (userID == "" || n.UserID == userID) {
				out = append(out, n)
			}
		}
	}
	if out == nil {
		out = []Notification{}
	}
	return out, nil
}
