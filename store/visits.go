package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const colVisits = "visits"

// visitCollections are the collections Visits writes. Every list of
// visits is a range of one of these indexes (or a merge of a few, one per
// status asked for); what is not in the index chosen is filtered from its
// range, which the index's prefix keeps small (a worker's, a customer's,
// a schedule's visits).
//
// The visits of a worker are those it is assigned now: the assignee is
// one field (workerId), so it is indexed on the visit itself. Earlier
// assignees (pastWorkerIds) are never queried by; the change log names
// them, which is how their phones learn a visit left them.
var visitCollections = []doc.Collection{
	{Name: colVisits, Indexes: []doc.Index{
		{Name: "by_worker", Fields: []string{"workerId", "startKey"}},
		{Name: "by_customer", Fields: []string{"customerId", "startKey"}},
		{Name: "by_schedule", Fields: []string{"scheduleId", "startKey"}},
		{Name: "by_team", Fields: []string{"team", "startKey"}},
		{Name: "by_team_status", Fields: []string{"team", "status", "startKey"}},
		{Name: "by_status", Fields: []string{"status", "startKey"}},
		{Name: "by_start", Fields: []string{"startKey"}},
		{Name: "team_customers", Fields: []string{"team", "customerId"}},
		// The review queue, by the visit's start (which a fact that needs
		// review no longer moves), the longest waiting first.
		{Name: "review_start", Fields: []string{"needsReview", "startKey"}},
		{Name: "review_team_start", Fields: []string{"needsReview", "team", "startKey"}},
		{Name: "dirty", Fields: []string{"dirty", "updatedAt"}},
		// Assignments by when they were made: those whose answer is due.
		{Name: "status_assigned", Fields: []string{"status", "assignedAt"}},
	}},
}

// Visits stores visits.
type Visits struct{ s *Store }

// visitDoc is a visit as stored: the address snapshot's text, position and
// access notes are sealed like the customer's, and so are the phone's
// positions at check-in and check-out, taken at the home.
//
// Rev is the visit's own version (schemas.Visit.Version), which callers
// write conditionally on. It is not the engine's version: clearing the
// dirty mark once a write is logged is a write too, and must not move
// the visit's version, or every office or phone write would seem to race
// with its own log entry. Every write still goes through the engine's
// version (read, check Rev, replace if unchanged), so a conditional write
// on Rev is atomic on both engines.
type visitDoc struct {
	ID             string                       `bson:"_id"`
	CustomerID     string                       `bson:"customerId"`
	AddressID      string                       `bson:"addressId"`
	AddressText    string                       `bson:"addressText"` // sealed
	Location       string                       `bson:"location"`    // sealed JSON
	AccessNotes    string                       `bson:"accessNotes,omitempty"`
	CheckInFix     string                       `bson:"checkInFix,omitempty"`  // sealed field.checkIn.location
	CheckOutFix    string                       `bson:"checkOutFix,omitempty"` // sealed field.checkOut.location
	AbsentFix      string                       `bson:"absentFix,omitempty"`   // sealed field.customerAbsent.location
	ServiceTypeID  string                       `bson:"serviceTypeId"`
	ScheduledStart time.Time                    `bson:"scheduledStart"`
	ScheduledEnd   time.Time                    `bson:"scheduledEnd"`
	StartKey       string                       `bson:"startKey"` // scheduledStart to the ms, then the id: the lists' order
	TimeZone       string                       `bson:"timeZone"`
	WorkerID       string                       `bson:"workerId"` // "" when unassigned
	Team           string                       `bson:"team"`
	Checklist      []schemas.VisitChecklistItem `bson:"checklist"`
	Notes          string                       `bson:"notes,omitempty"`
	Status         schemas.VisitStatus          `bson:"status"`
	OfficeStatus   schemas.VisitStatus          `bson:"officeStatus"`
	CancelReason   string                       `bson:"cancelReason,omitempty"`
	PastWorkerIDs  []string                     `bson:"pastWorkerIds,omitempty"`
	AssignedAt     time.Time                    `bson:"assignedAt"`
	Field          schemas.FieldState           `bson:"field"`
	Review         schemas.ReviewState          `bson:"review"`
	NeedsReview    bool                         `bson:"needsReview"`
	ReworkID       string                       `bson:"reworkId,omitempty"`
	ReworkOf       string                       `bson:"reworkOf,omitempty"`
	ReworkAccepted bool                         `bson:"reworkAccepted,omitempty"`
	Corrections    []schemas.Correction         `bson:"corrections,omitempty"`
	Dirty          bool                         `bson:"dirty"`      // written but not yet in the change log
	ScheduleID     string                       `bson:"scheduleId"` // "" when planned by hand
	OfficeEdited   bool                         `bson:"officeEdited"`
	Rev            int64                        `bson:"rev"`
	CreatedAt      time.Time                    `bson:"createdAt"`
	UpdatedAt      time.Time                    `bson:"updatedAt"`
	// SyncState is the sync engine's bookkeeping of the visit's folded
	// operations (their ids and where the fold stands), kept here so one
	// point read lets it fold new operations on. Opaque to this package.
	SyncState bson.Raw `bson:"syncState,omitempty"`
	// NoShow is who missed the visit (office status no_show).
	NoShow *schemas.NoShow `bson:"noShow,omitempty"`
}

// startKey orders visits by scheduled start (as stored: to the
// millisecond), then id. A fixed-width UTC time sorts as the time.
func startKey(t time.Time, id string) string { return startBound(t) + "|" + id }

// startBound is the key below every visit starting at t (to the ms) or later.
func startBound(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// ceilMs rounds t up to the millisecond, the precision starts are stored in.
func ceilMs(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		return r.Add(time.Millisecond)
	}
	return t
}

func visitAAD(id, field string) string { return colVisits + "/" + id + "/" + field }

// Errors of visits: the domain's error (its code and message are what
// clients see) wrapping the store's (what callers test with errors.Is).
func visitNotFound(id string) error {
	return fmt.Errorf("%w (visit %s: %w)", schemas.Errorf(schemas.ENOTFOUND, "visit not found"), id, ErrNotFound)
}

func visitStale(id string) error {
	return fmt.Errorf("%w (visit %s: %w)", schemas.Errorf(schemas.ECONFLICT, "the visit was changed by someone else; reload and retry").With("reason", "version_mismatch"), id, ErrVersion)
}

func (a *Visits) seal(v *schemas.Visit) (*visitDoc, error) {
	c := a.s.cipher
	d := &visitDoc{ID: v.ID, CustomerID: v.CustomerID, AddressID: v.Address.AddressID,
		ServiceTypeID: v.ServiceTypeID, ScheduledStart: v.ScheduledStart.UTC(), ScheduledEnd: v.ScheduledEnd.UTC(),
		StartKey: startKey(v.ScheduledStart, v.ID),
		TimeZone: v.TimeZone, WorkerID: v.WorkerID, Team: v.Team, Checklist: v.Checklist, Notes: v.Notes,
		Status: v.Status, OfficeStatus: v.OfficeStatus, CancelReason: v.CancelReason, ScheduleID: v.ScheduleID, OfficeEdited: v.OfficeEdited,
		PastWorkerIDs: v.PastWorkerIDs, AssignedAt: v.AssignedAt.UTC(), Field: v.Field, Review: v.Review, NeedsReview: v.NeedsReview,
		ReworkID: v.ReworkID, ReworkOf: v.ReworkOf, ReworkAccepted: v.ReworkAccepted, Corrections: v.Corrections,
		Rev: v.Version, CreatedAt: v.CreatedAt.UTC(), UpdatedAt: v.UpdatedAt.UTC(), Dirty: true, NoShow: v.NoShow}
	var err error
	if d.AddressText, err = c.Seal(v.Address.Text, visitAAD(v.ID, "addressText")); err != nil {
		return nil, err
	}
	if d.AccessNotes, err = c.Seal(v.Address.AccessNotes, visitAAD(v.ID, "accessNotes")); err != nil {
		return nil, err
	}
	if d.Location, err = c.SealJSON(v.Address.Location, visitAAD(v.ID, "location")); err != nil {
		return nil, err
	}
	// The fixes move out of the field state into sealed fields; copies,
	// so the caller's visit keeps them.
	if d.Field.CheckIn, d.CheckInFix, err = a.sealFix(v.Field.CheckIn, visitAAD(v.ID, "checkInFix")); err != nil {
		return nil, err
	}
	if d.Field.CheckOut, d.CheckOutFix, err = a.sealFix(v.Field.CheckOut, visitAAD(v.ID, "checkOutFix")); err != nil {
		return nil, err
	}
	if ca := v.Field.CustomerAbsent; ca != nil && ca.Location != nil {
		if d.AbsentFix, err = a.s.cipher.SealJSON(ca.Location, visitAAD(v.ID, "absentFix")); err != nil {
			return nil, err
		}
		bare := *ca
		bare.Location = nil
		d.Field.CustomerAbsent = &bare
	}
	return d, nil
}

// sealFix returns a copy of the attendance without its position, and the
// position sealed.
func (a *Visits) sealFix(at *schemas.Attendance, aad string) (*schemas.Attendance, string, error) {
	if at == nil || at.Location == nil {
		return at, "", nil
	}
	sealed, err := a.s.cipher.SealJSON(at.Location, aad)
	if err != nil {
		return nil, "", err
	}
	bare := *at
	bare.Location = nil
	return &bare, sealed, nil
}

func (a *Visits) open(d *visitDoc) (*schemas.Visit, error) {
	c := a.s.cipher
	v := &schemas.Visit{ID: d.ID, CustomerID: d.CustomerID, ServiceTypeID: d.ServiceTypeID,
		ScheduledStart: d.ScheduledStart.UTC(), ScheduledEnd: d.ScheduledEnd.UTC(), TimeZone: d.TimeZone,
		WorkerID: d.WorkerID, Team: d.Team, Checklist: d.Checklist, Notes: d.Notes, Status: d.Status, OfficeStatus: d.OfficeStatus,
		CancelReason: d.CancelReason, ScheduleID: d.ScheduleID, OfficeEdited: d.OfficeEdited, Version: d.Rev,
		PastWorkerIDs: d.PastWorkerIDs, AssignedAt: d.AssignedAt.UTC(), Field: d.Field, Review: d.Review, NeedsReview: d.NeedsReview,
		ReworkID: d.ReworkID, ReworkOf: d.ReworkOf, ReworkAccepted: d.ReworkAccepted, Corrections: d.Corrections,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), NoShow: d.NoShow}
	v.Address = schemas.VisitAddress{AddressID: d.AddressID}
	var err error
	if err := c.OpenJSON(d.Location, visitAAD(d.ID, "location"), &v.Address.Location); err != nil {
		return nil, fmt.Errorf("visit %s position: %w", d.ID, err)
	}
	if err := a.openFix(v.Field.CheckIn, d.CheckInFix, visitAAD(d.ID, "checkInFix")); err != nil {
		return nil, fmt.Errorf("visit %s check-in position: %w", d.ID, err)
	}
	if err := a.openFix(v.Field.CheckOut, d.CheckOutFix, visitAAD(d.ID, "checkOutFix")); err != nil {
		return nil, fmt.Errorf("visit %s check-out position: %w", d.ID, err)
	}
	if ca := v.Field.CustomerAbsent; ca != nil && d.AbsentFix != "" {
		ca.Location = &schemas.GeoFix{}
		if err := c.OpenJSON(d.AbsentFix, visitAAD(d.ID, "absentFix"), ca.Location); err != nil {
			return nil, fmt.Errorf("visit %s position at the door: %w", d.ID, err)
		}
	}
	if v.Address.Text, err = c.Open(d.AddressText, visitAAD(d.ID, "addressText")); err != nil {
		return nil, fmt.Errorf("visit %s address: %w", d.ID, err)
	}
	if v.Address.AccessNotes, err = c.Open(d.AccessNotes, visitAAD(d.ID, "accessNotes")); err != nil {
		return nil, fmt.Errorf("visit %s access notes: %w", d.ID, err)
	}
	if v.Checklist == nil {
		v.Checklist = []schemas.VisitChecklistItem{}
	}
	f := &v.Field
	if f.Progress == nil {
		f.Progress = []schemas.ItemProgress{}
	}
	if f.Incidents == nil {
		f.Incidents = []string{}
	}
	if f.Notes == nil {
		f.Notes = []schemas.FieldNote{}
	}
	if f.Exceptions == nil {
		f.Exceptions = []schemas.Exception{}
	}
	if f.Conflicts == nil {
		f.Conflicts = []schemas.Conflict{}
	}
	return v, nil
}

// openFix puts the sealed position back on the attendance.
func (a *Visits) openFix(at *schemas.Attendance, sealed, aad string) error {
	if at == nil || sealed == "" {
		return nil
	}
	at.Location = &schemas.GeoFix{}
	return a.s.cipher.OpenJSON(sealed, aad, at.Location)
}

func (a *Visits) openAll(docs []doc.Doc) ([]schemas.Visit, error) {
	out := make([]schemas.Visit, 0, len(docs))
	for _, raw := range docs {
		var d visitDoc
		if err := raw.Decode(&d); err != nil {
			return nil, fmt.Errorf("read visits: %w", err)
		}
		v, err := a.open(&d)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// Insert stores a new visit at its version (1 for a new one) and logs it.
// An id that exists is ECONFLICT with reason "exists" (and ErrDuplicate):
// the schedule generator relies on it for idempotency.
func (a *Visits) Insert(ctx context.Context, v *schemas.Visit) error {
	d, err := a.seal(v)
	if err != nil {
		return err
	}
	if _, err := doc.Insert(ctx, a.s.engine, colVisits, d); err != nil {
		if errors.Is(err, doc.ErrDuplicate) {
			return fmt.Errorf("%w (%w)", schemas.Errorf(schemas.ECONFLICT, "visit %s exists", v.ID).With("reason", "exists"), ErrDuplicate)
		}
		return fmt.Errorf("insert visit: %w", err)
	}
	_, err = a.Log(ctx, SourceOffice, v)
	return err
}

func (a *Visits) get(ctx context.Context, id string) (*visitDoc, int64, error) {
	d, version, err := doc.Get[visitDoc](ctx, a.s.engine, colVisits, id)
	if errors.Is(err, doc.ErrNotFound) {
		return nil, 0, visitNotFound(id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read visit %s: %w", id, err)
	}
	return &d, version, nil
}

// Get returns the visit, opened, or ENOTFOUND (and ErrNotFound).
func (a *Visits) Get(ctx context.Context, id string) (*schemas.Visit, error) {
	d, _, err := a.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.open(d)
}

// GetWithSyncState returns the visit and the sync engine's state of it.
func (a *Visits) GetWithSyncState(ctx context.Context, id string) (*schemas.Visit, bson.Raw, error) {
	d, _, err := a.get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := a.open(d)
	return v, d.SyncState, err
}

// GetMany returns the visits with the ids that exist, in the order given:
// one read.
func (a *Visits) GetMany(ctx context.Context, ids []string) ([]schemas.Visit, error) {
	if len(ids) == 0 {
		return []schemas.Visit{}, nil
	}
	docs, err := a.s.engine.GetMany(ctx, colVisits, ids)
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	return a.openAll(docs)
}

// Replace stores the office's and derived fields of v if the visit is
// still at version expected (else ECONFLICT with reason
// "version_mismatch", and ErrVersion), leaving the sync engine's state as
// it is, and logs the change. v carries its new version.
func (a *Visits) Replace(ctx context.Context, v *schemas.Visit, expected int64) error {
	if err := a.write(ctx, v, nil, expected); err != nil {
		return err
	}
	_, err := a.Log(ctx, SourceOffice, v)
	return err
}

// WriteSync stores v and the sync engine's state of it if the visit is
// still at version expected (state nil: keep the stored one), and leaves it marked dirty: the caller logs
// its batch of visits at once (Log).
func (a *Visits) WriteSync(ctx context.Context, v *schemas.Visit, state bson.Raw, expected int64) error {
	return a.write(ctx, v, state, expected)
}

// write replaces the visit if its Rev is expected; state nil keeps the
// stored sync state. The Rev is checked on the document read, and the
// replace is conditional on that read's engine version, so the check and
// the write are one atomic step; a lost race on the engine version that
// left Rev alone (a dirty mark cleared) is retried.
func (a *Visits) write(ctx context.Context, v *schemas.Visit, state bson.Raw, expected int64) error {
	d, err := a.seal(v)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, version, err := a.get(ctx, v.ID)
		if err != nil {
			return err
		}
		if cur.Rev != expected {
			return visitStale(v.ID)
		}
		d.SyncState = cur.SyncState
		if state != nil {
			d.SyncState = state
		}
		_, err = doc.Replace(ctx, a.s.engine, colVisits, version, d)
		if err == nil {
			return nil
		}
		if !errors.Is(err, doc.ErrVersion) || attempt >= 20 {
			return fmt.Errorf("write visit %s: %w", v.ID, err)
		}
	}
}

// Raw returns the stored document as is, for tests that check what is at
// rest.
func (a *Visits) Raw(ctx context.Context, id string) (bson.M, error) {
	d, err := a.s.engine.Get(ctx, colVisits, id)
	if err != nil {
		return nil, fmt.Errorf("read visit %s: %w", id, err)
	}
	var m bson.M
	return m, d.Decode(&m)
}

// VisitFilter selects visits. Zero fields do not filter.
type VisitFilter struct {
	Team       string
	WorkerID   string
	CustomerID string
	ScheduleID string
	Statuses   []schemas.VisitStatus
	From, To   time.Time // scheduledStart in [From, To)
	After      string    // cursor: VisitCursor of the last visit of the previous page
	Limit      int       // 0: all
}

// VisitCursor is the cursor that continues a visit listing after v.
func VisitCursor(v *schemas.Visit) string {
	return v.ScheduledStart.UTC().Format(time.RFC3339Nano) + "|" + v.ID
}

func parseVisitCursor(s string) (string, error) {
	bad := schemas.FieldError("after", "after is not a cursor this server issued")
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			t, err := time.Parse(time.RFC3339Nano, s[:i])
			if err != nil || !schemas.ValidID(s[i+1:]) {
				return "", bad
			}
			return startKey(t, s[i+1:]), nil
		}
	}
	return "", bad
}

// List returns visits by scheduled start, then id: a range of the index
// of the filter's most selective field, or a merge of one range per
// status, with the other fields filtered from it.
func (a *Visits) List(ctx context.Context, f VisitFilter) ([]schemas.Visit, error) {
	var rng doc.Range
	from := ""
	if !f.From.IsZero() {
		from = startBound(ceilMs(f.From))
		rng.Gte = from
	}
	if f.After != "" {
		after, err := parseVisitCursor(f.After)
		if err != nil {
			return nil, err
		}
		if after >= from {
			rng.Gte, rng.Gt = nil, after
		}
	}
	if !f.To.IsZero() {
		rng.Lt = startBound(ceilMs(f.To))
	}
	var eqs [][]any
	index := "by_start"
	switch {
	case f.WorkerID != "":
		index, eqs = "by_worker", [][]any{{f.WorkerID}}
	case f.CustomerID != "":
		index, eqs = "by_customer", [][]any{{f.CustomerID}}
	case f.ScheduleID != "":
		index, eqs = "by_schedule", [][]any{{f.ScheduleID}}
	case f.Team != "" && len(f.Statuses) > 0:
		index = "by_team_status"
		for _, st := range f.Statuses {
			eqs = append(eqs, []any{f.Team, string(st)})
		}
	case f.Team != "":
		index, eqs = "by_team", [][]any{{f.Team}}
	case len(f.Statuses) > 0:
		index = "by_status"
		for _, st := range f.Statuses {
			eqs = append(eqs, []any{string(st)})
		}
	default:
		eqs = [][]any{nil}
	}
	// Read a page's worth from each range, or more when some of what is
	// read may be filtered out.
	batch := 200
	filtered := 0
	for _, set := range []bool{f.WorkerID != "", f.CustomerID != "", f.ScheduleID != "", f.Team != "", len(f.Statuses) > 0} {
		if set {
			filtered++
		}
	}
	if len(eqs[0]) < filtered {
		batch = max(batch, f.Limit+1)
	} else if f.Limit > 0 && f.Limit < batch {
		batch = f.Limit
	}
	streams := make([]*visitStream, 0, len(eqs))
	for _, eq := range eqs {
		if len(eqs) > 1 && dupEq(streams, eq) {
			continue // a status asked for twice
		}
		streams = append(streams, &visitStream{engine: a.s.engine, q: doc.Query{Index: index, Eq: eq, Range: rng, Limit: batch}})
	}
	out := []schemas.Visit{}
	for f.Limit <= 0 || len(out) < f.Limit {
		var next *visitStream
		for _, st := range streams {
			d, err := st.peek(ctx)
			if err != nil {
				return nil, err
			}
			if d != nil && (next == nil || d.StartKey < next.buf[0].StartKey) {
				next = st
			}
		}
		if next == nil {
			break
		}
		d := next.pop()
		if !f.matches(d) {
			continue
		}
		v, err := a.open(d)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// AssignedBetween returns the visits in one of statuses whose current
// assignment was made in [from, to), read by index: the assignments whose
// answer falls due, without reading every visit ahead.
func (a *Visits) AssignedBetween(ctx context.Context, statuses []schemas.VisitStatus, from, to time.Time) ([]schemas.Visit, error) {
	out := []schemas.Visit{}
	for _, st := range statuses {
		q := doc.Query{Index: "status_assigned", Eq: []any{string(st)}, Range: doc.Range{Gte: from.UTC(), Lt: to.UTC()}, Limit: 200}
		for {
			p, err := a.s.engine.Scan(ctx, colVisits, q)
			if err != nil {
				return nil, fmt.Errorf("visits assigned since %s: %w", from.Format(time.RFC3339), err)
			}
			vs, err := a.openAll(p.Docs)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
	}
	return out, nil
}

func dupEq(streams []*visitStream, eq []any) bool {
	for _, st := range streams {
		if fmt.Sprint(st.q.Eq) == fmt.Sprint(eq) {
			return true
		}
	}
	return false
}

func (f *VisitFilter) matches(d *visitDoc) bool {
	if f.Team != "" && d.Team != f.Team || f.WorkerID != "" && d.WorkerID != f.WorkerID ||
		f.CustomerID != "" && d.CustomerID != f.CustomerID || f.ScheduleID != "" && d.ScheduleID != f.ScheduleID {
		return false
	}
	if len(f.Statuses) == 0 {
		return true
	}
	for _, st := range f.Statuses {
		if d.Status == st {
			return true
		}
	}
	return false
}

// visitStream reads one index range a page at a time.
type visitStream struct {
	engine doc.Engine
	q      doc.Query
	buf    []visitDoc
	done   bool
}

func (st *visitStream) peek(ctx context.Context) (*visitDoc, error) {
	for len(st.buf) == 0 && !st.done {
		p, err := st.engine.Scan(ctx, colVisits, st.q)
		if err != nil {
			return nil, fmt.Errorf("list visits: %w", err)
		}
		if st.buf, err = doc.DecodeAll[visitDoc](p.Docs); err != nil {
			return nil, fmt.Errorf("list visits: %w", err)
		}
		st.q.After, st.done = p.Next, p.Next == ""
	}
	if len(st.buf) == 0 {
		return nil, nil
	}
	return &st.buf[0], nil
}

func (st *visitStream) pop() *visitDoc {
	d := &st.buf[0]
	st.buf = st.buf[1:]
	return d
}

// CustomersOfTeam lists the customers that have visits of the team, which
// its supervisor may therefore see: one short read of the (team,
// customer) index per customer, skipping the visits between.
func (a *Visits) CustomersOfTeam(ctx context.Context, team string) ([]string, error) {
	ids := []string{}
	q := doc.Query{Index: "team_customers", Eq: []any{team}, Limit: 1}
	for {
		p, err := a.s.engine.Scan(ctx, colVisits, q)
		if err != nil {
			return nil, fmt.Errorf("customers of team %s: %w", team, err)
		}
		if len(p.Docs) == 0 {
			return ids, nil
		}
		var d struct {
			CustomerID string `bson:"customerId"`
		}
		if err := p.Docs[0].Decode(&d); err != nil {
			return nil, fmt.Errorf("customers of team %s: %w", team, err)
		}
		ids = append(ids, d.CustomerID)
		q.Range = doc.Range{Gt: d.CustomerID}
	}
}

// TeamHasCustomer reports whether the team has a visit of the customer.
func (a *Visits) TeamHasCustomer(ctx context.Context, team, customerID string) (bool, error) {
	p, err := a.s.engine.Scan(ctx, colVisits, doc.Query{Index: "team_customers", Eq: []any{team, customerID}, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("visits of team %s: %w", team, err)
	}
	return len(p.Docs) > 0, nil
}

// ReviewQuery selects a page of the visits with unresolved review items,
// the earliest start first: a team's, or all.
type ReviewQuery struct {
	AllTeams   bool
	Team       string // else this team's
	WorkerID   string
	CustomerID string
	From, To   time.Time // scheduled start
	After      string
	Limit      int // <= 0: every match
}

// ReviewQueue returns a page of the visits that need review.
func (a *Visits) ReviewQueue(ctx context.Context, q ReviewQuery) (schemas.Page[schemas.Visit], error) {
	dq := doc.Query{Index: "review_start", Eq: []any{true}, After: q.After}
	if !q.AllTeams {
		dq.Index, dq.Eq = "review_team_start", []any{true, q.Team}
	}
	if !q.From.IsZero() {
		dq.Range.Gte = startBound(ceilMs(q.From))
	}
	if !q.To.IsZero() {
		dq.Range.Lt = startBound(ceilMs(q.To))
	}
	keep := func(d *visitDoc) bool { return match(q.WorkerID, d.WorkerID) && match(q.CustomerID, d.CustomerID) }
	return filtered(ctx, a.s.engine, colVisits, dq, q.Limit, keep, func(d visitDoc, _ int64) (schemas.Visit, error) {
		v, err := a.open(&d)
		if err != nil {
			return schemas.Visit{}, err
		}
		return *v, nil
	})
}

// Log appends one change-log entry for the visits just written and clears
// their dirty marks. If the process dies before this, the marks stay and
// RelayDirty logs the visits later: a change is never left out of the log.
func (a *Visits) Log(ctx context.Context, source string, vs ...*schemas.Visit) (int64, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	ch := &Change{Kind: ChangeVisits, Source: source}
	for _, v := range vs {
		ch.VisitIDs = append(ch.VisitIDs, v.ID)
		ch.CustomerIDs = addOnce(ch.CustomerIDs, v.CustomerID)
		ch.Workers = addOnce(ch.Workers, v.WorkerID)
		for _, w := range v.PastWorkerIDs {
			ch.Workers = addOnce(ch.Workers, w)
		}
	}
	seq, err := a.s.Changes.Append(ctx, ch)
	if err != nil {
		return 0, err
	}
	for _, v := range vs {
		if err := a.clearDirty(ctx, v.ID, v.Version); err != nil {
			return seq, err
		}
	}
	return seq, nil
}

// clearDirty clears the mark of the visit's version rev only: a newer
// write logs itself.
func (a *Visits) clearDirty(ctx context.Context, id string, rev int64) error {
	for attempt := 0; ; attempt++ {
		d, version, err := a.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("clear dirty mark: %w", err)
		}
		if d.Rev != rev || !d.Dirty {
			return nil
		}
		d.Dirty = false
		_, err = doc.Replace(ctx, a.s.engine, colVisits, version, d)
		if err == nil {
			return nil
		}
		if !errors.Is(err, doc.ErrVersion) || attempt >= 20 {
			return fmt.Errorf("clear dirty mark of visit %s: %w", id, err)
		}
	}
}

// RelayDirty logs visits written more than grace before now but never
// logged (the writer died between the two steps) and returns how many it
// found: a range of the dirty index. The grace keeps it from racing
// writers that are about to log.
func (a *Visits) RelayDirty(ctx context.Context, now time.Time, grace time.Duration) (int, error) {
	p, err := a.s.engine.Scan(ctx, colVisits, doc.Query{Index: "dirty", Eq: []any{true},
		Range: doc.Range{Lte: now.Add(-grace).UTC()}, Limit: 500})
	if err != nil {
		return 0, fmt.Errorf("dirty visits: %w", err)
	}
	vs, err := a.openAll(p.Docs)
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	ptrs := make([]*schemas.Visit, len(vs))
	for i := range vs {
		ptrs[i] = &vs[i]
	}
	_, err = a.Log(ctx, SourceOffice, ptrs...)
	return len(vs), err
}
