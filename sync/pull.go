package sync

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Scope of a worker's phone: visits from yesterday to 14 days ahead, in
// the company's calendar.
const (
	ScopeBack  = 1
	ScopeAhead = 14
)

// Cursor is where a phone is in the change log. It is opaque to phones.
type Cursor struct {
	Seq     int64  // last change-log entry seen
	Day     string // the day the phone's window was last computed for
	Catalog int64  // newest catalog change seen (unix ms)
}

func (c Cursor) String() string {
	raw := fmt.Sprintf("1|%d|%s|%d", c.Seq, c.Day, c.Catalog)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor reads a cursor made by String.
func ParseCursor(s string) (Cursor, error) {
	bad := schemas.FieldError("cursor", "not a cursor this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[0] != "1" {
		return Cursor{}, bad
	}
	var c Cursor
	if c.Seq, err = strconv.ParseInt(parts[1], 10, 64); err != nil || c.Seq < 0 {
		return Cursor{}, bad
	}
	if parts[2] != "" {
		if _, err := time.Parse(schemas.DateLayout, parts[2]); err != nil {
			return Cursor{}, bad
		}
	}
	c.Day = parts[2]
	if c.Catalog, err = strconv.ParseInt(parts[3], 10, 64); err != nil {
		return Cursor{}, bad
	}
	return c, nil
}

// Viewer shapes a visit for the phone that pulls it (the address window,
// the household): the office's access rules, reused.
type Viewer interface {
	ViewVisit(ctx context.Context, a *schemas.Actor, v *schemas.Visit) (any, error)
}

// Removal tells a phone to drop a visit, and why. Phones are never wiped:
// only what left their scope is removed, one visit at a time.
type Removal struct {
	VisitID string `json:"visitId"`
	Reason  string `json:"reason"` // cancelled, reassigned, out_of_window
}

// PullResponse is one page of changes.
type PullResponse struct {
	Cursor       string                `json:"cursor"`
	HasMore      bool                  `json:"hasMore"`          // pull again at once with the new cursor
	Resync       bool                  `json:"resync,omitempty"` // a full snapshot: replace local visits with these
	ResyncReason string                `json:"resyncReason,omitempty"`
	Visits       []any                 `json:"visits"`
	Removed      []Removal             `json:"removed"`
	ServiceTypes []schemas.ServiceType `json:"serviceTypes,omitempty"` // the whole active catalog, when it changed
	Incidents    []schemas.Incident    `json:"incidents"`
	ServerTime   time.Time             `json:"serverTime"`
}

// PageSize is how many change-log entries one pull reads.
const PageSize = 200

func companyDay(t time.Time) time.Time {
	loc, _ := schemas.LoadZone(schemas.DefaultTimeZone)
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func window(day time.Time) (time.Time, time.Time) {
	return day.AddDate(0, 0, -ScopeBack), day.AddDate(0, 0, ScopeAhead+1)
}

// Pull returns what changed in the phone's scope since the cursor. An
// empty, unreadable or too old cursor (its changes were pruned) gets a
// full snapshot marked resync, never an error.
func (e *Engine) Pull(ctx context.Context, a *schemas.Actor, cursor string, view Viewer) (*PullResponse, error) {
	if a.Role != schemas.RoleWorker || a.WorkerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only workers' phones pull visits")
	}
	now := e.now().UTC()
	today := companyDay(now)
	resp := &PullResponse{Visits: []any{}, Removed: []Removal{}, Incidents: []schemas.Incident{}, ServerTime: now}
	cat, err := e.catalogStamp(ctx)
	if err != nil {
		return nil, err
	}
	c, perr := ParseCursor(cursor)
	reason := ""
	switch {
	case cursor == "":
		reason = "first_sync"
	case perr != nil:
		reason = "unreadable_cursor"
	default:
		head, err := e.db.Changes.Head(ctx)
		if err != nil {
			return nil, err
		}
		tail, err := e.db.Changes.Tail(ctx)
		if err != nil {
			return nil, err
		}
		if c.Seq+1 < head {
			reason = "cursor_expired"
		} else if c.Seq > tail {
			reason = "cursor_ahead" // a store restored from backup
		}
	}
	if reason != "" {
		err = e.snapshot(ctx, a, today, cat, view, resp)
		resp.Resync, resp.ResyncReason = true, reason
	} else {
		err = e.incremental(ctx, a, c, today, cat, view, resp)
	}
	if err != nil {
		return nil, err
	}
	if err := e.ops.RecordPull(ctx, a.UserID, a.DeviceID, a.WorkerID, a.Team); err != nil {
		e.log.Warn("record pull", "err", err)
	}
	return resp, nil
}

func (e *Engine) snapshot(ctx context.Context, a *schemas.Actor, today time.Time, cat int64, view Viewer, resp *PullResponse) error {
	// The tail is read before the snapshot: a change made while it is read
	// comes again in the next pull. At least once, never lost.
	tail, err := e.db.Changes.Tail(ctx)
	if err != nil {
		return err
	}
	from, to := window(today)
	vs, err := e.db.Visits.List(ctx, store.VisitFilter{WorkerID: a.WorkerID, From: from, To: to})
	if err != nil {
		return err
	}
	var ids []string
	for i := range vs {
		if vs[i].Status == schemas.VisitCancelled {
			continue
		}
		if err := e.addVisit(ctx, a, &vs[i], view, resp); err != nil {
			return err
		}
		ids = append(ids, vs[i].Field.Incidents...)
	}
	if err := e.addCatalog(ctx, resp); err != nil {
		return err
	}
	resp.Cursor = Cursor{Seq: tail, Day: today.Format(schemas.DateLayout), Catalog: cat}.String()
	return e.addIncidents(ctx, ids, resp)
}

func (e *Engine) incremental(ctx context.Context, a *schemas.Actor, c Cursor, today time.Time, cat int64, view Viewer, resp *PullResponse) error {
	changes, err := e.db.Changes.After(ctx, c.Seq, PageSize)
	if err != nil {
		return err
	}
	next := c
	next.Day = today.Format(schemas.DateLayout)
	resp.HasMore = len(changes) == PageSize
	want := map[string]bool{}
	var customers []string
	for _, ch := range changes {
		next.Seq = ch.Seq
		switch ch.Kind {
		case store.ChangeVisits:
			if slices.Contains(ch.Workers, a.WorkerID) {
				for _, id := range ch.VisitIDs {
					want[id] = true
				}
			}
		case store.ChangeCustomers:
			customers = append(customers, ch.CustomerIDs...)
		}
	}
	from, to := window(today)
	// Visits that came into the window because the day moved, or whose
	// household became visible (from the day before): no change names them.
	dayMoved := c.Day != next.Day
	if dayMoved || len(customers) > 0 {
		oldEnd := to
		if old, err := time.ParseInLocation(schemas.DateLayout, c.Day, today.Location()); err == nil {
			_, oldEnd = window(old)
		}
		pii := today.AddDate(0, 0, 2) // the household shows from the day before the visit
		mine, err := e.db.Visits.List(ctx, store.VisitFilter{WorkerID: a.WorkerID, From: from, To: to})
		if err != nil {
			return err
		}
		for _, v := range mine {
			entered := dayMoved && (!v.ScheduledStart.Before(oldEnd) || v.ScheduledStart.Before(pii))
			if entered || slices.Contains(customers, v.CustomerID) {
				want[v.ID] = true
			}
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	vs, err := e.db.Visits.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	var kept []string
	for i := range vs {
		v := &vs[i]
		switch {
		case v.WorkerID != a.WorkerID:
			if slices.Contains(v.PastWorkerIDs, a.WorkerID) {
				resp.Removed = append(resp.Removed, Removal{VisitID: v.ID, Reason: "reassigned"})
			}
		case v.Status == schemas.VisitCancelled:
			resp.Removed = append(resp.Removed, Removal{VisitID: v.ID, Reason: "cancelled"})
		case v.ScheduledStart.Before(from) || !v.ScheduledStart.Before(to):
			resp.Removed = append(resp.Removed, Removal{VisitID: v.ID, Reason: "out_of_window"})
		default:
			if err := e.addVisit(ctx, a, v, view, resp); err != nil {
				return err
			}
			kept = append(kept, v.Field.Incidents...)
		}
	}
	if cat > c.Catalog {
		if err := e.addCatalog(ctx, resp); err != nil {
			return err
		}
		next.Catalog = cat
	}
	resp.Cursor = next.String()
	return e.addIncidents(ctx, kept, resp)
}

func (e *Engine) addVisit(ctx context.Context, a *schemas.Actor, v *schemas.Visit, view Viewer, resp *PullResponse) error {
	out, err := view.ViewVisit(ctx, a, v)
	if err != nil {
		return err
	}
	resp.Visits = append(resp.Visits, out)
	return nil
}

func (e *Engine) addCatalog(ctx context.Context, resp *PullResponse) error {
	sts, err := e.db.Office.Catalog(ctx)
	if err != nil {
		return err
	}
	resp.ServiceTypes = sts
	return nil
}

// catalogStamp is the time of the newest catalog change, so a pull knows
// whether to send the catalog without reading it.
func (e *Engine) catalogStamp(ctx context.Context) (int64, error) {
	at, err := e.db.Office.CatalogStamp(ctx)
	if err != nil {
		return 0, err
	}
	return at.UnixMilli(), nil
}

// addIncidents adds the incidents of the visits sent, by id.
func (e *Engine) addIncidents(ctx context.Context, ids []string, resp *PullResponse) error {
	incs, err := e.cases().IncidentsByID(ctx, ids)
	if err != nil {
		return err
	}
	resp.Incidents = append(resp.Incidents, incs...)
	return nil
}
