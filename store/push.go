package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

// Collections of Push. Every notification is one document from enqueue to
// its final state: pending ones are the outbox, final ones the delivery
// log. The outbox is the range state=pending of the index "due", so a
// claim reads only what is due, however long the log grows.
const (
	colNotifications = "push_notifications"
	colTargets       = "push_targets"
)

// Indexes of push_notifications: only these three, since every index is
// written again by each of a notification's three writes (enqueue, claim,
// outcome), and those are the cost of delivery.
const (
	ixDue       = "due"   // (state, due): claims; all pending ones
	ixUserTime  = "user"  // (userId, createdAt): a user's, newest first
	ixVisitTime = "visit" // (visitId, createdAt): a visit's, newest first
)

// pushCollections are the collections Push writes.
var pushCollections = []doc.Collection{
	{Name: colNotifications, Indexes: []doc.Index{
		{Name: ixDue, Fields: []string{"state", "due"}},
		{Name: ixUserTime, Fields: []string{"userId", "createdAt"}},
		{Name: ixVisitTime, Fields: []string{"visitId", "createdAt"}},
	}},
	// One document per user holding their devices, read by id.
	{Name: colTargets},
}

// Push stores devices and the push outbox: targets, outbox, delivery log.
type Push struct{ s *Store }

// notificationDoc is a stored notification. Due is when it may next be
// claimed: its NotBefore, or the end of the lease it is under, whichever
// is later; so one range of one index finds both the new ones and those
// whose claimant died.
type notificationDoc struct {
	schemas.Notification `bson:",inline"`
	Due                  time.Time `bson:"due"`
}

func (n *notificationDoc) setDue() {
	n.Due = n.NotBefore
	if n.LeaseUntil.After(n.Due) {
		n.Due = n.LeaseUntil
	}
}

// ms is t in UTC at the store's precision, so a time written compares
// equal to the same time read back.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// prepare makes a new pending notification's document: n.ID must be set
// (derived from its cause); state, creation time and due time are the
// store's.
func (p *Push) prepare(n *schemas.Notification) (notificationDoc, error) {
	if n.ID == "" {
		return notificationDoc{}, fmt.Errorf("%w: notification without an id", doc.ErrInvalid)
	}
	n.State, n.CreatedAt, n.Attempts = schemas.NotificationPending, ms(p.s.now()), 0
	n.LeaseOwner, n.LeaseUntil, n.FinishedAt = "", time.Time{}, nil
	if n.NotBefore.IsZero() {
		n.NotBefore = n.CreatedAt
	}
	n.NotBefore = ms(n.NotBefore)
	if n.Data == nil {
		n.Data = map[string]string{}
	}
	d := notificationDoc{Notification: *n}
	d.setDue()
	return d, nil
}

// Enqueue stores a new pending notification, unless one with its id was
// enqueued before (pending or final): then it stores nothing and returns
// false.
func (p *Push) Enqueue(ctx context.Context, n *schemas.Notification) (bool, error) {
	d, err := p.prepare(n)
	if err != nil {
		return false, err
	}
	v, err := doc.Insert(ctx, p.s.engine, colNotifications, d)
	if errors.Is(err, doc.ErrDuplicate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue notification: %w", err)
	}
	n.Version = v
	return true, nil
}

// EnqueueMany is Enqueue of many notifications, in one batch (on SQLite
// one transaction), and returns how many it stored. When one of them was
// enqueued before, it enqueues them one at a time instead; on MongoDB the
// part of the batch written before the duplicate then counts as enqueued
// before.
func (p *Push) EnqueueMany(ctx context.Context, ns []*schemas.Notification) (int, error) {
	var b doc.Batch
	for _, n := range ns {
		d, err := p.prepare(n)
		if err != nil {
			return 0, err
		}
		b.Insert(colNotifications, d)
	}
	_, err := b.Apply(ctx, p.s.engine)
	if err == nil {
		for _, n := range ns {
			n.Version = 1
		}
		return len(ns), nil
	}
	if !errors.Is(err, doc.ErrDuplicate) {
		return 0, fmt.Errorf("enqueue notifications: %w", err)
	}
	added := 0
	for _, n := range ns {
		ok, err := p.Enqueue(ctx, n)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}

// Due returns up to limit pending notifications due now and not under a
// live lease, the longest due first: one range of the index "due".
func (p *Push) Due(ctx context.Context, limit int) ([]schemas.Notification, error) {
	page, err := p.s.engine.Scan(ctx, colNotifications, doc.Query{Index: ixDue,
		Eq: []any{schemas.NotificationPending}, Range: doc.Range{Lte: ms(p.s.now())}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("read due notifications: %w", err)
	}
	return notifications(page.Docs)
}

func notifications(docs []doc.Doc) ([]schemas.Notification, error) {
	out := make([]schemas.Notification, len(docs))
	for i, d := range docs {
		var nd notificationDoc
		if err := d.Decode(&nd); err != nil {
			return nil, err
		}
		out[i] = nd.Notification
		out[i].Version = d.Version
	}
	return out, nil
}

// Lease claims notifications read by Due for owner until now + lease: each
// by one write conditional on the version read, so of several claimants
// exactly one gets each. It returns those it got, with their new
// versions, and how many another claimant took (or finished) first.
func (p *Push) Lease(ctx context.Context, due []schemas.Notification, owner string, lease time.Duration) (claimed []schemas.Notification, lost int, err error) {
	until := ms(p.s.now().Add(lease))
	ws := make([]notificationDoc, len(due))
	for i, n := range due {
		ws[i] = notificationDoc{Notification: n}
		ws[i].LeaseOwner, ws[i].LeaseUntil = owner, until
		ws[i].setDue()
	}
	landed, err := p.replaceEach(ctx, ws, func(n *schemas.Notification) bool {
		return n.LeaseOwner == owner && n.LeaseUntil.Equal(until)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("claim notifications: %w", err)
	}
	for i, ok := range landed {
		if ok {
			claimed = append(claimed, ws[i].Notification)
		} else {
			lost++
		}
	}
	return claimed, lost, nil
}

// Record writes the outcome of sending leased notifications: pending ones
// wait for their NotBefore again, unleased; the others are final and
// stay as the delivery log. Each write is conditional on the version of
// the claim, so a dispatcher whose lease ran out and was taken over
// records nothing; it returns how many of ns that was.
func (p *Push) Record(ctx context.Context, ns []*schemas.Notification) (int, error) {
	now := ms(p.s.now())
	ws := make([]notificationDoc, len(ns))
	for i, n := range ns {
		d := notificationDoc{Notification: *n}
		d.LeaseOwner, d.LeaseUntil = "", time.Time{}
		d.NotBefore = ms(d.NotBefore)
		if d.State == schemas.NotificationPending {
			d.setDue()
		} else {
			d.FinishedAt, d.Due = &now, now
		}
		ws[i] = d
	}
	// A write by someone else, at the version after the claim, is a new
	// claim, which holds a lease; ours hold none.
	landed, err := p.replaceEach(ctx, ws, func(n *schemas.Notification) bool { return n.LeaseOwner == "" })
	if err != nil {
		return 0, fmt.Errorf("record notifications: %w", err)
	}
	lost := 0
	for i, ok := range landed {
		if ok {
			*ns[i] = ws[i].Notification
		} else {
			lost++
		}
	}
	return lost, nil
}

// replaceEach replaces each document of ws if its version is still
// ws[i].Version, and sets the new version there; it reports which
// landed. It writes in batches, one transaction on SQLite, but does not
// rely on a batch being atomic: when a write of a batch fails (someone
// else wrote that document), the writes before it may have landed
// (MongoDB) or not (SQLite), so it reads them back, tells its own by the
// version after the one it named and by ours, and writes again what did
// not land.
func (p *Push) replaceEach(ctx context.Context, ws []notificationDoc, ours func(*schemas.Notification) bool) ([]bool, error) {
	landed := make([]bool, len(ws))
	todo := make([]int, len(ws))
	for i := range ws {
		todo[i] = i
	}
	for len(todo) > 0 {
		var b doc.Batch
		for _, i := range todo {
			b.Replace(colNotifications, ws[i].Version, ws[i])
		}
		versions, err := b.Apply(ctx, p.s.engine)
		if err == nil {
			for k, i := range todo {
				landed[i], ws[i].Version = true, versions[k]
			}
			return landed, nil
		}
		var be *doc.BatchError
		if !errors.As(err, &be) || !errors.Is(err, doc.ErrVersion) && !errors.Is(err, doc.ErrNotFound) {
			return nil, err
		}
		before := todo[:be.Index]
		ids := make([]string, len(before))
		for k, i := range before {
			ids[k] = ws[i].ID
		}
		stored, err := p.s.engine.GetMany(ctx, colNotifications, ids)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]doc.Doc, len(stored))
		for _, d := range stored {
			byID[d.ID] = d
		}
		var again []int
		for _, i := range before {
			d, ok := byID[ws[i].ID]
			if !ok {
				continue // gone: finished and removed, or withdrawn
			}
			switch d.Version {
			case ws[i].Version:
				again = append(again, i)
			case ws[i].Version + 1:
				var n notificationDoc
				if err := d.Decode(&n); err != nil {
					return nil, err
				}
				if ours(&n.Notification) {
					landed[i], ws[i].Version = true, d.Version
				}
			}
		}
		todo = append(again, todo[be.Index+1:]...)
	}
	return landed, nil
}

// Pending returns the pending notifications of a visit (or of every
// visit, for "") whose dedupe key starts with prefix: a range of the
// visit's notifications, or of the pending ones, by due time.
func (p *Push) Pending(ctx context.Context, visitID, prefix string) ([]schemas.Notification, error) {
	q := doc.Query{Index: ixDue, Eq: []any{schemas.NotificationPending}, Limit: 500}
	if visitID != "" {
		q = doc.Query{Index: ixVisitTime, Eq: []any{visitID}, Limit: 500}
	}
	var out []schemas.Notification
	for {
		page, err := p.s.engine.Scan(ctx, colNotifications, q)
		if err != nil {
			return nil, fmt.Errorf("read pending notifications: %w", err)
		}
		ns, err := notifications(page.Docs)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if n.State == schemas.NotificationPending && strings.HasPrefix(n.DedupeKey, prefix) {
				out = append(out, n)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		q.After = page.Next
	}
}

// Withdraw removes a pending notification nobody has claimed since it was
// read (at n.Version), so that it is never sent. It reports whether it
// did.
func (p *Push) Withdraw(ctx context.Context, n *schemas.Notification) (bool, error) {
	err := p.s.engine.Delete(ctx, colNotifications, n.ID, n.Version)
	if errors.Is(err, doc.ErrVersion) || errors.Is(err, doc.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("withdraw notification: %w", err)
	}
	return true, nil
}

// Notifications returns a page of notifications of a visit, of a user or
// of both, pending and final, newest first, and the cursor of the next
// page ("" at the end). A cursor of another kind of list is ErrCursor.
func (p *Push) Notifications(ctx context.Context, visitID, userID, after string, limit int) ([]schemas.Notification, string, error) {
	q := doc.Query{Index: ixVisitTime, Eq: []any{visitID}, Desc: true, After: after}
	switch {
	case visitID != "":
		// With a user too, the visit's few are filtered by user.
	case userID != "":
		q.Index, q.Eq = ixUserTime, []any{userID}
	default:
		return nil, "", fmt.Errorf("%w: notifications of no visit and no user", doc.ErrInvalid)
	}
	out := []schemas.Notification{}
	for {
		// Never more than still wanted, so when the page is full the last
		// document read is its last, and the cursor resumes right there.
		q.Limit = limit - len(out)
		page, err := p.s.engine.Scan(ctx, colNotifications, q)
		if err != nil {
			return nil, "", fmt.Errorf("list notifications: %w", err)
		}
		ns, err := notifications(page.Docs)
		if err != nil {
			return nil, "", err
		}
		for _, n := range ns {
			if userID == "" || n.UserID == userID {
				out = append(out, n)
			}
		}
		if page.Next == "" || len(out) == limit {
			return out, page.Next, nil
		}
		q.After = page.Next
	}
}

// targetsDoc holds a user's devices: one document, read by id.
type targetsDoc struct {
	UserID  string               `bson:"_id"`
	Targets []schemas.PushTarget `bson:"targets"`
}

// Targets returns the user's devices.
func (p *Push) Targets(ctx context.Context, userID string) ([]schemas.PushTarget, error) {
	d, _, err := doc.Get[targetsDoc](ctx, p.s.engine, colTargets, userID)
	if errors.Is(err, doc.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	return d.Targets, nil
}

// RegisterTarget records or refreshes a device's token, stamped now: one
// token per device, and a token moved to another device leaves the old
// one.
func (p *Push) RegisterTarget(ctx context.Context, userID string, t schemas.PushTarget) error {
	t.UpdatedAt = ms(p.s.now())
	_, err := p.changeTargets(ctx, userID, true, func(ts []schemas.PushTarget) []schemas.PushTarget {
		ts = slices.DeleteFunc(ts, func(x schemas.PushTarget) bool { return x.DeviceID == t.DeviceID || x.Token == t.Token })
		return append(ts, t)
	})
	return err
}

// RemoveDevice forgets a device's token (logout).
func (p *Push) RemoveDevice(ctx context.Context, userID, deviceID string) error {
	_, err := p.changeTargets(ctx, userID, false, func(ts []schemas.PushTarget) []schemas.PushTarget {
		return slices.DeleteFunc(ts, func(x schemas.PushTarget) bool { return x.DeviceID == deviceID })
	})
	return err
}

// RemoveToken forgets a token and reports whether the user had it.
func (p *Push) RemoveToken(ctx context.Context, userID, token string) (bool, error) {
	return p.changeTargets(ctx, userID, false, func(ts []schemas.PushTarget) []schemas.PushTarget {
		return slices.DeleteFunc(ts, func(x schemas.PushTarget) bool { return x.Token == token })
	})
}

// LiveTargets returns the user's devices refreshed within maxAge, and
// forgets the older ones.
func (p *Push) LiveTargets(ctx context.Context, userID string, maxAge time.Duration) ([]schemas.PushTarget, error) {
	cutoff := p.s.now().Add(-maxAge)
	stale := func(x schemas.PushTarget) bool { return x.UpdatedAt.Before(cutoff) }
	ts, err := p.Targets(ctx, userID)
	if err != nil {
		return nil, err
	}
	live := slices.DeleteFunc(slices.Clone(ts), stale)
	if len(live) != len(ts) {
		if _, err := p.changeTargets(ctx, userID, false, func(ts []schemas.PushTarget) []schemas.PushTarget {
			return slices.DeleteFunc(ts, stale)
		}); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// changeTargets applies f to the user's devices with one conditional
// write (doc.Modify), creating the document if create is set (else a
// change that removes nothing writes nothing), and reports whether f
// changed their number.
func (p *Push) changeTargets(ctx context.Context, userID string, create bool, f func([]schemas.PushTarget) []schemas.PushTarget) (bool, error) {
	for {
		changed := false
		_, _, err := doc.Modify(ctx, p.s.engine, colTargets, userID, func(d *targetsDoc) error {
			next := f(slices.Clone(d.Targets))
			changed = len(next) != len(d.Targets)
			if !changed && !create {
				return errUnchanged // nothing to remove: no write
			}
			d.Targets = next
			return nil
		})
		if errors.Is(err, errUnchanged) {
			return false, nil
		}
		if !errors.Is(err, doc.ErrNotFound) {
			if err != nil {
				return false, fmt.Errorf("save devices: %w", err)
			}
			return changed, nil
		}
		if !create {
			return false, nil
		}
		d := targetsDoc{UserID: userID, Targets: f(nil)}
		if _, err := doc.Insert(ctx, p.s.engine, colTargets, d); !errors.Is(err, doc.ErrDuplicate) {
			if err != nil {
				return false, fmt.Errorf("save devices: %w", err)
			}
			return len(d.Targets) > 0, nil
		}
		// Someone created it meanwhile: change theirs.
	}
}

// Backlog counts the pending notifications due now and not under a live
// lease, up to max (a count of max means max or more), and returns when
// the longest due of them fell due (zero if none): the outbox's depth and
// how far behind it is, read from the range of the index "due" that claims
// read, without decoding more than its first document.
func (p *Push) Backlog(ctx context.Context, max int) (due int, oldest time.Time, err error) {
	q := doc.Query{Index: ixDue, Eq: []any{schemas.NotificationPending}, Range: doc.Range{Lte: ms(p.s.now())}, Limit: min(max, 1000)}
	for due < max {
		page, err := p.s.engine.Scan(ctx, colNotifications, q)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("read the outbox's backlog: %w", err)
		}
		if due == 0 && len(page.Docs) > 0 {
			var nd notificationDoc
			if err := page.Docs[0].Decode(&nd); err != nil {
				return 0, time.Time{}, err
			}
			oldest = nd.Due.UTC()
		}
		due += len(page.Docs)
		if page.Next == "" {
			break
		}
		q.After, q.Limit = page.Next, min(max-due, 1000)
	}
	return min(due, max), oldest, nil
}
