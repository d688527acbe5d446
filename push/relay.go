package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Relay turns durable records into notifications: the visit change log
// (with its own cursor, so nothing is missed and a crash repeats, never
// skips) and supervisor alerts. Dedupe keys derive from the records, so
// relaying the same record twice enqueues nothing new.
type Relay struct {
	db     *store.Store
	outbox *Outbox
	now    func() time.Time
	log    *slog.Logger
	// Delay lets a burst of office edits to one visit end in one notice.
	Delay time.Duration
}

// NewRelay returns a relay.
func NewRelay(db *store.Store, outbox *Outbox, now func() time.Time, log *slog.Logger) *Relay {
	return &Relay{db: db, outbox: outbox, now: now, log: log, Delay: time.Minute}
}

const metaRelay = "push.relay"

// workerUser is the worker's account, or nil if it has none: one read of
// an index, never a listing of every user.
func (r *Relay) workerUser(ctx context.Context, workerID string) (*schemas.User, error) {
	return found(r.db.Accounts.UserOfWorker(ctx, workerID))
}

// customerUser is the customer's account, or nil if it has none.
func (r *Relay) customerUser(ctx context.Context, customerID string) (*schemas.User, error) {
	return found(r.db.Accounts.UserOfCustomer(ctx, customerID))
}

func found(u *schemas.User, err error) (*schemas.User, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// RunOnce relays the change-log entries after its cursor and returns how
// many it read.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	// The meta counter holds cursor+1, so 0 means "never ran".
	stored, err := r.db.Meta.Int(ctx, metaRelay)
	if err != nil {
		return 0, err
	}
	if stored == 0 {
		// A new relay starts at the tail: the past is not news.
		tail, err := r.db.Changes.Tail(ctx)
		if err != nil {
			return 0, err
		}
		return 0, r.db.Meta.Raise(ctx, metaRelay, tail+1)
	}
	cursor := stored - 1
	changes, err := r.db.Changes.After(ctx, cursor, 200)
	if err != nil {
		return 0, err
	}
	if len(changes) == 0 {
		return 0, r.skipPruned(ctx, cursor)
	}
	for _, ch := range changes {
		if ch.Kind == store.ChangeVisits {
			for _, id := range ch.VisitIDs {
				if ch.Source == store.SourceSync {
					err = r.factsChanged(ctx, id)
				} else {
					err = r.visitChanged(ctx, id, ch.Seq)
				}
				if err != nil {
					return 0, err
				}
			}
		}
		if err := r.db.Meta.Raise(ctx, metaRelay, ch.Seq+1); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}

// skipPruned moves a cursor the log was pruned past up to the log's head:
// the log has no gaps, so an empty read after the cursor with a head above
// it means the entries were pruned unread (the relay was stopped for longer
// than the retention), and would otherwise stall the relay for ever. What
// is skipped is older than the retention: not news.
func (r *Relay) skipPruned(ctx context.Context, cursor int64) error {
	head, err := r.db.Changes.Head(ctx)
	if err != nil || head <= cursor+1 {
		return err
	}
	r.log.Warn("push relay: change-log entries pruned before they were relayed; skipped", "from", cursor+1, "to", head-1)
	return r.db.Meta.Raise(ctx, metaRelay, head)
}

// visitChanged tells the phones concerned to pull, and their owners what
// changed when the visit is within the next 48 hours.
func (r *Relay) visitChanged(ctx context.Context, visitID string, seq int64) error {
	v, err := r.db.Visits.Get(ctx, visitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	now := r.now().UTC()
	soon := v.ScheduledStart.After(now.Add(-time.Hour)) && v.ScheduledStart.Before(now.Add(48*time.Hour))
	workers := append([]string{v.WorkerID}, v.PastWorkerIDs...)
	for i, wid := range workers {
		if wid == "" || (i > 0 && slices.Contains(workers[:i], wid)) {
			continue
		}
		u, err := r.workerUser(ctx, wid)
		if err != nil {
			return err
		}
		if u == nil {
			continue
		}
		data := map[string]string{"visitId": v.ID, "version": fmt.Sprint(v.Version)}
		if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: fmt.Sprintf("pull/%s/%d/%s", v.ID, seq, u.ID), UserID: u.ID, Kind: "pull",
			VisitID: v.ID, Data: data, CollapseKey: CollapsePull, TTL: time.Hour}); err != nil {
			return err
		}
		if !soon {
			continue
		}
		kind := "visit_changed"
		switch {
		case wid != v.WorkerID:
			kind = "visit_reassigned_away"
		case v.Status == schemas.VisitCancelled:
			kind = "visit_cancelled"
		case v.Version == 1:
			kind = "visit_assigned"
		}
		// One pending notice per visit and person: a newer change replaces it.
		prefix := fmt.Sprintf("notice/%s/%s/", v.ID, u.ID)
		if _, err := r.outbox.Cancel(ctx, v.ID, prefix); err != nil {
			return err
		}
		loc, _ := schemas.LoadZone(v.TimeZone)
		title, body := text(u.Locale, kind, v.ScheduledStart.In(loc))
		if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: prefix + fmt.Sprint(seq), UserID: u.ID, Kind: kind, VisitID: v.ID,
			Data: map[string]string{"visitId": v.ID, "start": v.ScheduledStart.Format(time.RFC3339)}, Title: title, Body: body,
			CollapseKey: CollapseVisits, High: true, TTL: max(v.ScheduledEnd.Sub(now), time.Hour), NotBefore: now.Add(r.Delay)}); err != nil {
			return err
		}
	}
	return nil
}

// Collapse keys: FCM keeps at most four per device, so fieldsync uses four.
const (
	CollapsePull      = "pull"
	CollapseVisits    = "visits"
	CollapseAlerts    = "alerts"
	CollapseReminders = "reminders"
)

// factsChanged tells the customer what the worker's phone reported: on
// the way (with the ETA), arrived, a change of scope to agree to, done
// and ready for sign-off; and asks for feedback a day after sign-off. Each fact is told once: the key is
// the operation that reported it.
func (r *Relay) factsChanged(ctx context.Context, visitID string) error {
	v, err := r.db.Visits.Get(ctx, visitID)
	if err != nil {
		if schemas.ErrorCode(err) == schemas.ENOTFOUND {
			return nil
		}
		return err
	}
	if v.Status == schemas.VisitCancelled {
		return nil
	}
	if err := r.messagesChanged(ctx, v); err != nil {
		return err
	}
	u, err := r.customerUser(ctx, v.CustomerID)
	if u == nil || err != nil {
		return err
	}
	loc, _ := schemas.LoadZone(v.TimeZone)
	now := r.now().UTC()
	tell := func(key, kind string, at time.Time, notBefore time.Time, ttl time.Duration, high bool) error {
		title, body := text(u.Locale, kind, at.In(loc))
		_, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: key, UserID: u.ID, Kind: kind, VisitID: v.ID,
			Data: map[string]string{"visitId": v.ID, "at": at.Format(time.RFC3339)}, Title: title, Body: body,
			CollapseKey: CollapseVisits, High: high, TTL: ttl, NotBefore: notBefore})
		return err
	}
	f := v.Field
	if f.ETA != nil && f.CheckIn == nil {
		if err := tell("eta/"+v.ID+"/"+f.ETA.Format(time.RFC3339), "worker_on_the_way", *f.ETA, now, f.ETA.Sub(now)+time.Hour, true); err != nil {
			return err
		}
	}
	if f.CheckIn != nil {
		if err := tell("checkin/"+f.CheckIn.OpID, "worker_checked_in", f.CheckIn.At, now, 3*time.Hour, false); err != nil {
			return err
		}
	}
	// A change of scope not agreed at the door: the household is asked in
	// its app, once per change, at once (the worker waits at the door, so
	// quiet hours give way until the visit's end). No text of the worker.
	for _, c := range f.ScopeChanges {
		if c.State == schemas.ScopePending {
			if err := r.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "scope_change_requested", Key: "scope/" + c.ChangeID,
				VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone, Before: v.ScheduledEnd, Data: map[string]string{"changeId": c.ChangeID}}); err != nil {
				return err
			}
		}
	}
	if f.CheckOut != nil && f.SignOff == nil {
		if err := tell("checkout/"+f.CheckOut.OpID, "ready_for_signoff", f.CheckOut.At, now, 24*time.Hour, true); err != nil {
			return err
		}
	}
	if f.SignOff != nil {
		// A follow-up a day later, outside the customer's quiet hours.
		at := quiet(f.SignOff.At.Add(24*time.Hour), loc, time.Time{})
		if err := tell("followup/"+f.SignOff.OpID, "follow_up", f.SignOff.At, at, 6*24*time.Hour, false); err != nil {
			return err
		}
	}
	return nil
}

// Alert tells a team's supervisors about an alert; critical ones at high
// priority. Alerts of no team (escalations, configuration) go to the
// admins. It reads only those accounts, by role and team, never every
// user. It implements the sync engine's notifier.
func (r *Relay) Alert(ctx context.Context, a *schemas.Alert) error {
	if a.Kind == "incident" && a.VisitID != "" {
		if err := r.tellIncident(ctx, a); err != nil {
			return err
		}
	}
	if err := r.tellWaiting(ctx, a); err != nil {
		return err
	}
	f := store.UserFilter{Role: schemas.RoleSupervisor, Team: a.Team, Limit: 500}
	if a.Team == "" {
		f = store.UserFilter{Role: schemas.RoleAdmin, Limit: 500}
	}
	for {
		us, err := r.db.Accounts.ListUsers(ctx, f)
		if err != nil {
			return err
		}
		for _, u := range us {
			if u.Disabled {
				continue
			}
			title, body := text(u.Locale, "alert_"+a.Kind, time.Time{})
			if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: "alert/" + a.ID + "/" + u.ID, UserID: u.ID, Kind: "alert", VisitID: a.VisitID,
				Data:  map[string]string{"alertId": a.ID, "alertKind": a.Kind, "visitId": a.VisitID},
				Title: title, Body: body, High: a.Priority == "high", TTL: 24 * time.Hour, CollapseKey: CollapseAlerts}); err != nil {
				return err
			}
		}
		if len(us) < f.Limit {
			return nil
		}
		f.After = us[len(us)-1].ID
	}
}

// tellIncident tells the household that something happened during its
// visit: that it happened and when the visit was, never what the worker
// wrote. Keyed by the alert, whose id names the report.
func (r *Relay) tellIncident(ctx context.Context, a *schemas.Alert) error {
	v, err := r.db.Visits.Get(ctx, a.VisitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return r.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "incident_reported", Key: "incident/" + a.ID,
		VisitID: v.ID, At: v.ScheduledStart, TimeZone: v.TimeZone})
}

// TellCustomer tells a customer something about their complaint, once per
// key; a customer without an account is told nothing. It implements the
// office's customer teller.
func (r *Relay) TellCustomer(ctx context.Context, customerID, kind, key string, data map[string]string) error {
	u, err := r.customerUser(ctx, customerID)
	if u == nil || err != nil || u.Disabled {
		return err
	}
	title, body := text(u.Locale, kind, time.Time{})
	_, err = r.outbox.Enqueue(ctx, &Notification{DedupeKey: key + "/" + u.ID, UserID: u.ID, Kind: kind, Data: data,
		Title: title, Body: body, TTL: 7 * 24 * time.Hour})
	return err
}

// Tell tells a household what the office decided, once per key, in the
// account's language and outside its quiet hours (in the household's
// zone), unless waiting would pass n.Before. A customer without an
// account is told nothing. It implements the office's customer teller.
func (r *Relay) Tell(ctx context.Context, n schemas.CustomerNotice) error {
	u, err := r.customerUser(ctx, n.CustomerID)
	if u == nil || err != nil || u.Disabled {
		return err
	}
	loc, _ := schemas.LoadZone(n.TimeZone)
	now := r.now().UTC()
	at := quiet(now, loc, n.Before)
	if at.Before(now) {
		at = now
	}
	title, body := text(u.Locale, n.Kind, n.At.In(loc))
	data := map[string]string{}
	for k, v := range n.Data {
		data[k] = v
	}
	if n.VisitID != "" {
		data["visitId"] = n.VisitID
	}
	if !n.At.IsZero() {
		data["start"] = n.At.UTC().Format(time.RFC3339)
	}
	if n.Worker != nil {
		// The profile the customer's view of the visit shows, nothing more.
		b, err := json.Marshal(n.Worker)
		if err != nil {
			return fmt.Errorf("worker profile: %w", err)
		}
		data["worker"] = string(b)
		body = strings.ReplaceAll(body, "{worker}", n.Worker.Name)
	}
	if w := n.Data["weekdays"]; w != "" { // a schedule's notice
		body = strings.ReplaceAll(body, "{rhythm}", rhythm(u.Locale, w, n.Data["startTime"]))
	}
	body = strings.ReplaceAll(body, "{date}", n.Data["date"])
	ttl := 7 * 24 * time.Hour
	if !n.Before.IsZero() {
		ttl = max(n.Before.Sub(now), time.Hour)
	}
	collapse := ""
	if strings.HasPrefix(n.Kind, "visit_") && n.Kind != KindVisitMessage {
		collapse = CollapseVisits // only the latest decision about visits matters (a message is no decision)
	}
	_, err = r.outbox.Enqueue(ctx, &Notification{DedupeKey: "tell/" + n.Key + "/" + u.ID, UserID: u.ID, Kind: n.Kind, VisitID: n.VisitID,
		Data: data, Title: title, Body: body, CollapseKey: collapse, TTL: ttl, NotBefore: at, High: n.Urgent})
	return err
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context, every time.Duration) {
	for {
		n, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("push relay", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
