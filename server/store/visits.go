package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

// visitDoc is a visit as stored: the address snapshot's text, position and
// access notes are sealed like the customer's, and so are the phone's
// positions at check-in and check-out, taken at the home.
type visitDoc struct {
	ID             string                       `bson:"_id"`
	CustomerID     string                       `bson:"customerId"`
	AddressID      string                       `bson:"addressId"`
	AddressText    string                       `bson:"addressText"`
	Location       bson.RawValue                `bson:"location"` // sealed JSON (a document when written before sealing)
	AccessNotes    string                       `bson:"accessNotes,omitempty"`
	CheckInFix     string                       `bson:"checkInFix,omitempty"`  // sealed field.checkIn.location
	CheckOutFix    string                       `bson:"checkOutFix,omitempty"` // sealed field.checkOut.location
	ServiceTypeID  string                       `bson:"serviceTypeId"`
	ScheduledStart time.Time                    `bson:"scheduledStart"`
	ScheduledEnd   time.Time                    `bson:"scheduledEnd"`
	TimeZone       string                       `bson:"timeZone"`
	WorkerID       string                       `bson:"workerId,omitempty"`
	Team           string                       `bson:"team"`
	Checklist      []schemas.VisitChecklistItem `bson:"checklist"`
	Notes          string                       `bson:"notes,omitempty"`
	Status         schemas.VisitStatus          `bson:"status"`
	OfficeStatus   schemas.VisitStatus          `bson:"officeStatus"`
	CancelReason   string                       `bson:"cancelReason,omitempty"`
	PastWorkerIDs  []string                     `bson:"pastWorkerIds,omitempty"`
	Field          schemas.FieldState           `bson:"field"`
	Review         schemas.ReviewState          `bson:"review"`
	NeedsReview    bool                         `bson:"needsReview"`
	ReworkID       string                       `bson:"reworkId,omitempty"`
	ReworkOf       string                       `bson:"reworkOf,omitempty"`
	ReworkAccepted bool                         `bson:"reworkAccepted,omitempty"`
	Corrections    []schemas.Correction         `bson:"corrections,omitempty"`
	Dirty          bool                         `bson:"dirty"` // written but not yet in the change log
	ScheduleID     string                       `bson:"scheduleId,omitempty"`
	OfficeEdited   bool                         `bson:"officeEdited"`
	Version        int64                        `bson:"version"`
	CreatedAt      time.Time                    `bson:"createdAt"`
	UpdatedAt      time.Time                    `bson:"updatedAt"`
	// SyncState is the sync engine's bookkeeping of the visit's folded
	// operations (their ids and where the fold stands), kept here so one
	// point read lets it fold new operations on. Opaque to this package.
	SyncState bson.Raw `bson:"syncState,omitempty"`
}

// withoutFacts reads a visit without its facts.
var withoutFacts = options.FindOne().SetProjection(bson.D{{Key: "syncState", Value: 0}})

// visitSet is the $set of every field of d but _id and the sync state,
// so the office's writes never touch the sync state.
func visitSet(d *visitDoc, state bson.Raw) (bson.D, error) {
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode visit: %w", err)
	}
	var all bson.D
	if err := bson.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("encode visit: %w", err)
	}
	set := make(bson.D, 0, len(all)+1)
	present := map[string]bool{}
	for _, e := range all {
		present[e.Key] = true
		if e.Key != "_id" && e.Key != "syncState" {
			set = append(set, e)
		}
	}
	if state != nil {
		set = append(set, bson.E{Key: "syncState", Value: state})
	}
	// An optional field left empty is removed, not kept at its old value
	// (unassigning a visit empties workerId).
	unset := bson.D{}
	for _, f := range optionalVisitFields {
		if !present[f] {
			unset = append(unset, bson.E{Key: f, Value: ""})
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	return update, nil
}

// optionalVisitFields are visitDoc's omitempty fields but the sync state.
var optionalVisitFields = func() []string {
	var out []string
	t := reflect.TypeOf(visitDoc{})
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("bson"), ",")
		if strings.Contains(opts, "omitempty") && name != "syncState" {
			out = append(out, name)
		}
	}
	return out
}()

func visitAAD(id, field string) string { return "visits/" + id + "/" + field }

func (db *DB) sealVisit(v *schemas.Visit) (*visitDoc, error) {
	d := &visitDoc{ID: v.ID, CustomerID: v.CustomerID, AddressID: v.Address.AddressID,
		ServiceTypeID: v.ServiceTypeID, ScheduledStart: v.ScheduledStart.UTC(), ScheduledEnd: v.ScheduledEnd.UTC(),
		TimeZone: v.TimeZone, WorkerID: v.WorkerID, Team: v.Team, Checklist: v.Checklist, Notes: v.Notes,
		Status: v.Status, OfficeStatus: v.OfficeStatus, CancelReason: v.CancelReason, ScheduleID: v.ScheduleID, OfficeEdited: v.OfficeEdited,
		PastWorkerIDs: v.PastWorkerIDs, Field: v.Field, Review: v.Review, NeedsReview: v.NeedsReview,
		ReworkID: v.ReworkID, ReworkOf: v.ReworkOf, ReworkAccepted: v.ReworkAccepted, Corrections: v.Corrections,
		Version: v.Version, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Dirty: true}
	var err error
	if d.AddressText, err = db.cipher.Seal(v.Address.Text, visitAAD(v.ID, "addressText")); err != nil {
		return nil, err
	}
	if d.AccessNotes, err = db.cipher.Seal(v.Address.AccessNotes, visitAAD(v.ID, "accessNotes")); err != nil {
		return nil, err
	}
	if d.Location, err = db.cipher.SealField(v.Address.Location, visitAAD(v.ID, "location")); err != nil {
		return nil, err
	}
	// The fixes move out of the field state into sealed fields; copies,
	// so the caller's visit keeps them.
	if d.Field.CheckIn, d.CheckInFix, err = db.sealFix(v.Field.CheckIn, visitAAD(v.ID, "checkInFix")); err != nil {
		return nil, err
	}
	if d.Field.CheckOut, d.CheckOutFix, err = db.sealFix(v.Field.CheckOut, visitAAD(v.ID, "checkOutFix")); err != nil {
		return nil, err
	}
	return d, nil
}

// sealFix returns a copy of the attendance without its position, and the
// position sealed.
func (db *DB) sealFix(a *schemas.Attendance, aad string) (*schemas.Attendance, string, error) {
	if a == nil || a.Location == nil {
		return a, "", nil
	}
	sealed, err := db.cipher.SealJSON(a.Location, aad)
	if err != nil {
		return nil, "", err
	}
	bare := *a
	bare.Location = nil
	return &bare, sealed, nil
}

// openFix puts the sealed position back on the attendance. Visits written
// before fixes were sealed keep theirs in the field state, read as is.
func (db *DB) openFix(a *schemas.Attendance, sealed, aad string) error {
	if a == nil || sealed == "" {
		return nil
	}
	a.Location = &schemas.GeoFix{}
	return db.cipher.OpenJSON(sealed, aad, a.Location)
}

func (db *DB) openVisit(d *visitDoc) (*schemas.Visit, error) {
	v := &schemas.Visit{ID: d.ID, CustomerID: d.CustomerID, ServiceTypeID: d.ServiceTypeID,
		ScheduledStart: d.ScheduledStart.UTC(), ScheduledEnd: d.ScheduledEnd.UTC(), TimeZone: d.TimeZone,
		WorkerID: d.WorkerID, Team: d.Team, Checklist: d.Checklist, Notes: d.Notes, Status: d.Status, OfficeStatus: d.OfficeStatus,
		CancelReason: d.CancelReason, ScheduleID: d.ScheduleID, OfficeEdited: d.OfficeEdited, Version: d.Version,
		PastWorkerIDs: d.PastWorkerIDs, Field: d.Field, Review: d.Review, NeedsReview: d.NeedsReview,
		ReworkID: d.ReworkID, ReworkOf: d.ReworkOf, ReworkAccepted: d.ReworkAccepted, Corrections: d.Corrections,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	v.Address = schemas.VisitAddress{AddressID: d.AddressID}
	var err error
	if err := db.cipher.OpenField(d.Location, visitAAD(d.ID, "location"), &v.Address.Location); err != nil {
		return nil, fmt.Errorf("visit %s position: %w", d.ID, err)
	}
	if err := db.openFix(v.Field.CheckIn, d.CheckInFix, visitAAD(d.ID, "checkInFix")); err != nil {
		return nil, fmt.Errorf("visit %s check-in position: %w", d.ID, err)
	}
	if err := db.openFix(v.Field.CheckOut, d.CheckOutFix, visitAAD(d.ID, "checkOutFix")); err != nil {
		return nil, fmt.Errorf("visit %s check-out position: %w", d.ID, err)
	}
	if v.Address.Text, err = db.cipher.Open(d.AddressText, visitAAD(d.ID, "addressText")); err != nil {
		return nil, fmt.Errorf("visit %s address: %w", d.ID, err)
	}
	if v.Address.AccessNotes, err = db.cipher.Open(d.AccessNotes, visitAAD(d.ID, "accessNotes")); err != nil {
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

// InsertVisit stores a new visit. An id that exists is ECONFLICT with
// reason "exists": the schedule generator relies on it for idempotency.
func (db *DB) InsertVisit(ctx context.Context, v *schemas.Visit) error {
	d, err := db.sealVisit(v)
	if err != nil {
		return err
	}
	if _, err := db.C(colVisits).InsertOne(ctx, d); err != nil {
		if isDup(err) {
			return schemas.Errorf(schemas.ECONFLICT, "visit %s exists", v.ID).With("reason", "exists")
		}
		return fmt.Errorf("insert visit: %w", err)
	}
	_, err = db.LogVisits(ctx, SourceOffice, v)
	return err
}

// VisitByID returns the visit, opened, or ENOTFOUND.
func (db *DB) VisitByID(ctx context.Context, id string) (*schemas.Visit, error) {
	var d visitDoc
	if err := db.C(colVisits).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, withoutFacts).Decode(&d); err != nil {
		if isNoDocs(err) {
			return nil, notFound("visit")
		}
		return nil, fmt.Errorf("find visit: %w", err)
	}
	return db.openVisit(&d)
}

// VisitWithSyncState returns the visit and the sync engine's state of it.
func (db *DB) VisitWithSyncState(ctx context.Context, id string) (*schemas.Visit, bson.Raw, error) {
	d, err := getByID[visitDoc](ctx, db.C(colVisits), id, "visit")
	if err != nil {
		return nil, nil, err
	}
	v, err := db.openVisit(d)
	return v, d.SyncState, err
}

// ReplaceVisit stores the office's and derived fields of v if it is still
// at expected, leaving the facts as they are, and logs the change.
func (db *DB) ReplaceVisit(ctx context.Context, v *schemas.Visit, expected int64) error {
	d, err := db.sealVisit(v)
	if err != nil {
		return err
	}
	set, err := visitSet(d, nil)
	if err != nil {
		return err
	}
	if err := updateVersioned(ctx, db.C(colVisits), v.ID, expected, set, "visit"); err != nil {
		return err
	}
	_, err = db.LogVisits(ctx, SourceOffice, v)
	return err
}

// WriteVisitSync stores v and the sync engine's state of it if it is
// still at expected, and leaves it marked dirty: the caller logs its batch
// of visits at once.
func (db *DB) WriteVisitSync(ctx context.Context, v *schemas.Visit, state bson.Raw, expected int64) error {
	d, err := db.sealVisit(v)
	if err != nil {
		return err
	}
	set, err := visitSet(d, state)
	if err != nil {
		return err
	}
	return updateVersioned(ctx, db.C(colVisits), v.ID, expected, set, "visit")
}

// VisitsByIDs returns the visits with the ids that exist, in the order
// given. One point read each: FerretDB scans a collection for $in.
func (db *DB) VisitsByIDs(ctx context.Context, ids []string) ([]schemas.Visit, error) {
	out := make([]schemas.Visit, 0, len(ids))
	for _, id := range ids {
		v, err := db.VisitByID(ctx, id)
		if schemas.ErrorCode(err) == schemas.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// VisitFilter selects visits. Zero fields do not filter.
type VisitFilter struct {
	Team       string
	WorkerID   string
	CustomerID string
	ScheduleID string
	Statuses   []schemas.VisitStatus
	From, To   time.Time // scheduledStart in [From, To)
	After      string    // cursor: "<start RFC3339Nano>|<id>"
	Limit      int
}

// ListVisits returns visits by scheduled start, then id.
func (db *DB) ListVisits(ctx context.Context, f VisitFilter) ([]schemas.Visit, error) {
	filter := bson.D{}
	add := func(k string, v any) { filter = append(filter, bson.E{Key: k, Value: v}) }
	if f.Team != "" {
		add("team", f.Team)
	}
	if f.WorkerID != "" {
		add("workerId", f.WorkerID)
	}
	if f.CustomerID != "" {
		add("customerId", f.CustomerID)
	}
	if f.ScheduleID != "" {
		add("scheduleId", f.ScheduleID)
	}
	if len(f.Statuses) > 0 {
		add("status", bson.D{{Key: "$in", Value: f.Statuses}})
	}
	rng := bson.D{}
	if !f.From.IsZero() {
		rng = append(rng, bson.E{Key: "$gte", Value: f.From.UTC()})
	}
	if !f.To.IsZero() {
		rng = append(rng, bson.E{Key: "$lt", Value: f.To.UTC()})
	}
	if len(rng) > 0 {
		add("scheduledStart", rng)
	}
	if f.After != "" {
		start, id, err := parseVisitCursor(f.After)
		if err != nil {
			return nil, err
		}
		add("$or", bson.A{
			bson.D{{Key: "scheduledStart", Value: bson.D{{Key: "$gt", Value: start}}}},
			bson.D{{Key: "scheduledStart", Value: start}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}},
		})
	}
	docs, err := page[visitDoc](ctx, db.C(colVisits), filter, bson.D{{Key: "scheduledStart", Value: 1}, {Key: "_id", Value: 1}}, f.Limit, "syncState")
	if err != nil {
		return nil, err
	}
	return db.openVisits(docs)
}

// openVisits opens stored visits.
func (db *DB) openVisits(docs []visitDoc) ([]schemas.Visit, error) {
	out := make([]schemas.Visit, 0, len(docs))
	for i := range docs {
		v, err := db.openVisit(&docs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// VisitCursor is the cursor that continues a visit listing after v.
func VisitCursor(v *schemas.Visit) string {
	return v.ScheduledStart.UTC().Format(time.RFC3339Nano) + "|" + v.ID
}

func parseVisitCursor(s string) (time.Time, string, error) {
	bad := schemas.FieldError("after", "after is not a cursor this server issued")
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			t, err := time.Parse(time.RFC3339Nano, s[:i])
			if err != nil || !schemas.ValidID(s[i+1:]) {
				return time.Time{}, "", bad
			}
			return t.UTC(), s[i+1:], nil
		}
	}
	return time.Time{}, "", bad
}

// CustomerIDsOfTeamVisits lists the customers that have visits of the team,
// which its supervisor may therefore see.
func (db *DB) CustomerIDsOfTeamVisits(ctx context.Context, team string) ([]string, error) {
	// $group rather than distinct: FerretDB's distinct reply does not
	// decode with driver v2.
	cur, err := db.C(colVisits).Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: bson.D{{Key: "team", Value: team}}}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$customerId"}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("customers of team %s: %w", team, err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("customers of team %s: %w", team, err)
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// HasTeamVisitForCustomer reports whether the team has a visit of the customer.
func (db *DB) HasTeamVisitForCustomer(ctx context.Context, team, customerID string) (bool, error) {
	n, err := db.C(colVisits).CountDocuments(ctx, bson.D{{Key: "team", Value: team}, {Key: "customerId", Value: customerID}})
	if err != nil {
		return false, fmt.Errorf("count visits: %w", err)
	}
	return n > 0, nil
}

// RawVisit returns the stored document as is.
func (db *DB) RawVisit(ctx context.Context, id string) (bson.M, error) {
	var m bson.M
	if err := db.C(colVisits).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// VisitsNeedingReview lists visits with unresolved review items, of one
// team or of all ("").
func (db *DB) VisitsNeedingReview(ctx context.Context, team string, limit int) ([]schemas.Visit, error) {
	filter := bson.D{{Key: "needsReview", Value: true}}
	if team != "" {
		filter = append(filter, bson.E{Key: "team", Value: team})
	}
	docs, err := page[visitDoc](ctx, db.C(colVisits), filter, bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: 1}}, limit, "syncState")
	if err != nil {
		return nil, err
	}
	return db.openVisits(docs)
}
