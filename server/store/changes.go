package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

const colChanges = "changes"

func init() {
	Register(Migration{3, "change_log", func(ctx context.Context, db *mongo.Database) error {
		return CreateIndexes(ctx, db, map[string][]mongo.IndexModel{
			colVisits:  {{Keys: bson.D{{Key: "dirty", Value: 1}}}, {Keys: bson.D{{Key: "needsReview", Value: 1}, {Key: "team", Value: 1}}}},
			colChanges: {{Keys: bson.D{{Key: "at", Value: 1}}}},
		})
	}})
}

// Change is one entry of the change log that phones pull from. It names
// what changed, not how: the puller reads the current documents.
type Change struct {
	Seq         int64     `bson:"_id"`
	At          time.Time `bson:"at"`
	Kind        string    `bson:"kind"` // visits, catalog, customers
	VisitIDs    []string  `bson:"visitIds,omitempty"`
	Workers     []string  `bson:"workers,omitempty"` // current and earlier assignees of those visits
	CustomerIDs []string  `bson:"customerIds,omitempty"`
}

// Change kinds.
const (
	ChangeVisits    = "visits"
	ChangeCatalog   = "catalog"
	ChangeCustomers = "customers"
)

// AppendChange adds an entry at the tail of the log and returns its seq.
//
// The log has no gaps, by construction: an entry is inserted at tail+1,
// where tail is the highest entry visible, and the unique _id lets one of
// two racing writers win (the other retries at the next seq). So entry n
// can only become visible after n-1 already was, and a reader that has
// seen n has seen everything before it: reading "after my cursor" never
// skips a change that committed late. Plain counters or clock times cannot
// promise that.
func (db *DB) AppendChange(ctx context.Context, ch *Change) (int64, error) {
	// Appends from this process queue here instead of colliding on the
	// unique index; other instances still collide and retry.
	db.appendMu.Lock()
	defer db.appendMu.Unlock()
	if ch.At.IsZero() {
		ch.At = time.Now().UTC()
	}
	for attempt := 0; attempt < 100; attempt++ {
		tail, err := db.ChangeTail(ctx)
		if err != nil {
			return 0, err
		}
		ch.Seq = tail + 1
		_, err = db.C(colChanges).InsertOne(ctx, ch)
		if err == nil {
			return ch.Seq, nil
		}
		if !isDup(err) {
			return 0, fmt.Errorf("append change: %w", err)
		}
	}
	return 0, errors.New("append change: too much contention on the change log")
}

// ChangeTail is the seq of the newest entry, 0 for an empty log.
func (db *DB) ChangeTail(ctx context.Context) (int64, error) {
	var c struct {
		Seq int64 `bson:"_id"`
	}
	err := db.C(colChanges).FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&c)
	if isNoDocs(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("change log tail: %w", err)
	}
	return c.Seq, nil
}

// ChangeHead is the seq of the oldest entry still kept, 0 for an empty log.
func (db *DB) ChangeHead(ctx context.Context) (int64, error) {
	var c struct {
		Seq int64 `bson:"_id"`
	}
	err := db.C(colChanges).FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: 1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&c)
	if isNoDocs(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("change log head: %w", err)
	}
	return c.Seq, nil
}

// ChangesAfter returns up to limit entries after seq, in order.
func (db *DB) ChangesAfter(ctx context.Context, seq int64, limit int) ([]Change, error) {
	cur, err := db.C(colChanges).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: seq}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	var out []Change
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	return out, nil
}

// PruneChanges deletes entries older than before, always keeping the
// newest one so the tail (and so every seq) keeps growing.
func (db *DB) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	tail, err := db.ChangeTail(ctx)
	if err != nil || tail == 0 {
		return 0, err
	}
	res, err := db.C(colChanges).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: tail}}}})
	if err != nil {
		return 0, fmt.Errorf("prune change log: %w", err)
	}
	return res.DeletedCount, nil
}

// LogVisits appends one entry for the visits just written and clears
// their dirty marks. If the process dies before this, the marks stay and
// RelayDirty logs the visits later: a change is never left out of the log.
func (db *DB) LogVisits(ctx context.Context, vs ...*schemas.Visit) (int64, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	ch := &Change{Kind: ChangeVisits}
	for _, v := range vs {
		ch.VisitIDs = append(ch.VisitIDs, v.ID)
		ch.CustomerIDs = appendUnique(ch.CustomerIDs, v.CustomerID)
		if v.WorkerID != "" {
			ch.Workers = appendUnique(ch.Workers, v.WorkerID)
		}
		for _, w := range v.PastWorkerIDs {
			ch.Workers = appendUnique(ch.Workers, w)
		}
	}
	seq, err := db.AppendChange(ctx, ch)
	if err != nil {
		return 0, err
	}
	models := make([]mongo.WriteModel, 0, len(vs))
	for _, v := range vs {
		// Only the version just logged: a newer write logs itself.
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: v.ID}, {Key: "version", Value: v.Version}, {Key: "dirty", Value: true}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "dirty", Value: false}}}}))
	}
	if _, err := db.C(colVisits).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
		return seq, fmt.Errorf("clear dirty marks: %w", err)
	}
	return seq, nil
}

// RelayDirty logs visits written but never logged (the writer died between
// the two steps) and returns how many it found.
func (db *DB) RelayDirty(ctx context.Context) (int, error) {
	docs, err := page[visitDoc](ctx, db.C(colVisits), bson.D{{Key: "dirty", Value: true}}, byID, 500)
	if err != nil {
		return 0, err
	}
	if len(docs) == 0 {
		return 0, nil
	}
	vs := make([]*schemas.Visit, 0, len(docs))
	for i := range docs {
		v, err := db.openVisit(&docs[i])
		if err != nil {
			return 0, err
		}
		vs = append(vs, v)
	}
	_, err = db.LogVisits(ctx, vs...)
	return len(vs), err
}

func appendUnique(xs []string, x string) []string {
	if x == "" || slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}
