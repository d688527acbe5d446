package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

const colChanges = "changes"

func init() {
	Register(Migration{3, "change_log", func(ctx context.Context, db *DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colVisits:  {{Keys: bson.D{{Key: "dirty", Value: 1}}}, {Keys: bson.D{{Key: "needsReview", Value: 1}, {Key: "team", Value: 1}}}},
			colChanges: {{Keys: bson.D{{Key: "seq", Value: 1}}}},
		})
	}})
}

// Change is one entry of the change log that phones pull from. It names
// what changed, not how: the puller reads the current documents.
type Change struct {
	ID          string    `bson:"_id"` // Seq, zero-padded: FerretDB finds string ids by point lookup
	Seq         int64     `bson:"seq"`
	At          time.Time `bson:"at"`
	Kind        string    `bson:"kind"`             // visits, catalog, customers
	Source      string    `bson:"source,omitempty"` // office or sync: who wrote the visits
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

func seqID(n int64) string { return fmt.Sprintf("%020d", n) }

const (
	metaChangeHead = "changes.head" // the oldest seq kept, written by pruning
	metaChangeTail = "changes.tail" // a recent tail, so a new process finds the tail fast
)

// tailState is this process's knowledge of the log's tail.
type tailState struct {
	mu      sync.Mutex // serialises this process's appends
	known   int64      // an entry known to exist (or 0)
	loaded  bool
	appends int
}

// AppendChange adds an entry at the tail of the log and returns its seq.
//
// The log has no gaps, by construction: an entry is inserted at tail+1,
// where tail is the highest entry that exists, and the unique _id lets one
// of two racing writers (two instances) win; the other moves on. So entry n
// can only exist after n-1 did, and a reader that has seen n has seen
// everything before it: reading "after my cursor" never skips a change
// that committed late. Plain counters or clock times cannot promise that.
// Every step is a point operation on _id, so the cost does not grow with
// the log.
func (db *DB) AppendChange(ctx context.Context, ch *Change) (int64, error) {
	t := db.tail
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch.At.IsZero() {
		ch.At = db.Now().UTC()
	}
	tail, err := db.findTail(ctx)
	if err != nil {
		return 0, err
	}
	for attempt := 0; attempt < 100; attempt++ {
		ch.Seq = tail + 1
		ch.ID = seqID(ch.Seq)
		_, err := db.C(colChanges).InsertOne(ctx, ch)
		if err == nil {
			t.known = ch.Seq
			if t.appends++; t.appends%64 == 0 {
				// A hint for processes starting later; being behind is fine.
				_ = db.setMeta(ctx, metaChangeTail, ch.Seq)
			}
			return ch.Seq, nil
		}
		if !isDup(err) {
			return 0, fmt.Errorf("append change: %w", err)
		}
		// Another instance took that seq: find the new tail.
		t.known = ch.Seq
		if tail, err = db.findTail(ctx); err != nil {
			return 0, err
		}
	}
	return 0, errors.New("append change: too much contention on the change log")
}

func (db *DB) changeExists(ctx context.Context, seq int64) (bool, error) {
	if seq <= 0 {
		return true, nil
	}
	// FindOne, not CountDocuments: a count runs as an aggregation, which
	// FerretDB answers by scanning the collection.
	err := db.C(colChanges).FindOne(ctx, bson.D{{Key: "_id", Value: seqID(seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if isNoDocs(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read change log: %w", err)
	}
	return true, nil
}

// findTail gallops forward from the last entry known to exist: one point
// read when this process is the only writer, O(log n) otherwise.
func (db *DB) findTail(ctx context.Context) (int64, error) {
	t := db.tail
	if !t.loaded {
		hint, err := db.meta(ctx, metaChangeTail)
		if err != nil {
			return 0, err
		}
		head, err := db.meta(ctx, metaChangeHead)
		if err != nil {
			return 0, err
		}
		t.known, t.loaded = max(hint, head-1, 0), true
		if ok, err := db.changeExists(ctx, t.known); err != nil {
			return 0, err
		} else if !ok {
			t.known = 0
		}
	}
	lo := t.known // exists
	step := int64(1)
	for {
		ok, err := db.changeExists(ctx, lo+step)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo += step
		step *= 2
	}
	hi := lo + step // does not exist
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := db.changeExists(ctx, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.known = lo
	return lo, nil
}

// ChangeTail is the seq of the newest entry, 0 for an empty log.
func (db *DB) ChangeTail(ctx context.Context) (int64, error) {
	db.tail.mu.Lock()
	defer db.tail.mu.Unlock()
	return db.findTail(ctx)
}

// ChangeHead is the oldest seq still kept (1 until anything is pruned).
func (db *DB) ChangeHead(ctx context.Context) (int64, error) {
	h, err := db.meta(ctx, metaChangeHead)
	return max(h, 1), err
}

// ChangesAfter returns up to limit entries after seq, in order, by point
// reads: cost grows with the entries returned, not with the log.
func (db *DB) ChangesAfter(ctx context.Context, seq int64, limit int) ([]Change, error) {
	var out []Change
	for i := int64(1); i <= int64(limit); i++ {
		var c Change
		err := db.C(colChanges).FindOne(ctx, bson.D{{Key: "_id", Value: seqID(seq + i)}}).Decode(&c)
		if isNoDocs(err) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read change log: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// PruneChanges deletes entries older than before, oldest first, always
// keeping the newest one so seqs keep growing, and records the new head.
func (db *DB) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	tail, err := db.ChangeTail(ctx)
	if err != nil || tail == 0 {
		return 0, err
	}
	head, err := db.ChangeHead(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for ; head < tail; head++ {
		var c Change
		err := db.C(colChanges).FindOne(ctx, bson.D{{Key: "_id", Value: seqID(head)}}).Decode(&c)
		if err == nil && !c.At.Before(before) {
			break
		}
		if err != nil && !isNoDocs(err) {
			return n, fmt.Errorf("prune change log: %w", err)
		}
		// Raise the head first: a reader then resyncs rather than miss the entry.
		if err := db.setMeta(ctx, metaChangeHead, head+1); err != nil {
			return n, err
		}
		if _, err := db.C(colChanges).DeleteOne(ctx, bson.D{{Key: "_id", Value: seqID(head)}}); err != nil {
			return n, fmt.Errorf("prune change log: %w", err)
		}
		n++
	}
	return n, nil
}

// Sources of visit changes.
const (
	SourceOffice = "office"
	SourceSync   = "sync"
)

// Meta reads a counter kept under key (0 when unset).
func (db *DB) Meta(ctx context.Context, key string) (int64, error) { return db.meta(ctx, key) }

// SetMeta raises the counter under key to n (never lowers it).
func (db *DB) SetMeta(ctx context.Context, key string, n int64) error { return db.setMeta(ctx, key, n) }

func (db *DB) meta(ctx context.Context, key string) (int64, error) {
	var m struct {
		N int64 `bson:"n"`
	}
	err := db.C(colMeta).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&m)
	if isNoDocs(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	return m.N, nil
}

func (db *DB) setMeta(ctx context.Context, key string, n int64) error {
	_, err := db.C(colMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: n}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// LogVisits appends one entry for the visits just written and clears
// their dirty marks. If the process dies before this, the marks stay and
// RelayDirty logs the visits later: a change is never left out of the log.
func (db *DB) LogVisits(ctx context.Context, source string, vs ...*schemas.Visit) (int64, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	ch := &Change{Kind: ChangeVisits, Source: source}
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
	for _, v := range vs {
		// Only the version just logged: a newer write logs itself.
		if _, err := db.C(colVisits).UpdateIfVersion(ctx, v.ID, v.Version, bson.D{{Key: "$set", Value: bson.D{{Key: "dirty", Value: false}}}}); err != nil {
			return seq, fmt.Errorf("clear dirty mark: %w", err)
		}
	}
	return seq, nil
}

// RelayDirty logs visits written more than grace ago but never logged (the
// writer died between the two steps) and returns how many it found. The
// grace keeps it from racing writers that are about to log.
func (db *DB) RelayDirty(ctx context.Context, now time.Time, grace time.Duration) (int, error) {
	docs, err := page[visitDoc](ctx, db.C(colVisits), bson.D{{Key: "dirty", Value: true}}, byID, 500, "syncState")
	if err != nil {
		return 0, err
	}
	vs := make([]*schemas.Visit, 0, len(docs))
	for i := range docs {
		if docs[i].UpdatedAt.After(now.Add(-grace)) {
			continue
		}
		v, err := db.openVisit(&docs[i])
		if err != nil {
			return 0, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return 0, nil
	}
	_, err = db.LogVisits(ctx, SourceOffice, vs...)
	return len(vs), err
}

func appendUnique(xs []string, x string) []string {
	if x == "" || slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}
