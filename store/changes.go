package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"fieldsync/store/doc"
)

const colChanges = "changes"

// changeCollections are the collections Changes writes. The log needs no
// index of its own: an entry's _id is its seq, zero-padded, so the
// implicit _id index orders the log and every read is a range of it.
var changeCollections = []doc.Collection{
	{Name: colChanges},
}

// Changes stores the change log phones pull from.
//
// The log has no gaps, by construction: an entry is inserted at tail+1,
// where tail is an entry known to exist, and the unique _id lets one of
// two racing writers (two instances) win; the loser reads the tail again
// and moves on. So entry n can only exist after n-1 did, and a reader
// that has seen n has seen everything before it: reading "after my
// cursor" never skips a change that committed late. Plain counters or
// clock times cannot promise that. Every step is a point operation or a
// short range of the _id index, so the cost does not grow with the log.
type Changes struct {
	s *Store
	// tail is an entry this process knows exists (0: none known): a hint
	// that saves the read of the tail when this process is the only
	// writer. Being behind is fine; it is never ahead.
	tail atomic.Int64
}

// Change is one entry of the change log that phones pull from. It names
// what changed, not how: the puller reads the current documents.
type Change struct {
	ID          string    `bson:"_id"` // Seq, zero-padded, so that ids sort as seqs
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

// Sources of visit changes.
const (
	SourceOffice = "office"
	SourceSync   = "sync"
)

// metaChangeHead is the Meta key of the oldest seq kept, raised by pruning
// before it deletes, so a reader resyncs rather than miss an entry.
const metaChangeHead = "changes.head"

func seqID(n int64) string { return fmt.Sprintf("%020d", n) }

// Append adds an entry at the tail of the log, stamped with the store's
// clock unless it has a time, and returns its seq.
func (c *Changes) Append(ctx context.Context, ch *Change) (int64, error) {
	if ch.At.IsZero() {
		ch.At = c.s.now().UTC()
	}
	tail := c.tail.Load()
	if tail == 0 {
		var err error
		if tail, err = c.Tail(ctx); err != nil {
			return 0, err
		}
	}
	for attempt := 0; ; attempt++ {
		ch.Seq = tail + 1
		ch.ID = seqID(ch.Seq)
		_, err := doc.Insert(ctx, c.s.engine, colChanges, ch)
		if err == nil {
			c.raiseHint(ch.Seq)
			return ch.Seq, nil
		}
		if !errors.Is(err, doc.ErrDuplicate) {
			return 0, fmt.Errorf("append change: %w", err)
		}
		if attempt >= 1000 {
			return 0, errors.New("append change: too much contention on the change log")
		}
		// Another writer took that seq: read the tail again.
		if tail, err = c.Tail(ctx); err != nil {
			return 0, err
		}
		tail = max(tail, ch.Seq)
		if attempt > 2 {
			// Many writers are colliding: spread them out a little.
			if err := changeWait(ctx, time.Duration(attempt%8)*100*time.Microsecond); err != nil {
				return 0, fmt.Errorf("append change: %w", err)
			}
		}
	}
}

func (c *Changes) raiseHint(seq int64) {
	for {
		old := c.tail.Load()
		if old >= seq || c.tail.CompareAndSwap(old, seq) {
			return
		}
	}
}

func changeWait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Tail is the seq of the newest entry, 0 for an empty log: the last key
// of the _id index, one read whatever the log's length.
func (c *Changes) Tail(ctx context.Context) (int64, error) {
	p, err := c.s.engine.Scan(ctx, colChanges, doc.Query{Index: doc.ByID, Desc: true, Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("read change log tail: %w", err)
	}
	if len(p.Docs) == 0 {
		return 0, nil
	}
	var ch Change
	if err := p.Docs[0].Decode(&ch); err != nil {
		return 0, fmt.Errorf("read change log tail: %w", err)
	}
	c.raiseHint(ch.Seq)
	return ch.Seq, nil
}

// Head is the oldest seq still kept (1 until anything is pruned).
func (c *Changes) Head(ctx context.Context) (int64, error) {
	h, err := c.s.Meta.Int(ctx, metaChangeHead)
	if err != nil {
		return 0, fmt.Errorf("read change log head: %w", err)
	}
	return max(h, 1), nil
}

// After returns up to limit entries after seq, in order: one range read of
// the _id index, so its cost grows with the entries returned, not with
// the log. It stops before any gap (an entry committing while a MongoDB
// scan passed its place, or one pruned under it): what it returns is
// always the gap-free run from seq+1.
func (c *Changes) After(ctx context.Context, seq int64, limit int) ([]Change, error) {
	if limit < 1 {
		return nil, nil
	}
	p, err := c.s.engine.Scan(ctx, colChanges, doc.Query{Index: doc.ByID, Range: doc.Range{Gt: seqID(seq)}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	out := make([]Change, 0, len(p.Docs))
	for _, d := range p.Docs {
		var ch Change
		if err := d.Decode(&ch); err != nil {
			return nil, fmt.Errorf("read change log: %w", err)
		}
		if ch.Seq != seq+int64(len(out))+1 {
			break
		}
		out = append(out, ch)
	}
	return out, nil
}

// Prune deletes entries older than before, oldest first, always keeping
// the newest one so seqs keep growing, and returns how many it deleted.
// It raises the head first: a reader then resyncs rather than miss an
// entry.
func (c *Changes) Prune(ctx context.Context, before time.Time) (int64, error) {
	tail, err := c.Tail(ctx)
	if err != nil || tail == 0 {
		return 0, err
	}
	head, err := c.Head(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for head < tail {
		p, err := c.s.engine.Scan(ctx, colChanges, doc.Query{Index: doc.ByID,
			Range: doc.Range{Gte: seqID(head), Lt: seqID(tail)}, Limit: 200})
		if err != nil {
			return n, fmt.Errorf("prune change log: %w", err)
		}
		var old []string
		last := int64(0)
		for _, d := range p.Docs {
			var ch Change
			if err := d.Decode(&ch); err != nil {
				return n, fmt.Errorf("prune change log: %w", err)
			}
			if !ch.At.Before(before) {
				break
			}
			old, last = append(old, d.ID), ch.Seq
		}
		if len(old) == 0 {
			if len(p.Docs) == 0 {
				// Only missing entries below the tail. On MongoDB one may
				// still be committing: move the head up to the tail only
				// when the tail itself is past the retention, so every
				// entry below it is too.
				tp, err := c.s.engine.Scan(ctx, colChanges, doc.Query{Index: doc.ByID, Range: doc.Range{Gte: seqID(tail)}, Limit: 1})
				if err != nil {
					return n, fmt.Errorf("prune change log: %w", err)
				}
				var last Change
				if len(tp.Docs) == 1 {
					if err := tp.Docs[0].Decode(&last); err != nil {
						return n, fmt.Errorf("prune change log: %w", err)
					}
				}
				if len(tp.Docs) == 1 && last.At.Before(before) {
					return n, c.raiseHead(ctx, tail)
				}
			}
			return n, nil
		}
		if err := c.raiseHead(ctx, last+1); err != nil {
			return n, fmt.Errorf("prune change log: %w", err)
		}
		for _, id := range old {
			if err := c.s.engine.Delete(ctx, colChanges, id, 0); err != nil && !errors.Is(err, doc.ErrNotFound) {
				return n, fmt.Errorf("prune change log: %w", err)
			}
			n++
		}
		if len(old) < len(p.Docs) {
			return n, nil
		}
		head = last + 1
	}
	return n, nil
}

func (c *Changes) raiseHead(ctx context.Context, head int64) error {
	return c.s.Meta.Raise(ctx, metaChangeHead, head)
}

func addOnce(xs []string, x string) []string {
	if x == "" || slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}
