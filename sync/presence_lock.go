package sync

import (
	"context"

	"fieldsync/store"
)

// A six-digit code checked with one step of slack is guessed once in about
// 333,000 tries; a phone can send 500 in one push. So a visit's wrong codes
// are counted, and after PresenceMaxWrong of them the visit's code is
// locked for PresenceLockFor: later codes, right ones too, are not checked
// (the check-in itself is kept, as every fact is) and the team is alerted
// once per lock. When the lock runs out a new count starts.
//
// The count is one document per visit (fieldsync/store's
// CountWrongPresence), changed only by single-document conditional writes,
// so concurrent pushes from several phones or instances count every wrong
// code; it lists the records it counted, so a batch retried after a crash,
// or the same batch through two instances, counts each code once.

// checkPresence checks the presence codes of new check-ins, check-outs and
// scope changes, in the order they arrived, against the visit's count of
// wrong codes.
// Each record keeps the verdict, so a record read back is never checked
// (or counted) again.
func (e *Engine) checkPresence(ctx context.Context, visitID string, recs []*Record) error {
	if e.presence == nil {
		return nil
	}
	maxWrong, lockFor := e.limits.PresenceMaxWrong, e.limits.PresenceLockFor
	var g *store.PresenceCount
	for _, r := range recs {
		if (r.Kind != KindCheckIn && r.Kind != KindCheckOut && r.Kind != KindScope) || r.Payload.PresenceCode == "" || r.PresenceValid != nil || r.PresenceLock != 0 {
			continue
		}
		now := e.now().UTC()
		if g == nil {
			c, err := e.ops.Presence(ctx, visitID)
			if err != nil {
				return err
			}
			g = &c
		}
		if g.Locked(maxWrong, lockFor, now) {
			r.PresenceLock = g.Lock + 1
			continue
		}
		ok, step := e.presence.Verify(visitID, r.Payload.PresenceCode, r.CorrectedAt)
		if ok {
			// Another phone's wrong codes may have locked it since.
			c, err := e.ops.Presence(ctx, visitID)
			if err != nil {
				return err
			}
			if g = &c; g.Locked(maxWrong, lockFor, now) {
				r.PresenceLock = g.Lock + 1
				continue
			}
			r.PresenceValid, r.PresenceStep = &ok, step
			continue
		}
		c, err := e.ops.CountWrongPresence(ctx, visitID, r.ID, maxWrong, lockFor)
		if err != nil {
			return err
		}
		g = &c
		r.PresenceValid = &ok
		if g.Wrong >= maxWrong {
			r.PresenceLock = g.Lock + 1 // this code completed the lock (or came with it)
		}
	}
	return nil
}
