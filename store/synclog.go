package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

// The sync log is what the sync engine knows of the phones' operations:
//
//   - sync_ops: every operation received, once, under an id derived from
//     its cause (user/device/seq, or customer/user/opId for the
//     customer's app), with the outcome it got; a duplicate is answered
//     from it, found by its seq or by its opId. Its personal parts are sealed (see sealSyncOp).
//   - sync_devices: per phone of a user, the highest seq applied, a
//     pending gap, versions and counters, changed only by conditional
//     read-modify-replace, so racing pushes lose nothing and the seq never
//     moves back.
//   - presence_locks: per visit, the count of wrong presence codes that
//     locks the code (see CountWrongPresence).
const (
	colSyncOps       = "sync_ops"
	colSyncDevices   = "sync_devices"
	colPresenceLocks = "presence_locks"
)

// syncLogCollections are the collections SyncLog writes.
var syncLogCollections = []doc.Collection{
	{Name: colSyncOps, Indexes: []doc.Index{
		// A visit's records (tests, whole-visit checks).
		{Name: "byVisit", Fields: []string{"visitId"}},
		// A device's rejections of the last day, for its health view.
		{Name: "byDeviceStatus", Fields: []string{"userId", "deviceId", "status", "receivedAt"}},
		// A device's records of one operation: a phone that renumbered an
		// operation (after seq_taken, or from nextSeq at sign-in) whose
		// first send was recorded is answered from that record.
		{Name: "byDeviceOp", Fields: []string{"userId", "deviceId", "opId"}},
	}},
	{Name: colSyncDevices, Indexes: []doc.Index{
		{Name: "byPush", Fields: []string{"lastPushAt"}},
		{Name: "byTeam", Fields: []string{"team", "lastPushAt"}},
		{Name: "byWorker", Fields: []string{"workerId", "lastPushAt"}},
	}},
	{Name: colPresenceLocks},
}

// SyncLog stores the sync log: operations received, devices, presence locks.
type SyncLog struct{ s *Store }

// syncOpDoc is a record as stored: its payload without the personal parts,
// which are sealed into Sealed.
type syncOpDoc struct {
	schemas.SyncRecord `bson:",inline"`
	Sealed             string `bson:"sealed,omitempty"`
}

// syncSealed are the personal parts of an operation's payload: the phone's
// position (at a check-in it is the household's exact home, sensitive
// under PIPL) and every free text (a manual check-in's reason, notes,
// progress text, an incident's description, the signer's name and comment,
// disputed items' reasons), where health, infants or religion end up ("the
// grandmother fell", "baby asleep, do not ring"). What the engine and
// queries read stays clear: kinds, item ids, verdicts, ratings, photo
// hashes, the category and severity of an incident, the presence code (a
// short-lived check, not about the household).
type syncSealed struct {
	Location    *schemas.GeoFix `json:"l,omitempty"`
	Reason      string          `json:"r,omitempty"`
	Text        string          `json:"t,omitempty"`
	SignerName  string          `json:"s,omitempty"`
	Comment     string          `json:"c,omitempty"`
	ItemReasons []string        `json:"i,omitempty"` // per Items, in order
	// The payload's fields the server did not know when it was recorded:
	// they may be anything, so they are sealed.
	Extra map[string]json.RawMessage `json:"x,omitempty"`
	// A changeScope's items: their titles are free text.
	Add []schemas.ScopeItem `json:"a,omitempty"`
}

func syncOpAAD(id string) string { return colSyncOps + "/" + id + "/sealed" }

// sealSyncOp returns the record as stored; r is left as it is.
func (l *SyncLog) sealSyncOp(r *schemas.SyncRecord) (*syncOpDoc, error) {
	p := r.Payload
	s := syncSealed{Location: p.Location, Reason: p.Reason, Text: p.Text, SignerName: p.SignerName, Comment: p.Comment, Extra: p.Extra, Add: p.Add}
	p.Location, p.Reason, p.Text, p.SignerName, p.Comment, p.Extra, p.Add = nil, "", "", "", "", nil, nil
	if len(p.Items) > 0 {
		p.Items = slices.Clone(p.Items)
		for i := range p.Items {
			if p.Items[i].Reason != "" {
				s.ItemReasons = append(s.ItemReasons, make([]string, i+1-len(s.ItemReasons))...)
				s.ItemReasons[i], p.Items[i].Reason = p.Items[i].Reason, ""
			}
		}
	}
	d := &syncOpDoc{SyncRecord: *r}
	d.Payload = p
	if s.Location != nil || s.Reason != "" || s.Text != "" || s.SignerName != "" || s.Comment != "" || len(s.ItemReasons) > 0 || len(s.Extra) > 0 || len(s.Add) > 0 {
		if l.s.cipher == nil {
			return nil, fmt.Errorf("seal operation %s: the store has no data key", r.ID)
		}
		var err error
		if d.Sealed, err = l.s.cipher.SealJSON(s, syncOpAAD(r.ID)); err != nil {
			return nil, fmt.Errorf("seal operation %s: %w", r.ID, err)
		}
	}
	return d, nil
}

// openSyncOp puts the sealed parts back into the record's payload.
func (l *SyncLog) openSyncOp(d *syncOpDoc) (*schemas.SyncRecord, error) {
	r := d.SyncRecord
	if d.Sealed == "" {
		return &r, nil
	}
	if l.s.cipher == nil {
		return nil, fmt.Errorf("open operation %s: the store has no data key", d.ID)
	}
	var s syncSealed
	if err := l.s.cipher.OpenJSON(d.Sealed, syncOpAAD(d.ID), &s); err != nil {
		return nil, fmt.Errorf("open operation %s: %w", d.ID, err)
	}
	p := &r.Payload
	p.Location = s.Location
	p.Reason, p.Text, p.SignerName, p.Comment, p.Extra, p.Add = s.Reason, s.Text, s.SignerName, s.Comment, s.Extra, s.Add
	for i, reason := range s.ItemReasons {
		if i < len(p.Items) && reason != "" {
			p.Items[i].Reason = reason
		}
	}
	return &r, nil
}

func (l *SyncLog) openSyncOps(docs []doc.Doc) ([]*schemas.SyncRecord, error) {
	out := make([]*schemas.SyncRecord, 0, len(docs))
	for _, d := range docs {
		var od syncOpDoc
		if err := d.Decode(&od); err != nil {
			return nil, err
		}
		r, err := l.openSyncOp(&od)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// InsertOps records new operations, with their outcomes, in one batch.
// Records whose id is stored already (an interrupted earlier attempt, or
// the same batch through another instance) are not written: what was
// recorded first stands, recs[i] is overwritten with it, and i is among
// the indexes returned.
//
// A batch is one transaction on SQLite, but on MongoDB the writes before
// a failed one stay written. So on a duplicate it reads back every record
// of the batch and writes only those still missing; a record of ours that
// did land is then answered as stored already, which it is, with the
// outcome we gave it.
func (l *SyncLog) InsertOps(ctx context.Context, recs []*schemas.SyncRecord) ([]int, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	docs := make([]*syncOpDoc, len(recs))
	for i, r := range recs {
		d, err := l.sealSyncOp(r)
		if err != nil {
			return nil, err
		}
		docs[i] = d
	}
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	var existing []int
	for {
		var b doc.Batch
		for _, i := range pending {
			b.Insert(colSyncOps, docs[i])
		}
		_, applyErr := b.Apply(ctx, l.s.engine)
		if applyErr == nil {
			slices.Sort(existing)
			return existing, nil
		}
		if !errors.Is(applyErr, doc.ErrDuplicate) {
			return nil, fmt.Errorf("record operations: %w", applyErr)
		}
		ids := make([]string, len(pending))
		for j, i := range pending {
			ids[j] = recs[i].ID
		}
		got, err := l.s.engine.GetMany(ctx, colSyncOps, ids)
		if err != nil {
			return nil, fmt.Errorf("read recorded operations: %w", err)
		}
		stored, err := l.openSyncOps(got)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]*schemas.SyncRecord, len(stored))
		for _, r := range stored {
			byID[r.ID] = r
		}
		var left []int
		for _, i := range pending {
			if r, ok := byID[recs[i].ID]; ok {
				*recs[i] = *r
				existing = append(existing, i)
			} else {
				left = append(left, i)
			}
		}
		if len(left) == len(pending) {
			// A duplicate that is not one of these ids: a unique index
			// this collection does not declare. Never, but do not spin.
			return nil, fmt.Errorf("record operations: %w", applyErr)
		}
		if pending = left; len(pending) == 0 {
			slices.Sort(existing)
			return existing, nil
		}
	}
}

// Op reads one recorded operation, or ErrNotFound.
func (l *SyncLog) Op(ctx context.Context, id string) (*schemas.SyncRecord, error) {
	d, _, err := doc.Get[syncOpDoc](ctx, l.s.engine, colSyncOps, id)
	if err != nil {
		return nil, fmt.Errorf("read operation %s: %w", id, err)
	}
	return l.openSyncOp(&d)
}

// Ops reads the recorded operations of ids that exist, in the order of ids.
func (l *SyncLog) Ops(ctx context.Context, ids []string) ([]*schemas.SyncRecord, error) {
	got, err := l.s.engine.GetMany(ctx, colSyncOps, ids)
	if err != nil {
		return nil, fmt.Errorf("read operations: %w", err)
	}
	return l.openSyncOps(got)
}

// DeviceOps reads the records of one device of a user that carry one of
// opIDs, whatever their seq. A phone's opIds are usually time-ordered
// UUIDs, so a batch's lie close together: one range scan of the index
// between the least and the greatest reads them, when that range holds
// few other records; otherwise one indexed lookup per id.
func (l *SyncLog) DeviceOps(ctx context.Context, userID, deviceID string, opIDs []string) ([]*schemas.SyncRecord, error) {
	if len(opIDs) == 0 {
		return nil, nil
	}
	ids := slices.Clone(opIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	q := doc.Query{Index: "byDeviceOp", Eq: []any{userID, deviceID}, Range: doc.Range{Gte: ids[0], Lte: ids[len(ids)-1]}, Limit: 2*len(ids) + 100}
	p, err := l.s.engine.Scan(ctx, colSyncOps, q)
	if err != nil {
		return nil, fmt.Errorf("operations of %s/%s by opId: %w", userID, deviceID, err)
	}
	var out []*schemas.SyncRecord
	if p.Next == "" {
		for _, d := range p.Docs {
			var od syncOpDoc
			if err := d.Decode(&od); err != nil {
				return nil, err
			}
			if !want[od.OpID] {
				continue // another operation of the range: not opened
			}
			r, err := l.openSyncOp(&od)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	for _, id := range ids {
		err := l.scan(ctx, colSyncOps, doc.Query{Index: "byDeviceOp", Eq: []any{userID, deviceID, id}}, func(docs []doc.Doc) error {
			rs, err := l.openSyncOps(docs)
			out = append(out, rs...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("operations of %s/%s by opId: %w", userID, deviceID, err)
		}
	}
	return out, nil
}

// SetOutcome stores r's outcome (status, code, rule, rules, message) on its
// record, when the rules decided otherwise after it was recorded.
func (l *SyncLog) SetOutcome(ctx context.Context, r *schemas.SyncRecord) error {
	_, _, err := doc.Modify(ctx, l.s.engine, colSyncOps, r.ID, func(d *syncOpDoc) error {
		d.Status, d.Code, d.Rule, d.Rules, d.Message = r.Status, r.Code, r.Rule, r.Rules, r.Message
		return nil
	})
	if err != nil {
		return fmt.Errorf("correct outcome of %s: %w", r.ID, err)
	}
	return nil
}

// VisitOps reads every recorded operation that names visitID, in id order.
func (l *SyncLog) VisitOps(ctx context.Context, visitID string) ([]*schemas.SyncRecord, error) {
	var out []*schemas.SyncRecord
	err := l.scan(ctx, colSyncOps, doc.Query{Index: "byVisit", Eq: []any{visitID}}, func(docs []doc.Doc) error {
		rs, err := l.openSyncOps(docs)
		out = append(out, rs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("operations of visit %s: %w", visitID, err)
	}
	return out, nil
}

// CountOps counts every recorded operation (the load generator's check).
func (l *SyncLog) CountOps(ctx context.Context) (int64, error) {
	var n int64
	err := l.scan(ctx, colSyncOps, doc.Query{Index: doc.ByID}, func(docs []doc.Doc) error {
		n += int64(len(docs))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count operations: %w", err)
	}
	return n, nil
}

// CountDeviceOps counts the operations of one phone of a user with status,
// received at since or later.
func (l *SyncLog) CountDeviceOps(ctx context.Context, userID, deviceID, status string, since time.Time) (int64, error) {
	var n int64
	q := doc.Query{Index: "byDeviceStatus", Eq: []any{userID, deviceID, status}, Range: doc.Range{Gte: since.UTC()}}
	err := l.scan(ctx, colSyncOps, q, func(docs []doc.Doc) error {
		n += int64(len(docs))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count operations of %s/%s: %w", userID, deviceID, err)
	}
	return n, nil
}

// scan reads every page of q, 500 documents at a time.
func (l *SyncLog) scan(ctx context.Context, coll string, q doc.Query, fn func([]doc.Doc) error) error {
	q.Limit = 500
	for {
		p, err := l.s.engine.Scan(ctx, coll, q)
		if err != nil {
			return err
		}
		if err := fn(p.Docs); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		q.After = p.Next
	}
}

// syncDeviceDoc is a device as stored: every indexed field present.
type syncDeviceDoc struct {
	ID            string           `bson:"_id"` // userID/deviceID
	UserID        string           `bson:"userId"`
	DeviceID      string           `bson:"deviceId"`
	WorkerID      string           `bson:"workerId"`
	Team          string           `bson:"team"`
	LastSeq       int64            `bson:"lastSeq"`
	LastEffAt     time.Time        `bson:"lastEffAt"`
	LastPushAt    time.Time        `bson:"lastPushAt"` // zero until its first push
	LastPullAt    time.Time        `bson:"lastPullAt"`
	AppVersion    string           `bson:"appVersion"`
	SchemaVersion int              `bson:"schemaVersion"`
	PendingGap    *schemas.SyncGap `bson:"pendingGap,omitempty"`
	SkewMs        int64            `bson:"skewMs"`
	Pushes        int64            `bson:"pushes"`
	Ops           int64            `bson:"ops"`
	Rejected      int64            `bson:"rejected"`
}

func (d *syncDeviceDoc) device() schemas.SyncDevice {
	return schemas.SyncDevice{ID: d.ID, UserID: d.UserID, DeviceID: d.DeviceID, WorkerID: d.WorkerID, Team: d.Team,
		LastSeq: d.LastSeq, LastEffAt: d.LastEffAt, LastPushAt: d.LastPushAt, LastPullAt: d.LastPullAt,
		AppVersion: d.AppVersion, SchemaVersion: d.SchemaVersion, PendingGap: d.PendingGap, SkewMs: d.SkewMs,
		Pushes: d.Pushes, Ops: d.Ops, Rejected: d.Rejected}
}

// SyncDeviceID is the id of one phone of a user.
func SyncDeviceID(userID, deviceID string) string { return userID + "/" + deviceID }

// Device reads the sync state of one phone of a user, or ErrNotFound.
func (l *SyncLog) Device(ctx context.Context, userID, deviceID string) (*schemas.SyncDevice, error) {
	d, _, err := doc.Get[syncDeviceDoc](ctx, l.s.engine, colSyncDevices, SyncDeviceID(userID, deviceID))
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	dev := d.device()
	return &dev, nil
}

// RecordPush records a push of d: its versions, skew, gap, worker and
// team as sent, its seq and effective time only ever raised (a slow, older
// push never moves them back), and its counters added to.
func (l *SyncLog) RecordPush(ctx context.Context, d *schemas.SyncDevice, ops, rejected int64) error {
	err := l.putDevice(ctx, d.UserID, d.DeviceID, func(x *syncDeviceDoc) {
		x.WorkerID, x.Team, x.LastPushAt = d.WorkerID, d.Team, d.LastPushAt.UTC()
		x.AppVersion, x.SchemaVersion, x.PendingGap, x.SkewMs = d.AppVersion, d.SchemaVersion, d.PendingGap, d.SkewMs
		x.LastSeq = max(x.LastSeq, d.LastSeq)
		if g := x.PendingGap; g != nil && g.Expected <= x.LastSeq {
			x.PendingGap = nil // filled by a racing push of later seqs
		}
		if d.LastEffAt.After(x.LastEffAt) {
			x.LastEffAt = d.LastEffAt.UTC()
		}
		x.Pushes++
		x.Ops += ops
		x.Rejected += rejected
	})
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

// RecordPull records that a phone pulled, now.
func (l *SyncLog) RecordPull(ctx context.Context, userID, deviceID, workerID, team string) error {
	now := l.s.now().UTC()
	err := l.putDevice(ctx, userID, deviceID, func(x *syncDeviceDoc) {
		x.WorkerID, x.Team, x.LastPullAt = workerID, team, now
	})
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

// putDevice changes the device's document, creating it if need be.
func (l *SyncLog) putDevice(ctx context.Context, userID, deviceID string, change func(*syncDeviceDoc)) error {
	id := SyncDeviceID(userID, deviceID)
	for {
		_, _, err := doc.Modify(ctx, l.s.engine, colSyncDevices, id, func(d *syncDeviceDoc) error {
			change(d)
			return nil
		})
		if !errors.Is(err, doc.ErrNotFound) {
			return err
		}
		d := syncDeviceDoc{ID: id, UserID: userID, DeviceID: deviceID}
		change(&d)
		if _, err := doc.Insert(ctx, l.s.engine, colSyncDevices, d); !errors.Is(err, doc.ErrDuplicate) {
			return err
		}
		// Inserted meanwhile by a racing push: change theirs.
	}
}

// DeviceFilter selects devices: of one team unless AllTeams, and of one
// worker if WorkerID is set.
type DeviceFilter struct {
	AllTeams bool
	Team     string
	WorkerID string
}

// Devices lists the devices f selects, the latest push first, at most limit.
func (l *SyncLog) Devices(ctx context.Context, f DeviceFilter, limit int) ([]schemas.SyncDevice, error) {
	q := doc.Query{Index: "byPush", Desc: true}
	switch {
	case f.WorkerID != "":
		q.Index, q.Eq = "byWorker", []any{f.WorkerID} // a worker has few phones: the team is checked on them
	case !f.AllTeams:
		q.Index, q.Eq = "byTeam", []any{f.Team}
	}
	out := []schemas.SyncDevice{}
	q.Limit = limit
	for len(out) < limit {
		p, err := l.s.engine.Scan(ctx, colSyncDevices, q)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		ds, err := doc.DecodeAll[syncDeviceDoc](p.Docs)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		for i := range ds {
			if (f.AllTeams || ds[i].Team == f.Team) && len(out) < limit {
				out = append(out, ds[i].device())
			}
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	return out, nil
}

// PresenceCount is a visit's count of wrong presence codes: after maxWrong
// of them its code is locked for a while after the last one; when the lock
// runs out a new count starts, under the next lock number.
type PresenceCount struct {
	Lock        int64     // locks that ran out: each starts a new count
	Wrong       int       // wrong codes counted since
	LastWrongAt time.Time // the lock runs from the last one counted
}

// Locked reports whether the count locks the code at now.
func (c PresenceCount) Locked(maxWrong int, lockFor time.Duration, now time.Time) bool {
	return c.Wrong >= maxWrong && now.Before(c.LastWrongAt.Add(lockFor))
}

// presenceDoc is a visit's count, with the ids of the records it counted,
// so a record is counted once however often its batch is retried.
type presenceDoc struct {
	ID          string    `bson:"_id"` // the visit id
	Lock        int64     `bson:"lock"`
	Wrong       int       `bson:"wrong"`
	LastWrongAt time.Time `bson:"lastWrongAt"`
	Counted     []string  `bson:"counted"`
}

func (d *presenceDoc) count() PresenceCount {
	return PresenceCount{Lock: d.Lock, Wrong: d.Wrong, LastWrongAt: d.LastWrongAt}
}

// Presence reads the visit's count (zero if none was counted).
func (l *SyncLog) Presence(ctx context.Context, visitID string) (PresenceCount, error) {
	d, _, err := doc.Get[presenceDoc](ctx, l.s.engine, colPresenceLocks, visitID)
	if errors.Is(err, doc.ErrNotFound) {
		return PresenceCount{}, nil
	}
	if err != nil {
		return PresenceCount{}, fmt.Errorf("read presence code count: %w", err)
	}
	return d.count(), nil
}

var errPresenceCounted = errors.New("counted already")

// CountWrongPresence counts the wrong code of record recID on the visit,
// once, now, and returns the count after it. A count whose lock ran out
// starts again under the next lock number in the same write. Each attempt
// is one conditional write of the visit's one document (insert if absent,
// replace if unchanged), so racing pushes, on any number of instances,
// count every wrong code exactly once, and the lock takes maxWrong codes.
func (l *SyncLog) CountWrongPresence(ctx context.Context, visitID, recID string, maxWrong int, lockFor time.Duration) (PresenceCount, error) {
	for {
		now := l.s.now().UTC()
		var got presenceDoc
		_, _, err := doc.Modify(ctx, l.s.engine, colPresenceLocks, visitID, func(d *presenceDoc) error {
			if slices.Contains(d.Counted, recID) {
				got = *d
				return errPresenceCounted
			}
			if !d.count().Locked(maxWrong, lockFor, now) && d.Wrong >= maxWrong {
				d.Lock, d.Wrong = d.Lock+1, 0 // the lock ran out: a new count
			}
			d.Wrong++
			if now.After(d.LastWrongAt) {
				d.LastWrongAt = now
			}
			d.Counted = append(d.Counted, recID)
			got = *d
			return nil
		})
		switch {
		case err == nil || errors.Is(err, errPresenceCounted):
			return got.count(), nil
		case !errors.Is(err, doc.ErrNotFound):
			return PresenceCount{}, fmt.Errorf("count wrong presence code: %w", err)
		}
		d := presenceDoc{ID: visitID, Wrong: 1, LastWrongAt: now, Counted: []string{recID}}
		_, err = doc.Insert(ctx, l.s.engine, colPresenceLocks, d)
		if err == nil {
			return d.count(), nil
		}
		if !errors.Is(err, doc.ErrDuplicate) {
			return PresenceCount{}, fmt.Errorf("count wrong presence code: %w", err)
		}
		// Counted first by a racing push: count on theirs.
	}
}
