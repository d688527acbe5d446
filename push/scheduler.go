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

// RunOnce enqueues the reminders of visits in the next 50 hours (their
// keys name the start time, so a rescheduled visit gets new ones), removes
// reminders of visits moved or cancelled since, and raises late and missed
// check-in alerts.
func (s *Scheduler) RunOnce(ctx context.Context) error {
	now := s.now().UTC()
	if err := s.dropStale(ctx); err != nil {
		return err
	}
	vs, err := s.db.Visits.List(ctx, store.VisitFilter{From: now.Add(-2 * time.Hour), To: now.Add(50 * time.Hour)})
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return nil
	}
	ppl, err := s.relay.people(ctx)
	if err != nil {
		return err
	}
	for i := range vs {
		v := &vs[i]
		if v.Status == schemas.VisitCancelled || v.Status == schemas.VisitNoShow {
			continue
		}
		if err := s.remind(ctx, ppl, v, now); err != nil {
			return err
		}
		if err := s.lateness(ctx, v, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scheduler) remind(ctx context.Context, ppl *people, v *schemas.Visit, now time.Time) error {
	if !v.ScheduledStart.After(now) {
		return nil
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
		{ppl.byCustomer[v.CustomerID], "remind_customer_24h", v.ScheduledStart.Add(-24 * time.Hour), true},
		{ppl.byCustomer[v.CustomerID], "remind_customer_2h", v.ScheduledStart.Add(-2 * time.Hour), true},
		{ppl.byWorker[v.WorkerID], "remind_worker_evening", evening, false},
		{ppl.byWorker[v.WorkerID], "remind_worker_1h", v.ScheduledStart.Add(-time.Hour), false},
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

// dropStale removes waiting reminders of visits cancelled or moved.
func (s *Scheduler) dropStale(ctx context.Context) error {
	ns, err := s.outbox.waiting(ctx, "remind/")
	if err != nil {
		return err
	}
	for _, n := range ns {
		parts := strings.Split(n.DedupeKey, "/")
		if len(parts) != 4 || parts[0] != "remind" || n.LeaseOwner != "" {
			continue
		}
		start, _ := strconv.ParseInt(parts[3], 10, 64)
		v, err := s.db.Visits.Get(ctx, parts[1])
		if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
			return err
		}
		if v == nil || v.Status == schemas.VisitCancelled || v.ScheduledStart.Unix() != start {
			if _, err := s.outbox.s.Withdraw(ctx, &n); err != nil {
				return err
			}
		}
	}
	return nil
}

// lateness alerts supervisors 15 minutes after a start without check-in
// (late) and at 60 minutes (missed, high priority).
func (s *Scheduler) lateness(ctx context.Context, v *schemas.Visit, now time.Time) error {
	if v.Field.CheckIn != nil || !v.Status.BeforeArrival() || v.WorkerID == "" {
		return nil
	}
	for _, step := range []struct {
		kind, prio string
		after      time.Duration
	}{{"late", "normal", 15 * time.Minute}, {"missed", "high", time.Hour}} {
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
