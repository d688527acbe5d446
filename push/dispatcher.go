package push

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Metrics count what the dispatcher did.
type Metrics struct {
	Sent, Failed, Retried, Dropped, TokensRemoved atomic.Int64
}

// Observer watches deliveries for the program's metrics (push imports no
// metrics library). channel is the Sender's Name.
type Observer interface {
	// Delivered is called once per notification and pass with its
	// outcome: sent, failed, retried or dropped.
	Delivered(channel, kind, outcome string)
	// SendFailed is called once per message the channel refused, with the
	// channel's error code.
	SendFailed(channel, code string)
	// TokenRemoved is called once per dead token forgotten.
	TokenRemoved(channel string)
}

// Dispatcher sends due notifications. Several dispatchers (one per server
// instance) can run on one store: each notification is claimed with a
// lease by one of them, and a claim left by a dispatcher that died runs
// out and is taken by another.
type Dispatcher struct {
	db          *store.Store
	outbox      OutboxStore
	targets     *Targets
	sender      Sender
	owner       string
	now         func() time.Time
	log         *slog.Logger
	Lease       time.Duration
	MaxAttempts int
	Batch       int
	Metrics     Metrics
	Observer    Observer    // nil: none
	SMS         *SMSChannel // nil: no SMS
	rng         *rand.Rand

	abandoned   context.Context // ends when Abandon is called
	abandon     context.CancelFunc
	beforeLease func() // tests: runs between reading the due notifications and leasing them
}

// NewDispatcher returns a dispatcher named owner (unique per instance).
func NewDispatcher(db *store.Store, targets *Targets, sender Sender, owner string, now func() time.Time, log *slog.Logger) *Dispatcher {
	abandoned, abandon := context.WithCancel(context.Background())
	return &Dispatcher{db: db, outbox: db.Push, targets: targets, sender: sender, owner: owner, now: now, log: log,
		Lease: time.Minute, MaxAttempts: 12, Batch: 2000, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		abandoned: abandoned, abandon: abandon}
}

// Claim leases up to Batch due notifications. It returns those it leased
// and how many of the due ones it read another instance leased first:
// nothing claimed with lost > 0 is a race lost, not an empty queue, and the
// caller should look again at once.
//
// The due notifications are one range of the store's index on (state, due
// time), where a lease that ran out is due again; each lease is one write
// conditional on the version read, so of several instances exactly one
// wins each notification, on either engine.
func (d *Dispatcher) Claim(ctx context.Context) (claimed []Notification, lost int, err error) {
	due, err := d.outbox.Due(ctx, d.Batch)
	if err != nil || len(due) == 0 {
		return nil, 0, err
	}
	if d.beforeLease != nil {
		d.beforeLease()
	}
	return d.outbox.Lease(ctx, due, d.owner, d.Lease)
}

// RunOnce claims due notifications, sends them and records the outcomes.
// It returns how many it claimed and how many due ones another instance
// claimed first (see Claim).
func (d *Dispatcher) RunOnce(ctx context.Context) (claimed, lost int, err error) {
	ns, lost, err := d.Claim(ctx)
	if err != nil || len(ns) == 0 {
		return len(ns), lost, err
	}
	return len(ns), lost, d.deliver(ctx, ns)
}

// sendBatch is the most messages one Send takes (FCM's SendEach).
const sendBatch = 500

// deliver sends claimed notifications and records the outcomes, in groups
// of whole notifications of at most sendBatch messages: the outcomes of a
// group are written while the next group is being sent.
func (d *Dispatcher) deliver(ctx context.Context, ns []Notification) error {
	targets := make([][]Target, len(ns))
	why := make([]string, len(ns)) // why a notification has no target
	live := map[string][]Target{}
	recips := map[string]*smsRecipient{}
	for i := range ns {
		n := &ns[i]
		if n.Channel == ChannelSMS || d.smsFor(n) {
			if d.SMS == nil {
				why[i] = "no SMS channel configured"
				continue
			}
			r, err := d.recipient(ctx, recips, n.UserID)
			if err != nil {
				return err
			}
			if n.Channel == ChannelSMS {
				why[i], err = d.smsTarget(ctx, n, r, &targets[i])
				if err != nil {
					return err
				}
				continue
			}
			if r.phone != "" && r.channel == ChannelSMS {
				why[i] = "the recipient wants SMS"
				continue
			}
		}
		ts, ok := live[ns[i].UserID]
		if !ok {
			var err error
			if ts, err = d.targets.Live(ctx, ns[i].UserID); err != nil {
				return err
			}
			live[ns[i].UserID] = ts
		}
		for _, t := range ts {
			if !slices.Contains(ns[i].SentTokens, t.Token) { // FCM accepted it already: never again
				targets[i] = append(targets[i], t)
			}
		}
	}
	var recording chan error // the previous group's outcomes being written
	wait := func() error {
		if recording == nil {
			return nil
		}
		err := <-recording
		recording = nil
		return err
	}
	for start := 0; start < len(ns); {
		end, msgs := start, 0
		for end < len(ns) && (end == start || msgs+len(targets[end]) <= sendBatch) {
			msgs += len(targets[end])
			end++
		}
		done, err := d.send(ctx, ns[start:end], targets[start:end], why[start:end], recips)
		if err := errors.Join(err, wait()); err != nil {
			return err
		}
		recording = make(chan error, 1)
		go func() { recording <- d.record(ctx, done) }()
		start = end
	}
	return wait()
}

// send sends a group of notifications to their targets, and returns them
// with their outcomes set, to be recorded.
func (d *Dispatcher) send(ctx context.Context, ns []Notification, targets [][]Target, why []string, recips map[string]*smsRecipient) ([]*Notification, error) {
	type slot struct{ n, msg int }
	var msgs []Message
	var slots []slot
	for i := range ns {
		for _, t := range targets[i] {
			slots = append(slots, slot{i, len(msgs)})
			msgs = append(msgs, Message{N: &ns[i], Target: t})
		}
	}
	results := make([]Result, len(msgs))
	var push, text []int
	for i, m := range msgs {
		if m.N.Channel == ChannelSMS {
			text = append(text, i)
		} else {
			push = append(push, i)
		}
	}
	sendVia(ctx, d.sender, msgs, push, results)
	if len(text) > 0 {
		sendVia(ctx, d.SMS.Sender, msgs, text, results)
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
			tok := m.Target.Token
			if m.N.Channel == ChannelSMS {
				tok = ChannelSMS // never the phone number in the outbox
			}
			ns[s.n].SentTokens = append(ns[s.n].SentTokens, tok)
		case r.Permanent:
			d.sendFailed(r)
			o.permanent++
			o.lastErr = r.Err.Error()
			if r.Unregistered {
				// Counted per token, however many messages it failed.
				removed, err := d.targets.RemoveToken(ctx, m.N.UserID, m.Target.Token)
				if err != nil {
					return nil, err
				}
				if removed {
					d.Metrics.TokensRemoved.Add(1)
					if d.Observer != nil {
						d.Observer.TokenRemoved(d.sender.Name())
					}
				}
			}
			if r.Config {
				d.log.Error("push configuration error: notifications cannot be delivered until it is fixed", "sender", d.sender.Name(), "err", r.Err)
				// An alert for admins (no team), one per day and error kind.
				a := &schemas.Alert{ID: uuid.NewSHA1(nsPush, []byte("config/"+d.now().UTC().Format("2006-01-02")+"/"+r.Err.Error())).String(),
					Kind: "push_config_error", Priority: "high", Detail: r.Err.Error(), CreatedAt: d.now().UTC()}
				if _, err := d.db.Cases.RecordAlert(ctx, a); err != nil {
					return nil, err
				}
			}
		default:
			d.sendFailed(r)
			o.transient++
			o.lastErr = r.Err.Error()
			o.retryAfter = max(o.retryAfter, r.RetryAfter)
		}
	}
	done := make([]*Notification, 0, len(ns))
	for i := range ns {
		n, o := &ns[i], outs[i]
		if n.Attempts == 0 {
			n.FirstTry = d.now().UTC()
		}
		n.Attempts++
		if o.lastErr != "" {
			n.LastError = o.lastErr
		}
		outcome := ""
		switch {
		case o.transient > 0 && n.Attempts < d.MaxAttempts:
			d.Metrics.Retried.Add(1)
			n.NotBefore = d.now().UTC().Add(d.backoff(n.Attempts, o.retryAfter))
			outcome = "retried"
		case len(n.SentTokens) > 0:
			d.Metrics.Sent.Add(1)
			n.State, outcome = StateSent, "sent"
		case len(targets[i]) == 0 && o.permanent == 0:
			d.Metrics.Dropped.Add(1)
			n.LastError, n.State, outcome = cmp.Or(why[i], "no device to send to"), StateDropped, "dropped"
		default:
			d.Metrics.Failed.Add(1)
			n.State, outcome = StateFailed, "failed"
		}
		if d.Observer != nil {
			channel := d.sender.Name()
			if n.Channel == ChannelSMS {
				channel = d.SMS.Sender.Name()
			}
			d.Observer.Delivered(channel, n.Kind, outcome)
		}
		// What FCM could not deliver (no device, a dead token, still
		// retrying past SMS.After), or what the recipient wants by SMS
		// too, goes by SMS.
		if r := recips[n.UserID]; r != nil && d.smsFor(n) && (outcome == "dropped" || outcome == "failed" || r.channel == ChannelBoth ||
			outcome == "retried" && d.SMS.After > 0 && !d.now().Before(n.FirstTry.Add(d.SMS.After))) {
			if err := d.fallBack(ctx, n, r); err != nil {
				return nil, err
			}
		}
		done = append(done, n)
	}
	return done, nil
}

// sendVia sends the messages at the indexes through one channel, in
// batches of sendBatch, and puts the results at the same indexes.
func sendVia(ctx context.Context, s Sender, msgs []Message, idx []int, results []Result) {
	for start := 0; start < len(idx); start += sendBatch {
		part := idx[start:min(start+sendBatch, len(idx))]
		batch := make([]Message, len(part))
		for j, i := range part {
			batch[j] = msgs[i]
		}
		for j, r := range s.Send(ctx, batch) {
			results[part[j]] = r
		}
	}
}

func (d *Dispatcher) sendFailed(r Result) {
	if d.Observer != nil {
		code := r.Code
		if code == "" {
			code = "UNKNOWN"
		}
		d.Observer.SendFailed(d.sender.Name(), code)
	}
}

// backoff is exponential from 10 s, capped at an hour, with jitter, and
// never shorter than the channel asked for.
func (d *Dispatcher) backoff(attempts int, asked time.Duration) time.Duration {
	b := 10 * time.Second << min(attempts-1, 9)
	b = min(b, time.Hour)
	b += time.Duration(d.rng.Int64N(int64(b)/5 + 1))
	return max(b, asked)
}

// record writes the outcomes: retries wait again unleased, the others
// are final and stay as the delivery log; one batch for the pass. A
// notification whose lease ran out and that another instance claimed
// meanwhile is theirs now: this pass records nothing of it.
func (d *Dispatcher) record(ctx context.Context, ns []*Notification) error {
	if len(ns) == 0 {
		return nil
	}
	lost, err := d.outbox.Record(ctx, ns)
	if err != nil {
		return err
	}
	if lost > 0 {
		d.log.Warn("push: leases ran out before the outcomes were recorded; another instance sends those again", "notifications", lost)
	}
	return nil
}

// Run dispatches until ctx ends, polling every interval when idle and at
// once after a lost race. A pass under way when ctx ends is finished on a
// context detached from ctx, so what FCM accepted is recorded and a
// graceful restart sends nothing twice; Abandon cuts such a pass short.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration) {
	pass, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(d.abandoned, cancel)()
	for ctx.Err() == nil {
		n, lost, err := d.RunOnce(pass)
		switch {
		case err != nil && pass.Err() != nil:
			d.log.Warn("push pass abandoned at shutdown; what it had claimed is sent again when its lease runs out", "err", err)
		case err != nil:
			d.log.Error("push dispatch", "err", err)
		case n > 0 || lost > 0:
			continue // more may be due; a lost race is not an empty queue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Abandon cuts short a pass that Run is finishing after its ctx ended: the
// shutdown deadline has passed. Sends it had under way may have reached
// FCM without being recorded; once their lease runs out another instance
// sends them again, and the app drops the copy by notificationId.
func (d *Dispatcher) Abandon() { d.abandon() }

// Snapshot returns the counters by name.
func (m *Metrics) Snapshot() map[string]int64 {
	return map[string]int64{"sent": m.Sent.Load(), "failed": m.Failed.Load(), "retried": m.Retried.Load(),
		"dropped": m.Dropped.Load(), "tokensRemoved": m.TokensRemoved.Load()}
}

// Targets is the device registry the dispatcher sends to.
func (d *Dispatcher) Targets() *Targets { return d.targets }
