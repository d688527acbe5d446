// Package push delivers notifications to workers, supervisors and
// customers: a durable outbox in the store, a dispatcher that claims due
// notifications with a lease (safe with several server instances) and
// sends them through a Sender, retrying what failed for a while and
// giving up on what never will.
package push

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
)

// Notification states.
const (
	StatePending = schemas.NotificationPending
	StateSent    = schemas.NotificationSent
	StateFailed  = schemas.NotificationFailed
	StateDropped = schemas.NotificationDropped
)

// Notification is one message to one user, on all their devices.
type Notification = schemas.Notification

// OutboxStore is what the outbox and the dispatcher keep in the store
// (fieldsync/store's Push). Every notification is one document, pending
// while in the outbox, then final: the delivery log.
type OutboxStore interface {
	// Enqueue stores a pending notification unless its id was stored
	// before (false).
	Enqueue(ctx context.Context, n *Notification) (bool, error)
	// EnqueueMany is Enqueue of many in one batch; it returns how many
	// were new.
	EnqueueMany(ctx context.Context, ns []*Notification) (int, error)
	// Due returns up to limit notifications due now and not under a live
	// lease, the longest due first.
	Due(ctx context.Context, limit int) ([]Notification, error)
	// Lease claims notifications Due returned for owner, each by one
	// write conditional on the version read; lost counts those someone
	// else took first.
	Lease(ctx context.Context, due []Notification, owner string, lease time.Duration) (claimed []Notification, lost int, err error)
	// Record writes the outcomes of leased notifications, each
	// conditional on the claim's version; it returns how many had been
	// taken over meanwhile.
	Record(ctx context.Context, ns []*Notification) (lost int, err error)
	// Pending returns the pending notifications of a visit (or of all,
	// for "") whose dedupe key starts with prefix.
	Pending(ctx context.Context, visitID, prefix string) ([]Notification, error)
	// Withdraw removes a pending notification unless it changed since it
	// was read.
	Withdraw(ctx context.Context, n *Notification) (bool, error)
	// Notifications pages through notifications of a visit and/or a
	// user, newest first.
	Notifications(ctx context.Context, visitID, userID, after string, limit int) ([]Notification, string, error)
}

var nsPush = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/push"))

// Outbox is where notifications wait to be sent.
type Outbox struct {
	s OutboxStore
}

// NewOutbox returns the outbox kept in s.
func NewOutbox(s OutboxStore) *Outbox { return &Outbox{s: s} }

// prepare derives the notification's id from its dedupe key, and puts the
// id and kind in its data: every message carries its id, so the app drops
// a copy a network retry produced.
func prepare(n *Notification) {
	n.ID = uuid.NewSHA1(nsPush, []byte(n.DedupeKey)).String()
	if n.Data == nil {
		n.Data = map[string]string{}
	}
	n.Data["notificationId"] = n.ID
	n.Data["kind"] = n.Kind
}

// Enqueue records a notification unless one with the same dedupe key was
// enqueued before, waiting or sent (it is then a no-op and returns false).
// Callers derive the key from the event, so a retried event enqueues
// nothing twice.
func (o *Outbox) Enqueue(ctx context.Context, n *Notification) (bool, error) {
	prepare(n)
	return o.s.Enqueue(ctx, n)
}

// EnqueueMany is Enqueue of many notifications in one write to the store;
// it returns how many were new.
func (o *Outbox) EnqueueMany(ctx context.Context, ns []*Notification) (int, error) {
	for _, n := range ns {
		prepare(n)
	}
	return o.s.EnqueueMany(ctx, ns)
}

// Cancel removes waiting notifications of a visit whose dedupe keys start
// with prefix (a reminder for a time that moved), unless a dispatcher has
// claimed them.
func (o *Outbox) Cancel(ctx context.Context, visitID, prefix string) (int, error) {
	ns, err := o.s.Pending(ctx, visitID, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range ns {
		if x := &ns[i]; x.LeaseOwner == "" {
			ok, err := o.s.Withdraw(ctx, x)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}

// waiting lists the notifications not final whose dedupe key starts with
// prefix.
func (o *Outbox) waiting(ctx context.Context, prefix string) ([]Notification, error) {
	return o.s.Pending(ctx, "", prefix)
}

// List returns a page of notifications of a visit, of a user, or both (""
// for one of them), waiting and final, newest first, and the cursor of the next
// page: what push did, for supervisors and admins.
func (o *Outbox) List(ctx context.Context, visitID, userID, after string, limit int) ([]Notification, string, error) {
	return o.s.Notifications(ctx, visitID, userID, after, limit)
}
