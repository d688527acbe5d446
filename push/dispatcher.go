package push

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/server/store"
)

// Metrics count what the dispatcher did.
type Metrics struct {
	Sent, Failed, Retried, Dropped, TokensRemoved atomic.Int64
}

// Dispatcher sends due notifications. Several dispatchers (one per server
// instance) can run on one store: each notification is claimed with a
// lease by one of them, and a claim left by a dispatcher that died runs
// out and is taken by another.
type Dispatcher struct {
	db          *store.DB
	targets     *Targets
	sender      Sender
	owner       string
	now         func() time.Time
	log         *slog.Logger
	Lease       time.Duration
	MaxAttempts int
	Batch       int
	Metrics     Metrics
	rng         *rand.Rand
}

// NewDispatcher returns a dispatcher named owner (unique per instance).
func NewDispatcher(db *store.DB, targets *Targets, sender Sender, owner string, now func() time.Time, log *slog.Logger) *Dispatcher {
	return &Dispatcher{db: db, targets: targets, sender: sender, owner: owner, now: now, log: log,
		Lease: time.Minute, MaxAttempts: 12, Batch: 500, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
}

// Claim leases up to Batch due notifications and returns them.
func (d *Dispatcher) Claim(ctx context.Context) ([]Notification, error) {
	now := d.now().UTC()
	cur, err := d.db.C(colOutbox).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var all []Notification
	if err := cur.All(ctx, &all); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	slices.SortFunc(all, func(a, b Notification) int { return a.NotBefore.Compare(b.NotBefore) })
	var claimed []Notification
	for _, n := range all {
		if len(claimed) >= d.Batch {
			break
		}
		if n.NotBefore.After(now) || (n.LeaseOwner != "" && n.LeaseUntil.After(now)) {
			continue
		}
		ok, err := d.db.C(colOutbox).UpdateIfVersion(ctx, n.ID, n.Version, bson.D{{Key: "$set", Value: bson.D{
			{Key: "leaseOwner", Value: d.owner}, {Key: "leaseUntil", Value: now.Add(d.Lease)}, {Key: "version", Value: n.Version + 1},
		}}})
		if err != nil {
			return claimed, fmt.Errorf("claim notification: %w", err)
		}
		if ok { // else another dispatcher took it first
			n.LeaseOwner, n.LeaseUntil, n.Version = d.owner, now.Add(d.Lease), n.Version+1
			claimed = append(claimed, n)
		}
	}
	return claimed, nil
}

// RunOnce claims due notifications, sends them and records the outcomes.
// It returns how many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	ns, err := d.Claim(ctx)
	if err != nil || len(ns) == 0 {
		return 0, err
	}
	type slot struct{ n, msg int }
	var msgs []Message
	var slots []slot
	targets := make([][]Target, len(ns))
	for i := range ns {
		ts, err := d.targets.Live(ctx, ns[i].UserID)
		if err != nil {
			return len(ns), err
		}
		for _, t := range ts {
			if slices.Contains(ns[i].SentTokens, t.Token) {
				continue // FCM accepted it already: never again
			}
			targets[i] = append(targets[i], t)
			slots = append(slots, slot{i, len(msgs)})
			msgs = append(msgs, Message{N: &ns[i], Target: t})
		}
	}
	results := make([]Result, len(msgs))
	for start := 0; start < len(msgs); start += 500 {
		end := min(start+500, len(msgs))
		copy(results[start:end], d.sender.Send(ctx, msgs[start:end]))
	}
	// Gather per notification.
	type outcome struct {
		accepted, permanent, transient int
		retryAfter                     time.Duration
		lastErr                        string
	}
	outs := make([]outcome, len(ns))
	for _, s := range slots {
		r, m, o := results[s.msg], msgs[s.msg], &outs[s.n]
		switch {
		case r.Err == nil:
			o.accepted++
			ns[s.n].SentTokens = append(ns[s.n].SentTokens, m.Target.Token)
		case r.Permanent:
			o.permanent++
			o.lastErr = r.Err.Error()
			if r.Unregistered {
				if err := d.targets.RemoveToken(ctx, m.N.UserID, m.Target.Token); err != nil {
					return len(ns), err
				}
				d.Metrics.TokensRemoved.Add(1)
			}
			if r.Config {
				d.log.Error("push configuration error: notifications cannot be delivered until it is fixed", "sender", d.sender.Name(), "err", r.Err)
			}
		default:
			o.transient++
			o.lastErr = r.Err.Error()
			o.retryAfter = max(o.retryAfter, r.RetryAfter)
		}
	}
	for i := range ns {
		n, o := &ns[i], outs[i]
		n.Attempts++
		if o.lastErr != "" {
			n.LastError = o.lastErr
		}
		switch {
		case o.transient > 0 && n.Attempts < d.MaxAttempts:
			d.Metrics.Retried.Add(1)
			err = d.retry(ctx, n, o.retryAfter)
		case len(n.SentTokens) > 0:
			d.Metrics.Sent.Add(1)
			err = d.finish(ctx, n, StateSent)
		case len(targets[i]) == 0 && o.permanent == 0:
			d.Metrics.Dropped.Add(1)
			n.LastError = "no device to send to"
			err = d.finish(ctx, n, StateDropped)
		default:
			d.Metrics.Failed.Add(1)
			err = d.finish(ctx, n, StateFailed)
		}
		if err != nil {
			return len(ns), err
		}
	}
	return len(ns), nil
}

// backoff is exponential from 10 s, capped at an hour, with jitter, and
// never shorter than the channel asked for.
func (d *Dispatcher) backoff(attempts int, asked time.Duration) time.Duration {
	b := 10 * time.Second << min(attempts-1, 9)
	b = min(b, time.Hour)
	b += time.Duration(d.rng.Int64N(int64(b)/5 + 1))
	return max(b, asked)
}

func (d *Dispatcher) retry(ctx context.Context, n *Notification, asked time.Duration) error {
	next := d.now().UTC().Add(d.backoff(n.Attempts, asked))
	_, err := d.db.C(colOutbox).UpdateIfVersion(ctx, n.ID, n.Version, bson.D{
		{Key: "$set", Value: bson.D{{Key: "attempts", Value: n.Attempts}, {Key: "notBefore", Value: next}, {Key: "sentTokens", Value: n.SentTokens},
			{Key: "lastError", Value: n.LastError}, {Key: "version", Value: n.Version + 1}}},
		{Key: "$unset", Value: bson.D{{Key: "leaseOwner", Value: ""}, {Key: "leaseUntil", Value: ""}}},
	})
	if err != nil {
		return fmt.Errorf("schedule retry: %w", err)
	}
	return nil
}

// finish moves a notification to the log in its final state. The log
// entry is written first under the same id, so a crash in between leaves
// a finished copy, never a lost one; the outbox copy is then removed.
func (d *Dispatcher) finish(ctx context.Context, n *Notification, state string) error {
	now := d.now().UTC()
	final := *n
	final.State, final.FinishedAt, final.LeaseOwner, final.LeaseUntil = state, &now, "", time.Time{}
	if _, err := d.db.C(colLog).InsertOne(ctx, final); err != nil && !store.IsDuplicate(err) {
		return fmt.Errorf("log notification: %w", err)
	}
	if _, err := d.db.C(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: n.ID}}); err != nil {
		return fmt.Errorf("clear outbox: %w", err)
	}
	return nil
}

// Run dispatches until ctx ends, polling every interval when idle.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration) {
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("push dispatch", "err", err)
		}
		if n > 0 && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Targets is the device registry the dispatcher sends to.
func (d *Dispatcher) Targets() *Targets { return d.targets }
