package push

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/store"
)

// Relay turns durable records into notifications: the visit change log
// (with its own cursor, so nothing is missed and a crash repeats, never
// skips) and supervisor alerts. Dedupe keys derive from the records, so
// relaying the same record twice enqueues nothing new.
type Relay struct {
	db     *store.DB
	outbox *Outbox
	now    func() time.Time
	log    *slog.Logger
	// Delay lets a burst of office edits to one visit end in one notice.
	Delay time.Duration
}

// NewRelay returns a relay.
func NewRelay(db *store.DB, outbox *Outbox, now func() time.Time, log *slog.Logger) *Relay {
	return &Relay{db: db, outbox: outbox, now: now, log: log, Delay: time.Minute}
}

const metaRelay = "push.relay"

// people maps workers to their accounts, and teams to their supervisors.
type people struct {
	byWorker    map[string]*schemas.User
	supervisors map[string][]*schemas.User
}

func (r *Relay) people(ctx context.Context) (*people, error) {
	p := &people{byWorker: map[string]*schemas.User{}, supervisors: map[string][]*schemas.User{}}
	after := ""
	for {
		us, err := r.db.ListUsers(ctx, store.UserFilter{After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for i := range us {
			u := &us[i]
			if u.Disabled {
				continue
			}
			if u.Role == schemas.RoleWorker && u.WorkerID != "" {
				p.byWorker[u.WorkerID] = u
			}
			if u.Role == schemas.RoleSupervisor && u.Team != "" {
				p.supervisors[u.Team] = append(p.supervisors[u.Team], u)
			}
		}
		if len(us) < 500 {
			return p, nil
		}
		after = us[len(us)-1].ID
	}
}

// RunOnce relays the change-log entries after its cursor and returns how
// many it read.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	// The meta counter holds cursor+1, so 0 means "never ran".
	stored, err := r.db.Meta(ctx, metaRelay)
	if err != nil {
		return 0, err
	}
	if stored == 0 {
		// A new relay starts at the tail: the past is not news.
		tail, err := r.db.ChangeTail(ctx)
		if err != nil {
			return 0, err
		}
		return 0, r.db.SetMeta(ctx, metaRelay, tail+1)
	}
	cursor := stored - 1
	changes, err := r.db.ChangesAfter(ctx, cursor, 200)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	var ppl *people
	for _, ch := range changes {
		if ch.Kind == store.ChangeVisits && ch.Source == store.SourceOffice {
			if ppl == nil {
				if ppl, err = r.people(ctx); err != nil {
					return 0, err
				}
			}
			for _, id := range ch.VisitIDs {
				if err := r.visitChanged(ctx, ppl, id, ch.Seq); err != nil {
					return 0, err
				}
			}
		}
		if err := r.db.SetMeta(ctx, metaRelay, ch.Seq+1); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}

// visitChanged tells the phones concerned to pull, and their owners what
// changed when the visit is within the next 48 hours.
func (r *Relay) visitChanged(ctx context.Context, ppl *people, visitID string, seq int64) error {
	v, err := r.db.VisitByID(ctx, visitID)
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
		u := ppl.byWorker[wid]
		if wid == "" || u == nil || (i > 0 && slices.Contains(workers[:i], wid)) {
			continue
		}
		data := map[string]string{"visitId": v.ID, "version": fmt.Sprint(v.Version)}
		if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: fmt.Sprintf("pull/%s/%d/%s", v.ID, seq, u.ID), UserID: u.ID, Kind: "pull",
			VisitID: v.ID, Data: data, CollapseKey: "pull", TTL: time.Hour}); err != nil {
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
			CollapseKey: "visit-" + v.ID, High: true, TTL: max(time.Until(v.ScheduledEnd), time.Hour), NotBefore: now.Add(r.Delay)}); err != nil {
			return err
		}
	}
	return nil
}

// Alert tells a team's supervisors about an alert; critical ones at high
// priority. It implements the sync engine's notifier.
func (r *Relay) Alert(ctx context.Context, a *schemas.Alert) error {
	ppl, err := r.people(ctx)
	if err != nil {
		return err
	}
	for _, u := range ppl.supervisors[a.Team] {
		title, body := text(u.Locale, "alert_"+a.Kind, time.Time{})
		if _, err := r.outbox.Enqueue(ctx, &Notification{DedupeKey: "alert/" + a.ID + "/" + u.ID, UserID: u.ID, Kind: "alert", VisitID: a.VisitID,
			Data:  map[string]string{"alertId": a.ID, "alertKind": a.Kind, "visitId": a.VisitID},
			Title: title, Body: body, High: a.Priority == "high", TTL: 24 * time.Hour, CollapseKey: "alert-" + a.VisitID}); err != nil {
			return err
		}
	}
	return nil
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
