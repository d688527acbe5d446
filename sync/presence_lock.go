package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/server/store"
)

// A six-digit code checked with one step of slack is guessed once in about
// 333,000 tries; a phone can send 500 in one push. So a visit's wrong codes
// are counted, and after PresenceMaxWrong of them the visit's code is
// locked for PresenceLockFor: later codes, right ones too, are not checked
// (the check-in itself is kept, as every fact is) and the team is alerted
// once per lock. When the lock runs out a new count starts.
//
// The count is one document per visit, changed only by single-document
// atomic updates, so concurrent pushes from several phones or instances
// count every wrong code; it lists the records it counted, so a batch
// retried after a crash, or the same batch through two instances, counts
// each code once.

const colPresenceLocks = "presence_locks"

// presenceGuard counts the wrong presence codes of one visit.
type presenceGuard struct {
	ID          string    `bson:"_id"`         // the visit id
	Lock        int64     `bson:"lock"`        // locks that ran out: each starts a new count
	Wrong       int       `bson:"wrong"`       // wrong codes counted since
	LastWrongAt time.Time `bson:"lastWrongAt"` // the lock runs from the last one counted
	Counted     []string  `bson:"counted"`     // ids of the records counted
}

func (g *presenceGuard) locked(l Limits, now time.Time) bool {
	return g.Wrong >= l.PresenceMaxWrong && now.Before(g.LastWrongAt.Add(l.PresenceLockFor))
}

func (e *Engine) presenceGuard(ctx context.Context, visitID string) (*presenceGuard, error) {
	g := &presenceGuard{ID: visitID}
	err := e.db.C(colPresenceLocks).FindOne(ctx, bson.D{{Key: "_id", Value: visitID}}).Decode(g)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("read presence code count: %w", err)
	}
	return g, nil
}

// checkPresence checks the presence codes of new check-ins and check-outs,
// in the order they arrived, against the visit's count of wrong codes.
// Each record keeps the verdict, so a record read back is never checked
// (or counted) again.
func (e *Engine) checkPresence(ctx context.Context, visitID string, recs []*Record) error {
	if e.presence == nil {
		return nil
	}
	var g *presenceGuard
	for _, r := range recs {
		if (r.Kind != KindCheckIn && r.Kind != KindCheckOut) || r.Payload.PresenceCode == "" || r.PresenceValid != nil || r.PresenceLock != 0 {
			continue
		}
		now := e.now().UTC()
		var err error
		if g == nil {
			if g, err = e.presenceGuard(ctx, visitID); err != nil {
				return err
			}
		}
		if g.locked(e.limits, now) {
			r.PresenceLock = g.Lock + 1
			continue
		}
		ok, step := e.presence.Verify(visitID, r.Payload.PresenceCode, r.CorrectedAt)
		if ok {
			// Another phone's wrong codes may have locked it since.
			if g, err = e.presenceGuard(ctx, visitID); err != nil {
				return err
			}
			if g.locked(e.limits, now) {
				r.PresenceLock = g.Lock + 1
				continue
			}
			r.PresenceValid, r.PresenceStep = &ok, step
			continue
		}
		if g, err = e.countWrong(ctx, visitID, r.ID, now); err != nil {
			return err
		}
		r.PresenceValid = &ok
		if g.Wrong >= e.limits.PresenceMaxWrong {
			r.PresenceLock = g.Lock + 1 // this code completed the lock (or came with it)
		}
	}
	return nil
}

// countWrong counts a wrong code of record recID once, and returns the
// count after it.
func (e *Engine) countWrong(ctx context.Context, visitID, recID string, now time.Time) (*presenceGuard, error) {
	col := e.db.C(colPresenceLocks)
	for range 10 {
		g, err := e.presenceGuard(ctx, visitID)
		if err != nil {
			return nil, err
		}
		if slices.Contains(g.Counted, recID) {
			return g, nil
		}
		if g.Wrong >= e.limits.PresenceMaxWrong && !g.locked(e.limits, now) {
			// The lock ran out: a new count starts. Conditional on the lock
			// number, so of racing resets one wins.
			_, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: visitID}, {Key: "lock", Value: g.Lock}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "wrong", Value: 0}}}, {Key: "$inc", Value: bson.D{{Key: "lock", Value: 1}}}})
			if err != nil {
				return nil, fmt.Errorf("reset presence code count: %w", err)
			}
			continue
		}
		var out presenceGuard
		err = col.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: visitID}, {Key: "lock", Value: g.Lock}, {Key: "counted", Value: bson.D{{Key: "$ne", Value: recID}}}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "wrong", Value: 1}}}, {Key: "$max", Value: bson.D{{Key: "lastWrongAt", Value: now}}},
				{Key: "$push", Value: bson.D{{Key: "counted", Value: recID}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&out)
		switch {
		case err == nil:
			return &out, nil
		case store.IsDuplicate(err), errors.Is(err, mongo.ErrNoDocuments):
			// Counted meanwhile, or the lock moved on: read again.
			continue
		default:
			return nil, fmt.Errorf("count wrong presence code: %w", err)
		}
	}
	return nil, errors.New("count wrong presence code: too much contention")
}
