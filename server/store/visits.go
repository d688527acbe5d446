package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

// visitDoc is a visit as stored: the address snapshot's text and access
// notes are sealed like the customer's.
type visitDoc struct {
	ID             string                       `bson:"_id"`
	CustomerID     string                       `bson:"customerId"`
	AddressID      string                       `bson:"addressId"`
	AddressText    string                       `bson:"addressText"`
	Location       schemas.LatLng               `bson:"location"`
	AccessNotes    string                       `bson:"accessNotes,omitempty"`
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
	Dirty          bool                         `bson:"dirty"` // written but not yet in the change log
	ScheduleID     string                       `bson:"scheduleId,omitempty"`
	OfficeEdited   bool                         `bson:"officeEdited"`
	Version        int64                        `bson:"version"`
	CreatedAt      time.Time                    `bson:"createdAt"`
	UpdatedAt      time.Time                    `bson:"updatedAt"`
}

func visitAAD(id, field string) string { return "visits/" + id + "/" + field }

func (db *DB) sealVisit(v *schemas.Visit) (*visitDoc, error) {
	d := &visitDoc{ID: v.ID, CustomerID: v.CustomerID, AddressID: v.Address.AddressID, Location: v.Address.Location,
		ServiceTypeID: v.ServiceTypeID, ScheduledStart: v.ScheduledStart.UTC(), ScheduledEnd: v.ScheduledEnd.UTC(),
		TimeZone: v.TimeZone, WorkerID: v.WorkerID, Team: v.Team, Checklist: v.Checklist, Notes: v.Notes,
		Status: v.Status, OfficeStatus: v.OfficeStatus, CancelReason: v.CancelReason, ScheduleID: v.ScheduleID, OfficeEdited: v.OfficeEdited,
		PastWorkerIDs: v.PastWorkerIDs, Field: v.Field, Review: v.Review, NeedsReview: v.NeedsReview,
		Version: v.Version, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Dirty: true}
	var err error
	if d.AddressText, err = db.cipher.Seal(v.Address.Text, visitAAD(v.ID, "addressText")); err != nil {
		return nil, err
	}
	if d.AccessNotes, err = db.cipher.Seal(v.Address.AccessNotes, visitAAD(v.ID, "accessNotes")); err != nil {
		return nil, err
	}
	return d, nil
}

func (db *DB) openVisit(d *visitDoc) (*schemas.Visit, error) {
	v := &schemas.Visit{ID: d.ID, CustomerID: d.CustomerID, ServiceTypeID: d.ServiceTypeID,
		ScheduledStart: d.ScheduledStart.UTC(), ScheduledEnd: d.ScheduledEnd.UTC(), TimeZone: d.TimeZone,
		WorkerID: d.WorkerID, Team: d.Team, Checklist: d.Checklist, Notes: d.Notes, Status: d.Status, OfficeStatus: d.OfficeStatus,
		CancelReason: d.CancelReason, ScheduleID: d.ScheduleID, OfficeEdited: d.OfficeEdited, Version: d.Version,
		PastWorkerIDs: d.PastWorkerIDs, Field: d.Field, Review: d.Review, NeedsReview: d.NeedsReview,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	v.Address = schemas.VisitAddress{AddressID: d.AddressID, Location: d.Location}
	var err error
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
	_, err = db.LogVisits(ctx, v)
	return err
}

// VisitByID returns the visit, opened, or ENOTFOUND.
func (db *DB) VisitByID(ctx context.Context, id string) (*schemas.Visit, error) {
	d, err := getByID[visitDoc](ctx, db.C(colVisits), id, "visit")
	if err != nil {
		return nil, err
	}
	return db.openVisit(d)
}

// ReplaceVisit stores v if it is still at expected.
func (db *DB) ReplaceVisit(ctx context.Context, v *schemas.Visit, expected int64) error {
	d, err := db.sealVisit(v)
	if err != nil {
		return err
	}
	if err := replaceVersioned(ctx, db.C(colVisits), v.ID, expected, d, "visit"); err != nil {
		return err
	}
	_, err = db.LogVisits(ctx, v)
	return err
}

// ReplaceVisitUnlogged stores v if it is still at expected and leaves it
// marked dirty; the caller logs a batch of visits at once with LogVisits.
func (db *DB) ReplaceVisitUnlogged(ctx context.Context, v *schemas.Visit, expected int64) error {
	d, err := db.sealVisit(v)
	if err != nil {
		return err
	}
	return replaceVersioned(ctx, db.C(colVisits), v.ID, expected, d, "visit")
}

// VisitsByIDs returns the visits with the ids that exist, in id order.
func (db *DB) VisitsByIDs(ctx context.Context, ids []string) ([]schemas.Visit, error) {
	if len(ids) == 0 {
		return []schemas.Visit{}, nil
	}
	docs, err := page[visitDoc](ctx, db.C(colVisits), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, byID, 0)
	if err != nil {
		return nil, err
	}
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
	docs, err := page[visitDoc](ctx, db.C(colVisits), filter, bson.D{{Key: "scheduledStart", Value: 1}, {Key: "_id", Value: 1}}, f.Limit)
	if err != nil {
		return nil, err
	}
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
	docs, err := page[visitDoc](ctx, db.C(colVisits), filter, bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: 1}}, limit)
	if err != nil {
		return nil, err
	}
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
