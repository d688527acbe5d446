package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"fieldsync/schemas"
)

const colAlerts = "alerts"

// ListAlerts returns the alerts of a team ("" for the admins' own, with
// no team; all when all is set), newest first.
func (db *DB) ListAlerts(ctx context.Context, team string, all bool, limit int) ([]schemas.Alert, error) {
	filter := bson.D{}
	if !all {
		filter = append(filter, bson.E{Key: "team", Value: team})
	}
	as, err := page[schemas.Alert](ctx, db.C(colAlerts), filter, bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: 1}}, limit)
	if err != nil {
		return nil, err
	}
	for i := range as {
		if as[i].State == "" {
			as[i].State = schemas.AlertOpen
		}
		if as[i].Count == 0 {
			as[i].Count = 1 // recorded before coalescing, or by sync
		}
	}
	return as, nil
}

// MaxAlertCauses is how many causes one coalesced alert counts; the next
// cause starts a new alert (and a new notification), so no document grows
// without bound.
const MaxAlertCauses = 500

var nsAlerts = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/alerts"))

// RaiseAlert records a, coalesced with the open alert of its group (same
// kind, priority and subject, e.g. a customer or a visit) in the same
// window of the clock (a.CreatedAt truncated to window): the group's alert
// counts one more cause instead of a new alert being made. The alert's id
// derives from the group, the window and a generation (a new generation
// starts when the window's alert was acknowledged or resolved, or is
// full), so instances racing on one group meet on the same id. Raising the
// same cause again changes nothing. It sets a.ID and reports whether the
// cause is the alert's first: only then is it notified, so a flood sends
// one notification, and a retried first cause notifies again (the
// notification's dedupe key makes that a no-op). window <= 0 is no
// coalescing.
func (db *DB) RaiseAlert(ctx context.Context, a *schemas.Alert, group, cause string, window time.Duration) (first bool, err error) {
	bucket := a.CreatedAt.UTC()
	if window > 0 {
		bucket = bucket.Truncate(window)
	} else {
		group += "/" + cause
	}
	err = db.C(colAlerts).Locked(ctx, func(raw *mongo.Collection, embedded bool) error {
		gen := 0
		for attempt := 0; attempt < 50; attempt++ {
			id := uuid.NewSHA1(nsAlerts, fmt.Appendf(nil, "%s/%d/%d", group, bucket.UnixNano(), gen)).String()
			var cur schemas.Alert
			err := raw.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
			switch {
			case isNoDocs(err):
				doc := *a
				doc.ID, doc.Group, doc.Count, doc.Causes, doc.LastAt = id, group, 1, []string{cause}, nil
				if _, err := raw.InsertOne(ctx, &doc); err != nil {
					if isDup(err) {
						continue // another instance made it: read it again
					}
					return fmt.Errorf("record alert: %w", err)
				}
				a.ID, first = id, true
				return nil
			case err != nil:
				return fmt.Errorf("read alert: %w", err)
			}
			if slices.Contains(cur.Causes, cause) {
				a.ID, first = id, cur.Causes[0] == cause
				return nil
			}
			open := cur.State == "" || cur.State == schemas.AlertOpen
			if !open || len(cur.Causes) >= MaxAlertCauses {
				gen++
				continue
			}
			// Conditional on what was read: on MongoDB (no lock) a
			// concurrent change makes this match nothing, and it is read
			// again.
			filter := bson.D{{Key: "_id", Value: id}, {Key: "count", Value: cur.Count}, {Key: "state", Value: cur.State}}
			if cur.State == "" {
				filter[2].Value = bson.D{{Key: "$in", Value: bson.A{"", nil}}}
			}
			if embedded {
				filter = filter[:1] // the lock is held; FerretDB would scan for the rest
			}
			res, err := raw.UpdateOne(ctx, filter, bson.D{
				{Key: "$push", Value: bson.D{{Key: "causes", Value: cause}}},
				{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}},
				{Key: "$set", Value: bson.D{{Key: "lastAt", Value: a.CreatedAt.UTC()}}},
			})
			if err != nil {
				return fmt.Errorf("count alert: %w", err)
			}
			if res.MatchedCount == 1 {
				a.ID = id
				return nil
			}
		}
		return schemas.Errorf(schemas.ECONFLICT, "alert %s kept changing; retry", group)
	})
	return first, err
}

// UpdateAlert applies change to the alert under the collection's lock (a
// point read and a replace: atomic on both stores) and returns it before
// and after.
func (db *DB) UpdateAlert(ctx context.Context, id string, change func(*schemas.Alert) error) (before, after *schemas.Alert, err error) {
	err = db.C(colAlerts).Locked(ctx, func(raw *mongo.Collection, embedded bool) error {
		var a schemas.Alert
		if err := raw.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
			if isNoDocs(err) {
				return notFound("alert")
			}
			return fmt.Errorf("read alert: %w", err)
		}
		if a.State == "" {
			a.State = schemas.AlertOpen
		}
		if a.Count == 0 {
			a.Count = 1
		}
		b := a
		if err := change(&a); err != nil {
			return err
		}
		// Conditional on the state read: on MongoDB (no lock) a concurrent
		// change makes this match nothing, reported as a conflict.
		stateFilter := bson.A{b.State}
		if b.State == schemas.AlertOpen {
			stateFilter = append(stateFilter, "", nil)
		}
		filter := bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$in", Value: stateFilter}}}}
		if embedded {
			filter = filter[:1] // the lock is held; FerretDB would scan for the rest
		}
		res, err := raw.ReplaceOne(ctx, filter, a)
		if err != nil {
			return fmt.Errorf("write alert: %w", err)
		}
		if res.MatchedCount == 0 {
			return schemas.Errorf(schemas.ECONFLICT, "the alert changed meanwhile; reload")
		}
		before, after = &b, &a
		return nil
	})
	return before, after, err
}

const colComplaints = "complaints"

// InsertComplaint stores a new complaint.
func (db *DB) InsertComplaint(ctx context.Context, c *schemas.Complaint) error {
	if _, err := db.C(colComplaints).InsertOne(ctx, c); err != nil {
		return fmt.Errorf("insert complaint: %w", err)
	}
	return nil
}

// ComplaintByID returns the complaint or ENOTFOUND.
func (db *DB) ComplaintByID(ctx context.Context, id string) (*schemas.Complaint, error) {
	return getByID[schemas.Complaint](ctx, db.C(colComplaints), id, "complaint")
}

// ListComplaints returns complaints of a customer, or of a team, or all
// (both empty), newest first.
func (db *DB) ListComplaints(ctx context.Context, customerID, team string, limit int) ([]schemas.Complaint, error) {
	filter := bson.D{}
	if customerID != "" {
		filter = append(filter, bson.E{Key: "customerId", Value: customerID})
	}
	if team != "" {
		filter = append(filter, bson.E{Key: "team", Value: team})
	}
	return page[schemas.Complaint](ctx, db.C(colComplaints), filter, bson.D{{Key: "receivedAt", Value: -1}, {Key: "_id", Value: 1}}, limit)
}

// ReplaceComplaint stores c if it is still at expected.
func (db *DB) ReplaceComplaint(ctx context.Context, c *schemas.Complaint, expected int64) error {
	return replaceVersioned(ctx, db.C(colComplaints), c.ID, expected, c, "complaint")
}

const colIncidents = "incidents"

// IncidentByID returns the incident or ENOTFOUND.
func (db *DB) IncidentByID(ctx context.Context, id string) (*schemas.Incident, error) {
	return getByID[schemas.Incident](ctx, db.C(colIncidents), id, "incident")
}

// ListIncidents returns incidents of a team or of a worker (or all),
// newest first.
func (db *DB) ListIncidents(ctx context.Context, team, workerID string, limit int) ([]schemas.Incident, error) {
	filter := bson.D{}
	if team != "" {
		filter = append(filter, bson.E{Key: "team", Value: team})
	}
	if workerID != "" {
		filter = append(filter, bson.E{Key: "workerId", Value: workerID})
	}
	return page[schemas.Incident](ctx, db.C(colIncidents), filter, bson.D{{Key: "reportedAt", Value: -1}, {Key: "_id", Value: 1}}, limit)
}

// ReplaceIncident stores i if it is still at expected.
func (db *DB) ReplaceIncident(ctx context.Context, i *schemas.Incident, expected int64) error {
	return replaceVersioned(ctx, db.C(colIncidents), i.ID, expected, i, "incident")
}

const colFollowUps = "followups"

// InsertFollowUp records a follow-up unless the visit has one.
func (db *DB) InsertFollowUp(ctx context.Context, f *schemas.FollowUp) error {
	if _, err := db.C(colFollowUps).InsertOne(ctx, f); err != nil && !isDup(err) {
		return fmt.Errorf("insert follow-up: %w", err)
	}
	return nil
}

// FollowUpByID returns the follow-up or ENOTFOUND.
func (db *DB) FollowUpByID(ctx context.Context, id string) (*schemas.FollowUp, error) {
	return getByID[schemas.FollowUp](ctx, db.C(colFollowUps), id, "follow-up")
}

// ListFollowUps returns a team's follow-ups (all teams for ""), soonest due first.
func (db *DB) ListFollowUps(ctx context.Context, team string, limit int) ([]schemas.FollowUp, error) {
	filter := bson.D{}
	if team != "" {
		filter = append(filter, bson.E{Key: "team", Value: team})
	}
	return page[schemas.FollowUp](ctx, db.C(colFollowUps), filter, bson.D{{Key: "dueAt", Value: 1}, {Key: "_id", Value: 1}}, limit)
}

// ReplaceFollowUp stores f if it is still at expected.
func (db *DB) ReplaceFollowUp(ctx context.Context, f *schemas.FollowUp, expected int64) error {
	return replaceVersioned(ctx, db.C(colFollowUps), f.ID, expected, f, "follow-up")
}
