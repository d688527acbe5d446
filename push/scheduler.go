package push

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Quiet hours for customers' non-urgent messages, in their own zone.
const (
	QuietFrom = 21 // 21:00
	QuietTo   = 8  // 08:00
)

// quiet moves t out of the quiet hours of loc: to 08:00, or, if that is
// not before deadline (when given), to 20:55 the evening before.
func quiet(t time.Time, loc *time.Location, deadline time.Time) time.Time {
	l := t.In(loc)
	if l.Hour() >= QuietTo && l.Hour() < QuietFrom {
		return t
	}
	morning := time.Date(l.Year(), l.Month(), l.Day(), QuietTo, 0, 0, 0, loc)
	if l.Hour() >= QuietFrom {
		morning = morning.AddDate(0, 0, 1)
	}
	if deadline.IsZero() || morning.Before(deadline) {
		return morning.UTC()
	}
	evening := time.Date(morning.Year(), morning.Month(), morning.Day()-1, QuietFrom-1, 55, 0, 0, loc)
	return evening.UTC()
}

// Scheduler sends what time, not a change, brings: reminders before
// visits and alerts when a worker has not checked in.
type Scheduler struct {
	db     *store.Store
	outbox *Outbox
	relay  *Relay
	now    func() time.Time
	log    *slog.Logger
}

// NewScheduler returns a scheduler.
func NewScheduler(db *store.Store, outbox *Outbox, relay *Relay, now func() time.Time, log *slog.Logger) *Scheduler {
	return &Scheduler{db: db, outbox: outbox, relay: relay, now: now, log: log}
}

func reminderKey(visitID, kind string, start time.Time) string {
	return fmt.Sprintf("remind/%s/%s/%d", visitID, kind, start.Unix())
}

// Meta keys of the scheduler: the time (unix ms) up to which its last
// pass looked (0: never ran), and its cursor in the change log, plus one.
const (
	metaSchedWatermark = "push.scheduler.at"
	metaSchedChanges   = "push.scheduler.changes"
)

// Horizon is how far ahead reminders are planned.
const Horizon = 50 * time.Hour

// lateLookback is how long after its start a visit can still raise a
// lateness alert, when the scheduler was down meanwhile.
const lateLookback = 2 * time.Hour

// RunOnce plans incrementally: it reads only the visits that entered the
// 50-hour horizon since the last pass (a range of the start index from the
// watermark kept in Meta), the visits that changed since (its own cursor
// in the change log), whose stale reminders it withdraws, and the visits
// whose late (15 minutes) or missed (60 minutes) mark passed since. The
// first pass plans the whole horizon. Reminder keys name the start time
// and alerts' ids their cause, so two instances planning the same visit
// enqueue nothing twice, and Meta.Raise never moves the marks back.
func (s *Scheduler) RunOnce(ctx context.Context) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := s.certificates(ctx, now); err != nil {
		return err
	}
	last, err := s.db.Meta.Int(ctx, metaSchedWatermark)
	if err != nil {
		return err
	}
	cursor, err := s.db.Meta.Int(ctx, metaSchedChanges)
	if err != nil {
		return err
	}
	head, err := s.db.Changes.Head(ctx)
	if err != nil {
		return err
	}
	if pruned := cursor > 0 && cursor-1 < head-1; last == 0 || cursor == 0 || pruned {
		// First pass: the change log's past is covered by planning the
		// whole horizon. Read the tail first, so a change made during the
		// pass is followed by the next. When the log was pruned past the
		// cursor (the scheduler was off longer than the log is kept), the
		// changes missed are unknown: check every waiting reminder once.
		tail, err := s.db.Changes.Tail(ctx)
		if err != nil {
			return err
		}
		if pruned {
			if err := s.dropStaleAll(ctx); err != nil {
				return err
			}
		}
		if err := s.plan(ctx, now, store.VisitFilter{From: now.Add(-lateLookback), To: now.Add(Horizon)}, allSteps); err != nil {
			return err
		}
		if err := s.db.Meta.Raise(ctx, metaSchedChanges, tail+1); err != nil {
			return err
		}
		return s.db.Meta.Raise(ctx, metaSchedWatermark, now.UnixMilli())
	}
	if err := s.followChanges(ctx, now, cursor-1); err != nil {
		return err
	}
	prev := time.UnixMilli(last).UTC()
	if !now.After(prev) {
		return nil // another instance has just looked this far
	}
	// Windows are [from, to) of the start: what the last pass did not see.
	if err := s.plan(ctx, now, store.VisitFilter{From: prev.Add(Horizon), To: now.Add(Horizon)}, nil); err != nil {
		return err
	}
	for _, st := range allSteps {
		// A visit reaches the step's mark when start+after <= now.
		from := prev.Add(-st.after).Add(time.Millisecond)
		if lb := now.Add(-lateLookback); from.Before(lb) {
			from = lb
		}
		to := now.Add(-st.after).Add(time.Millisecond)
		if !from.Before(to) {
			continue
		}
		if err := s.plan(ctx, now, store.VisitFilter{From: from, To: to}, []step{st}); err != nil {
			return err
		}
	}
	return s.db.Meta.Raise(ctx, metaSchedWatermark, now.UnixMilli())
}

// plan reminds the visits of f's range, and checks the lateness steps of
// those that started.
func (s *Scheduler) plan(ctx context.Context, now time.Time, f store.VisitFilter, steps []step) error {
	f.Limit = 500
	for {
		vs, err := s.db.Visits.List(ctx, f)
		if err != nil {
			return err
		}
		if err := s.planVisits(ctx, now, vs, steps, 0); err != nil {
			return err
		}
		if len(vs) < f.Limit {
			return nil
		}
		f.After = store.VisitCursor(&vs[len(vs)-1])
	}
}

// followChanges re-plans the visits changed after the cursor: their stale
// reminders withdrawn, new ones planned, lateness checked.
func (s *Scheduler) followChanges(ctx context.Context, now time.Time, cursor int64) error {
	for {
		changes, err := s.db.Changes.After(ctx, cursor, 200)
		if err != nil || len(changes) == 0 {
			return err
		}
		var ids []string
		seen := map[string]bool{}
		for _, ch := range changes {
			if ch.Kind != store.ChangeVisits {
				continue
			}
			for _, id := range ch.VisitIDs {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		if err := s.replan(ctx, now, ids, 0); err != nil {
			return err
		}
		cursor = changes[len(changes)-1].Seq
		if err := s.db.Meta.Raise(ctx, metaSchedChanges, cursor+1); err != nil {
			return err
		}
		if len(changes) < 200 {
			return nil
		}
	}
}

// replan withdraws the stale reminders of the visits and plans them anew.
func (s *Scheduler) replan(ctx context.Context, now time.Time, ids []string, depth int) error {
	if len(ids) == 0 {
		return nil
	}
	vs, err := s.db.Visits.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	byID := map[string]*schemas.Visit{}
	for i := range vs {
		byID[vs[i].ID] = &vs[i]
	}
	for _, id := range ids {
		if err := s.dropStale(ctx, id, byID[id]); err != nil {
			return err
		}
	}
	var in []schemas.Visit
	for i := range vs {
		if st := vs[i].ScheduledStart; !st.Before(now.Add(-lateLookback)) && st.Before(now.Add(Horizon)) {
			in = append(in, vs[i])
		}
	}
	return s.planVisits(ctx, now, in, allSteps, depth)
}

// planVisits enqueues the reminders of vs and checks their lateness steps.
// The visits were read before: if one changed meanwhile, what was planned
// from the old read may be stale, and the change may already have been
// followed (by another instance) before that plan landed. So after
// planning, the visits are read again, and those that moved on are
// re-planned from what is stored now; a change after that re-read is
// logged after the plans landed, and whoever follows it sees them. A visit
// changing all the time is left, after a few rounds, to the next pass.
func (s *Scheduler) planVisits(ctx context.Context, now time.Time, vs []schemas.Visit, steps []step, depth int) error {
	if len(vs) == 0 {
		return nil
	}
	for i := range vs {
		v := &vs[i]
		if v.Status == schemas.VisitCancelled || v.Status == schemas.VisitNoShow {
			continue
		}
		if err := s.remind(ctx, v, now); err != nil {
			return err
		}
		if err := s.lateness(ctx, v, now, steps); err != nil {
			return err
		}
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].ID
	}
	again, err := s.db.Visits.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	rev := map[string]int64{}
	for i := range again {
		rev[again[i].ID] = again[i].Version
	}
	var moved []string
	for i := range vs {
		if r, ok := rev[vs[i].ID]; !ok || r != vs[i].Version {
			moved = append(moved, vs[i].ID)
		}
	}
	if len(moved) == 0 || depth >= 3 {
		return nil
	}
	return s.replan(ctx, now, moved, depth+1)
}

func (s *Scheduler) remind(ctx context.Context, v *schemas.Visit, now time.Time) error {
	if !v.ScheduledStart.After(now) {
		return nil
	}
	worker, err := s.relay.workerUser(ctx, v.WorkerID)
	if err != nil {
		return err
	}
	customer, err := s.relay.customerUser(ctx, v.CustomerID)
	if err != nil {
		return err
	}
	loc, _ := schemas.LoadZone(v.TimeZone)
	first := ""
	photo := ""
	if v.WorkerID != "" {
		if w, err := s.db.Office.Worker(ctx, v.WorkerID); err == nil {
			first, photo = firstName(w.Name), w.PhotoRef
		}
	}
	type plan struct {
		user  *schemas.User
		kind  string
		at    time.Time
		quiet bool
	}
	day := v.ScheduledStart.In(loc)
	evening := time.Date(day.Year(), day.Month(), day.Day()-1, 19, 0, 0, 0, loc)
	plans := []plan{
		{customer, "remind_customer_24h", v.ScheduledStart.Add(-24 * time.Hour), true},
		{customer, "remind_customer_2h", v.ScheduledStart.Add(-2 * time.Hour), true},
		{worker, "remind_worker_evening", evening, false},
		{worker, "remind_worker_1h", v.ScheduledStart.Add(-time.Hour), false},
	}
	for _, p := range plans {
		if p.user == nil || p.at.Before(now.Add(-10*time.Minute)) {
			continue // no account, or too late to be useful
		}
		at := p.at
		if at.Before(now) {
			at = now
		}
		if p.quiet {
			at = quiet(at, loc, v.ScheduledStart)
		}
		if !at.Before(v.ScheduledStart) {
			continue
		}
		title, body := text(p.user.Locale, p.kind, v.ScheduledStart.In(loc))
		data := map[string]string{"visitId": v.ID, "start": v.ScheduledStart.Format(time.RFC3339)}
		if strings.HasPrefix(p.kind, "remind_customer") && first != "" {
			data["workerFirstName"], data["workerPhotoRef"] = first, photo
		}
		_, err := s.outbox.Enqueue(ctx, &Notification{DedupeKey: reminderKey(v.ID, p.kind, v.ScheduledStart), UserID: p.user.ID, Kind: p.kind,
			VisitID: v.ID, Data: data, Title: title, Body: body, CollapseKey: CollapseReminders, TTL: v.ScheduledStart.Sub(at), NotBefore: at})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropStale withdraws the waiting reminders of a changed visit that no
// longer hold: the visit is gone or cancelled, or starts at another time.
// It reads only that visit's notifications.
func (s *Scheduler) dropStale(ctx context.Context, visitID string, v *schemas.Visit) error {
	ns, err := s.outbox.s.Pending(ctx, visitID, "remind/")
	if err != nil {
		return err
	}
	for _, n := range ns {
		parts := strings.Split(n.DedupeKey, "/")
		if len(parts) != 4 || parts[0] != "remind" || n.LeaseOwner != "" {
			continue
		}
		start, _ := strconv.ParseInt(parts[3], 10, 64)
		if v == nil || v.Status == schemas.VisitCancelled || v.ScheduledStart.Unix() != start {
			if _, err := s.outbox.s.Withdraw(ctx, &n); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropStaleAll is dropStale of every visit with a waiting reminder.
func (s *Scheduler) dropStaleAll(ctx context.Context) error {
	ns, err := s.outbox.waiting(ctx, "remind/")
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, n := range ns {
		if n.VisitID == "" || done[n.VisitID] {
			continue
		}
		done[n.VisitID] = true
		v, err := s.db.Visits.Get(ctx, n.VisitID)
		if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
			return err
		}
		if err := s.dropStale(ctx, n.VisitID, v); err != nil {
			return err
		}
	}
	return nil
}

// step is a lateness alert: raised when a visit has no check-in this long
// after its start.
type step struct {
	kind, prio string
	after      time.Duration
}

// allSteps: late at 15 minutes, missed (high priority) at 60.
var allSteps = []step{{"late", "normal", 15 * time.Minute}, {"missed", "high", time.Hour}}

// lateness alerts supervisors of the steps passed without a check-in.
func (s *Scheduler) lateness(ctx context.Context, v *schemas.Visit, now time.Time, steps []step) error {
	if v.Field.CheckIn != nil || atTheDoor(v) || !v.Status.BeforeArrival() || v.WorkerID == "" {
		return nil
	}
	for _, step := range steps {
		if now.Before(v.ScheduledStart.Add(step.after)) {
			continue
		}
		a := &schemas.Alert{ID: uuid.NewSHA1(nsPush, []byte(fmt.Sprintf("%s/%s/%d", step.kind, v.ID, v.ScheduledStart.Unix()))).String(),
			Kind: step.kind, Team: v.Team, VisitID: v.ID, WorkerID: v.WorkerID, Priority: step.prio,
			Detail: "no check-in by " + v.ScheduledStart.Add(step.after).Format(time.RFC3339), CreatedAt: now}
		if _, err := s.db.Cases.RecordAlert(ctx, a); err != nil {
			return err
		}
		if err := s.relay.Alert(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// Run schedules every interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context, every time.Duration) {
	for {
		if err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("push scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// firstName is the given name: Chinese names put the family name first
// (one character, for the common surnames); others the given name first.
func firstName(name string) string {
	rs := []rune(strings.TrimSpace(name))
	if len(rs) >= 2 && rs[0] > 0x2E80 {
		return string(rs[1:])
	}
	if i := strings.IndexByte(string(rs), ' '); i > 0 {
		return string(rs)[:i]
	}
	return string(rs)
}
