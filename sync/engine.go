package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Limits bound one push, and what one visit may accumulate.
type Limits struct {
	MaxOps     int           // operations per batch
	TimeBudget time.Duration // after this, the rest of the batch is skipped (sent again)
	// Caps per visit, over all phones: an operation that would go past
	// one is rejected (visit_full). A visit is one appointment; a normal
	// day stays far below them.
	MaxVisitOps   int   // operations folded into the visit
	MaxVisitBytes int64 // free text (UTF-8 bytes) and attachment references of those operations
	// Wrong presence codes before the visit's code locks, and for how long.
	PresenceMaxWrong int
	PresenceLockFor  time.Duration
	// Alerts of one kind and priority about one visit within this window
	// of the clock are one alert with a count (ALERT_COALESCE_WINDOW; 0:
	// one alert per cause).
	AlertWindow time.Duration
}

// DefaultLimits: a phone three days offline with 2,000 operations syncs in
// four batches; a batch never holds a request long; a visit stays well
// under a megabyte.
var DefaultLimits = Limits{MaxOps: 500, TimeBudget: 15 * time.Second, MaxVisitOps: 3000, MaxVisitBytes: 512 << 10,
	PresenceMaxWrong: 5, PresenceLockFor: time.Hour, AlertWindow: 10 * time.Minute}

// withDefaults fills limits left at zero.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxOps <= 0 {
		l.MaxOps = d.MaxOps
	}
	if l.TimeBudget <= 0 {
		l.TimeBudget = d.TimeBudget
	}
	if l.MaxVisitOps <= 0 {
		l.MaxVisitOps = d.MaxVisitOps
	}
	if l.MaxVisitBytes <= 0 {
		l.MaxVisitBytes = d.MaxVisitBytes
	}
	if l.PresenceMaxWrong <= 0 {
		l.PresenceMaxWrong = d.PresenceMaxWrong
	}
	if l.PresenceLockFor <= 0 {
		l.PresenceLockFor = d.PresenceLockFor
	}
	return l
}

// Engine applies pushes and answers pulls.
type Engine struct {
	db        *store.Store
	ops       Log
	now       func() time.Time
	log       *slog.Logger
	rules     Rules
	limits    Limits
	attLimits AttachmentLimits
	att       AttachmentStore
	presence  *Presence
	canSee    VisitChecker
	notifier  Notifier
	rework    ReworkHook
	// escalate: the household's teller and the promise times.
	teller     Teller
	escalateIn map[string]time.Duration
	accepted   AcceptHook
}

// Notifier tells people about alerts (the push relay). Telling twice about
// one alert must be a no-op: alerts are re-raised when a batch is retried.
type Notifier interface {
	Alert(ctx context.Context, a *schemas.Alert) error
}

// ReworkHook learns that a visit was signed off (the office schedules the
// follow-up and, for an accepted rework, closes the disputed visit).
// Calling it twice must change nothing.
type ReworkHook interface {
	SignedOff(ctx context.Context, v *schemas.Visit) error
}

// AcceptHook learns that a visit's assignee accepted its current
// assignment (the office tells the household who is coming). Calling it
// twice must change nothing.
type AcceptHook interface {
	Accepted(ctx context.Context, v *schemas.Visit) error
}

// SetAcceptHook sets the hook.
func (e *Engine) SetAcceptHook(h AcceptHook) { e.accepted = h }

// SetReworkHook sets the hook.
func (e *Engine) SetReworkHook(h ReworkHook) { e.rework = h }

// SetNotifier makes the engine tell supervisors about alerts.
func (e *Engine) SetNotifier(n Notifier) { e.notifier = n }

// New returns an engine.
func New(db *store.Store, now func() time.Time, log *slog.Logger, rules Rules, limits Limits, presence *Presence) *Engine {
	return &Engine{db: db, ops: db.SyncLog, now: now, log: log, rules: rules, limits: limits.withDefaults(), attLimits: DefaultAttachmentLimits, att: db.Attachments, presence: presence}
}

// Result is the outcome of one operation of a push.
type Result struct {
	Seq     int64    `json:"seq"`
	OpID    string   `json:"opId"`
	Status  string   `json:"status"`          // applied, conflict, duplicate, rejected, skipped
	Code    string   `json:"code,omitempty"`  // rejected/skipped: why; duplicate: the first outcome
	Rule    string   `json:"rule,omitempty"`  // conflict: the rule named (the first that needs review, else the first)
	Rules   []string `json:"rules,omitempty"` // conflict: every rule the operation raised
	Message string   `json:"message,omitempty"`
}

// PushResponse answers a push.
type PushResponse struct {
	Results         []Result  `json:"results"`
	NextSeq         int64     `json:"nextSeq"`       // the seq the server expects next from this device
	Gap             *Gap      `json:"gap,omitempty"` // set when the batch stopped at a gap
	WriteCheckpoint string    `json:"writeCheckpoint"`
	ServerTime      time.Time `json:"serverTime"`
	SkewMs          int64     `json:"skewMs"` // the phone's clock minus the server's
}

// Validate checks the envelope: a broken envelope fails the whole push.
func (b *Batch) Validate() error {
	if b.SchemaVersion < MinSchemaVersion {
		return schemas.Errorf(schemas.EUPGRADE, "this app is too old; please update it").
			With("minSchemaVersion", MinSchemaVersion).With("schemaVersion", SchemaVersion)
	}
	if b.SchemaVersion > SchemaVersion {
		return schemas.FieldError("schemaVersion", "schemaVersion %d is newer than this server's %d", b.SchemaVersion, SchemaVersion)
	}
	if err := schemas.ValidateDeviceID(b.DeviceID); err != nil {
		return err
	}
	if b.DeviceClock.IsZero() {
		return schemas.FieldError("deviceClock", "deviceClock (the phone's time when sending) is required")
	}
	if len(b.AppVersion) > 40 {
		return schemas.FieldError("appVersion", "appVersion is at most 40 characters")
	}
	if b.Ops == nil {
		return schemas.FieldError("ops", "ops is required (it may be empty)")
	}
	return nil
}

// Push applies a batch: each operation exactly once, in the device's
// order, with one result each. Only a broken envelope fails the request;
// a bad operation is rejected on its own and the others go on.
func (e *Engine) Push(ctx context.Context, a *schemas.Actor, b *Batch) (*PushResponse, error) {
	if a.Role != schemas.RoleWorker || a.WorkerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only workers' phones push operations")
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if b.DeviceID != a.DeviceID {
		return nil, schemas.FieldError("deviceId", "deviceId is not the device this session signed in on")
	}
	if len(b.Ops) > e.limits.MaxOps {
		return nil, schemas.Errorf(schemas.ETOOLARGE, "at most %d operations per batch; send the rest in another", e.limits.MaxOps).With("maxOps", e.limits.MaxOps)
	}
	start := e.now().UTC()
	deadline := time.Now().Add(e.limits.TimeBudget)
	skew := b.DeviceClock.Sub(start)
	dev, err := e.device(ctx, a)
	if err != nil {
		return nil, err
	}
	dev.AppVersion, dev.SchemaVersion, dev.SkewMs, dev.LastPushAt = b.AppVersion, b.SchemaVersion, skew.Milliseconds(), start
	dev.WorkerID, dev.Team = a.WorkerID, a.Team
	resp := &PushResponse{Results: make([]Result, len(b.Ops)), ServerTime: start, SkewMs: skew.Milliseconds()}

	// Pass 1: sort each operation, in the device's order, into seen
	// before (by its seq or its opId), new, or not looked at (after a gap
	// or a seq taken by another operation: the phone sends those again).
	seen, err := e.seenBefore(ctx, a, dev, b.Ops)
	if err != nil {
		return nil, err
	}
	expected := dev.LastSeq + 1
	var fresh, markers []*Record
	batchSeq := map[int64]*Record{} // this batch's records by seq
	batchOp := map[string]*Record{} // and by opId
	// Results answered from a record once its outcome is final: the
	// operation's own new record, or the one it repeats (dup).
	type answer struct {
		rec *Record
		dup bool
	}
	answers := map[int]answer{}
	markerOf := map[*Record]*Record{} // marker -> the record it repeats
	stopped := false
	for i := range b.Ops {
		op := &b.Ops[i]
		res := &resp.Results[i]
		res.Seq, res.OpID = op.Seq, op.OpID
		first := batchOp[op.OpID]
		if first == nil {
			first = seen.byOp[op.OpID]
		}
		if first != nil && first.Seq == op.Seq {
			first = nil // its own record: an interrupted attempt's, or seen by its seq
		}
		switch {
		case stopped:
			res.Status, res.Code = StatusSkipped, SkipAfterGap
		case op.Seq < 1:
			res.Status, res.Code, res.Message = StatusRejected, RejectInvalid, "seq must be 1 or more"
		case op.Seq < expected:
			r := batchSeq[op.Seq]
			if r == nil {
				r = seen.bySeq[op.Seq]
			}
			switch {
			case r != nil && r.OpID == op.OpID:
				answers[i] = answer{r, true}
			case first != nil:
				answers[i] = answer{first, true} // renumbered, and its first send was recorded
			case r == nil:
				res.Status, res.Code = StatusDuplicate, DuplicateUnknown // pruned long ago
			default:
				// Never dropped: the phone renumbers it, and what follows, from nextSeq.
				stopped = true
				res.Status, res.Code, res.Message = StatusSkipped, SkipSeqTaken, fmt.Sprintf("seq %d is another operation's; renumber from nextSeq", op.Seq)
			}
		case op.Seq > expected:
			stopped = true
			resp.Gap = &Gap{Expected: expected, Got: op.Seq}
			res.Status, res.Code, res.Message = StatusSkipped, SkipGap, fmt.Sprintf("expected seq %d first", expected)
		case first != nil:
			// Renumbered, and its first send was recorded: answered as a
			// duplicate, it still takes this seq (the phone counted it), so
			// a marker is recorded there, never folded.
			m := &Record{ID: recordID(a, op.Seq), UserID: a.UserID, WorkerID: a.WorkerID, DeviceID: a.DeviceID, Seq: op.Seq,
				OpID: op.OpID, Kind: shortKind(op.Kind), DeviceAt: op.At.UTC(), ReceivedAt: start, SkewMs: skew.Milliseconds(), EffAt: dev.LastEffAt,
				Status: StatusDuplicate}
			markers = append(markers, m)
			markerOf[m] = first
			batchSeq[op.Seq] = m
			answers[i] = answer{m, true}
			expected++
		default:
			if len(fresh) > 0 && time.Now().After(deadline) {
				stopped = true
				res.Status, res.Code = StatusSkipped, SkipTimeBudget
				continue
			}
			r := e.newRecord(a, op, b, skew, start, dev)
			if r.Kind != KindRetire {
				dev.LastEffAt = r.EffAt
			}
			fresh = append(fresh, r)
			batchSeq[op.Seq] = r
			if _, ok := batchOp[op.OpID]; !ok {
				batchOp[op.OpID] = r
			}
			answers[i] = answer{r, false}
			expected++
		}
	}
	// A later batch filled the gap: forget it.
	dev.PendingGap = resp.Gap

	if err := e.checkRefs(ctx, a, fresh); err != nil {
		return nil, err
	}

	touched, err := e.apply(ctx, fresh)
	if err != nil {
		return nil, err
	}
	var rejected int64
	for _, r := range fresh {
		if r.Status == StatusRejected {
			rejected++
		}
	}
	// Markers carry their first record's outcome, final now.
	for _, m := range markers {
		m.Status, m.Code, m.Rule, m.Rules, m.Message = duplicateOf(markerOf[m])
	}
	if _, err := e.ops.InsertOps(ctx, markers); err != nil {
		return nil, err
	}
	// A marker's seq may hold another operation's record, from an attempt
	// that died before writing its visit: once lastSeq covers the seq
	// nothing else would fold it, so it is folded now (its visit knows the
	// records it holds, so never twice).
	var held []*Record
	for _, m := range markers {
		if m.OpID != markerOf[m].OpID && m.Status != StatusRejected && m.Status != StatusDuplicate && m.Kind != KindRetire {
			h := *m
			h.Status = StatusPending
			held = append(held, &h)
		}
	}
	if len(held) > 0 {
		more, err := e.apply(ctx, held)
		if err != nil {
			return nil, err
		}
		touched = append(touched, more...)
	}
	for i, x := range answers {
		res, r := &resp.Results[i], x.rec
		switch {
		case r.OpID != b.Ops[i].OpID:
			// Recorded meanwhile for another operation, by a racing push.
			res.Status, res.Code, res.Message = StatusSkipped, SkipSeqTaken, fmt.Sprintf("seq %d is another operation's; renumber from nextSeq", r.Seq)
		case x.dup:
			res.Status, res.Code, res.Rule, res.Rules, res.Message = duplicateOf(r)
		default:
			res.Status, res.Code, res.Rule, res.Rules, res.Message = r.Status, r.Code, r.Rule, r.Rules, r.Message
		}
	}
	// Device state last: once lastSeq covers an operation, its effect is stored.
	dev.LastSeq = expected - 1
	if err := e.ops.RecordPush(ctx, dev, int64(len(fresh)), rejected); err != nil {
		return nil, err
	}
	resp.NextSeq = expected
	seq, err := e.db.Visits.Log(ctx, store.SourceSync, touched...)
	if err != nil {
		e.log.Warn("change log append failed; the relay will log the visits", "err", err)
	}
	if seq == 0 {
		if seq, err = e.db.Changes.Tail(ctx); err != nil {
			return nil, err
		}
	}
	resp.WriteCheckpoint = Cursor{Seq: seq}.String()
	return resp, nil
}

func recordID(a *schemas.Actor, seq int64) string {
	return a.UserID + "/" + a.DeviceID + "/" + strconv.FormatInt(seq, 10)
}

// newRecord turns an operation into the record stored before any effect:
// validated on its own, with its time corrected for the phone's clock.
func (e *Engine) newRecord(a *schemas.Actor, op *Op, b *Batch, skew time.Duration, now time.Time, dev *Device) *Record {
	r := &Record{ID: recordID(a, op.Seq), UserID: a.UserID, WorkerID: a.WorkerID, DeviceID: a.DeviceID, Seq: op.Seq,
		OpID: op.OpID, Kind: op.Kind, VisitID: op.VisitID, DeviceAt: op.At.UTC(), ReceivedAt: now, SkewMs: skew.Milliseconds(), Status: StatusPending}
	corr := e.rules.correction(skew)
	r.CorrectionS = int64(corr / time.Second)
	r.CorrectedAt = op.At.Add(-corr).UTC().Truncate(time.Second)
	if corr != 0 {
		r.Flags = append(r.Flags, RuleClockSkew)
	}
	if r.CorrectedAt.After(now.Add(e.rules.MaxSkew)) {
		// Never trust a time in the future: it is recorded as the receipt
		// time (the one case where arrival decides; flagged).
		r.Flags = append(r.Flags, RuleFutureTime)
		r.CorrectedAt = now.Truncate(time.Second)
	}
	r.EffAt = r.CorrectedAt
	if r.EffAt.Before(dev.LastEffAt) {
		r.EffAt = dev.LastEffAt
	}
	err := validateOp(op)
	if err == nil && op.Kind == KindRetire {
		r.Status = StatusApplied // it only fills its seq
		return r
	}
	if err == nil {
		r.Payload, err = decodePayload(op)
	}
	if err != nil {
		r.Status, r.Code, r.Message = StatusRejected, schemas.ErrorCode(err), schemas.ErrorMessage(err)
	}
	if r.Code == RejectUnknownKind {
		r.Kind = shortKind(r.Kind)
	}
	return r
}

// shortKind bounds a kind the server does not know: a kind is a short
// name, and a record keeps no more of it.
func shortKind(k string) string {
	if len(k) > 40 {
		return strings.ToValidUTF8(k[:40], "")
	}
	return k
}

// correction is how much to take off a phone's times, given the skew
// measured on a push (deviceClock minus the server's receipt time). The
// measurement carries the network's delay and the second the phone
// rounded its clock to, so it differs from push to push; the correction
// must not, or which batch arrived first would decide the fold order.
// Within the tolerance (MaxSkew) there is none: the phone's times are
// taken as they are. Beyond it, the skew is rounded to whole minutes, so
// delays of a few seconds give the same correction.
func (rules Rules) correction(skew time.Duration) time.Duration {
	if skew <= rules.MaxSkew && skew >= -rules.MaxSkew {
		return 0
	}
	return skew.Round(time.Minute)
}

// decision is what applying new records to one visit comes to.
type decision struct {
	before, after *schemas.Visit
	state         bson.Raw  // the sync state after
	live          []*Record // the new records folded in
	effects       []*Record // every record of the batch on this visit: side effects are idempotent
}

// syncState is the engine's bookkeeping on a visit: which records are
// folded into its field state, and where the fold stands.
type syncState struct {
	RecordIDs  []string   `bson:"recordIds"`
	Bytes      int64      `bson:"bytes"` // free text and references of those records, for MaxVisitBytes
	Checkpoint Checkpoint `bson:"checkpoint"`
	OfficeKey  string     `bson:"officeKey"`
}

// decide folds the new records into the visit, in memory: the checks that
// need the visit (owner, items, caps, presence codes), then the conflict
// rules. Records that sort after all the visit's folded ones (the usual
// case: a phone's operations arrive in order) are folded on from the
// stored checkpoint; otherwise, or when the office changed what the rules
// read, the visit is folded again from all its records. Both give the same
// state. Nothing is written but the count of wrong presence codes, which
// counts each record once however often it is decided.
func (e *Engine) decide(ctx context.Context, visitID string, recs []*Record) (*decision, error) {
	v, raw, err := e.db.Visits.GetWithSyncState(ctx, visitID)
	if schemas.ErrorCode(err) == schemas.ENOTFOUND {
		for _, r := range recs {
			r.Status, r.Code, r.Message = StatusRejected, RejectUnknownVisit, "no such visit"
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st syncState
	if raw != nil {
		if err := bson.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("visit %s sync state: %w", visitID, err)
		}
	}
	known := make(map[string]bool, len(st.RecordIDs))
	for _, id := range st.RecordIDs {
		known[id] = true
	}
	var pending, effects []*Record
	for _, r := range recs {
		if known[r.ID] { // folded already: an earlier attempt got this far
			effects = append(effects, r)
		} else {
			pending = append(pending, r)
		}
	}
	live := e.capVisit(&st, e.check(v, pending))
	if err := e.checkPresence(ctx, visitID, live); err != nil {
		return nil, err
	}
	effects = append(effects, live...)
	if len(live) == 0 {
		return &decision{before: v, after: v, effects: effects}, nil
	}
	slices.SortFunc(live, order)
	var f *folder
	// Keyed: the office key holds the address position, stored with the visit.
	officeKey := e.db.Cipher().LookupHash(OfficeKey(v))
	if st.OfficeKey == officeKey && len(st.RecordIDs) == v.Field.Ops && st.Checkpoint.after(live[0]) {
		f = newFolder(v, e.rules, &st.Checkpoint)
		for _, r := range live {
			f.add(r)
		}
	} else {
		all, err := e.ops.Ops(ctx, st.RecordIDs)
		if err != nil {
			return nil, err
		}
		all = append(all, live...)
		slices.SortFunc(all, order)
		f = newFolder(v, e.rules, nil)
		for _, r := range all {
			f.add(r)
		}
	}
	for _, r := range live {
		o := f.out[r.OpID]
		r.Status, r.Rule, r.Rules, r.Message = o.Status, o.Rule, o.Rules, o.Detail
		st.RecordIDs = append(st.RecordIDs, r.ID)
	}
	after := *v
	after.Field = f.finish()
	after.Refresh()
	st.Checkpoint, st.OfficeKey = f.checkpoint(), officeKey
	state, err := bson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode sync state: %w", err)
	}
	return &decision{before: v, after: &after, state: state, live: live, effects: effects}, nil
}

// apply decides each touched visit, records the new operations with their
// outcomes in one round trip, then writes the visits. Records first: once
// a record exists its fact is durable; the visit is brought up to date by
// this call or by the retry of the batch, which finds the record and folds
// it again. It returns the visits written, for the change log.
func (e *Engine) apply(ctx context.Context, fresh []*Record) ([]*schemas.Visit, error) {
	byVisit := map[string][]*Record{}
	var ids []string
	for _, r := range fresh {
		if r.Status != StatusPending { // rejected, or a retire
			continue
		}
		if _, ok := byVisit[r.VisitID]; !ok {
			ids = append(ids, r.VisitID)
		}
		byVisit[r.VisitID] = append(byVisit[r.VisitID], r)
	}
	slices.Sort(ids)
	decisions := map[string]*decision{}
	for _, id := range ids {
		d, err := e.decide(ctx, id, byVisit[id])
		if err != nil {
			return nil, err
		}
		decisions[id] = d
	}
	// Record. Records that exist already (an interrupted earlier attempt,
	// or the same batch through another instance) are read back: what was
	// recorded first stands, and its visit is decided again with it.
	opOf := make([]string, len(fresh))
	for i, r := range fresh {
		opOf[i] = r.OpID
	}
	redo, err := e.insertRecords(ctx, fresh)
	if err != nil {
		return nil, err
	}
	// A seq recorded first for another operation (an interrupted attempt
	// of a reinstalled app, a racing push) holds that operation's record,
	// maybe of another visit: ours is not recorded, so its visit is
	// decided again without it, and the record's visit with the record,
	// or the fact is lost once lastSeq covers it.
	if redo == nil {
		redo = map[string]bool{}
	}
	for i, r := range fresh {
		if r.OpID == opOf[i] {
			continue
		}
		for id, recs := range byVisit {
			if k := slices.Index(recs, r); k >= 0 {
				byVisit[id] = slices.Delete(recs, k, k+1)
				redo[id] = true
			}
		}
		if r.Status == StatusRejected || r.Status == StatusDuplicate || r.Kind == KindRetire {
			continue
		}
		if _, ok := byVisit[r.VisitID]; !ok {
			ids = append(ids, r.VisitID)
		}
		byVisit[r.VisitID] = append(byVisit[r.VisitID], r)
		redo[r.VisitID] = true
	}
	slices.Sort(ids)
	for id := range redo {
		d, err := e.decide(ctx, id, byVisit[id])
		if err != nil {
			return nil, err
		}
		decisions[id] = d
	}
	if err := e.alertFull(ctx, decisions, byVisit); err != nil {
		return nil, err
	}
	var touched []*schemas.Visit
	for _, id := range ids {
		v, err := e.write(ctx, id, byVisit[id], decisions[id])
		if err != nil {
			return nil, err
		}
		if v != nil {
			touched = append(touched, v)
		}
	}
	return touched, nil
}

// write stores a decided visit. If the office or another phone changed the
// visit meanwhile, it decides again against the new state, and corrects
// the outcomes recorded if the rules now say otherwise.
func (e *Engine) write(ctx context.Context, id string, recs []*Record, d *decision) (*schemas.Visit, error) {
	recorded := map[string]string{}
	for _, r := range recs {
		recorded[r.ID] = outcomeKey(r)
	}
	for attempt := 0; ; attempt++ {
		if d == nil {
			return nil, nil
		}
		after := d.after
		if len(d.live) == 0 || fieldEqual(d.before, after) {
			// Applied by an earlier attempt, which may have died before its
			// side effects: they are idempotent, so do them again.
			if err := e.sideEffects(ctx, nil, d.before, d.effects); err != nil {
				return nil, err
			}
			if err := e.reworkDone(ctx, d.before); err != nil {
				return nil, err
			}
			return nil, e.correct(ctx, recs, recorded)
		}
		after.Version = d.before.Version + 1
		after.UpdatedAt = e.now().UTC()
		err := e.db.Visits.WriteSync(ctx, after, d.state, d.before.Version)
		if schemas.ErrorCode(err) == schemas.ECONFLICT && attempt < 10 {
			if d, err = e.decide(ctx, id, recs); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := e.sideEffects(ctx, d.before, after, d.effects); err != nil {
			return nil, err
		}
		if err := e.reworkDone(ctx, after); err != nil {
			return nil, err
		}
		return after, e.correct(ctx, recs, recorded)
	}
}

// alertFull tells the team, once per visit, that a visit reached a cap:
// it takes a fault or abuse to get there, and the phone's later
// operations on it are refused.
func (e *Engine) alertFull(ctx context.Context, decisions map[string]*decision, byVisit map[string][]*Record) error {
	for id, d := range decisions {
		if d == nil {
			continue
		}
		for _, r := range byVisit[id] {
			if r.Code == RejectVisitFull {
				if err := e.alert(ctx, d.before, RejectVisitFull, "normal", r.Message, "", r.ReceivedAt); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func (e *Engine) reworkDone(ctx context.Context, v *schemas.Visit) error {
	if e.rework == nil || v.Field.SignOff == nil {
		return nil
	}
	return e.rework.SignedOff(ctx, v)
}

func outcomeKey(r *Record) string {
	return r.Status + "/" + r.Code + "/" + r.Rule + "/" + strings.Join(r.Rules, ",")
}

// correct updates records whose outcome changed after they were recorded.
func (e *Engine) correct(ctx context.Context, recs []*Record, recorded map[string]string) error {
	for _, r := range recs {
		if recorded[r.ID] == outcomeKey(r) {
			continue
		}
		if err := e.ops.SetOutcome(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// check applies the rules that need the visit: whose visit it is and
// whether the checklist item exists. It returns the records still live.
func (e *Engine) check(v *schemas.Visit, recs []*Record) []*Record {
	items, signable := scopeItems(v, recs)
	var live []*Record
	for _, r := range recs {
		if r.Status == StatusRejected {
			continue
		}
		switch {
		case r.WorkerID != v.WorkerID && !slices.Contains(v.PastWorkerIDs, r.WorkerID):
			r.Status, r.Code, r.Message = StatusRejected, RejectNotYours, "this visit is not assigned to you"
			continue
		case (r.Kind == KindAccept || r.Kind == KindDecline) && r.WorkerID != v.WorkerID:
			r.Status, r.Code, r.Message = StatusRejected, RejectNotYours, "this visit is no longer assigned to you"
			continue
		case (r.Kind == KindAccept || r.Kind == KindDecline) && v.OfficeStatus == schemas.VisitCancelled:
			r.Status, r.Code, r.Message = StatusRejected, RejectCancelled, "the visit was cancelled: there is nothing to answer"
			continue
		case r.Kind == KindMessage && e.rejectMessage(v, r):
			continue
		case r.Payload.ItemID != "" && !items[r.Payload.ItemID]:
			r.Status, r.Code, r.Message = StatusRejected, RejectUnknownItem, "no checklist item "+r.Payload.ItemID+" on this visit"
			continue
		case r.Kind == KindScope && unknownDrop(r, items) != "":
			r.Status, r.Code, r.Message = StatusRejected, RejectUnknownItem, "no checklist item "+unknownDrop(r, items)+" to drop on this visit"
			continue
		case r.Kind == KindSignOff:
			bad := ""
			for _, it := range r.Payload.Items {
				if !signable[it.ItemID] {
					bad = it.ItemID
				}
			}
			if bad != "" {
				r.Status, r.Code, r.Message = StatusRejected, RejectUnknownItem, "no checklist item "+bad+" on this visit's checklist as agreed"
				continue
			}
		}
		live = append(live, r)
	}
	return live
}

// capVisit rejects the operations that would take the visit past its caps,
// in the order they arrived, and counts the others into st. Unlike the
// fold this depends on arrival (as the seq does): a rejection is final,
// and a visit only reaches a cap when something is wrong.
func (e *Engine) capVisit(st *syncState, recs []*Record) []*Record {
	ops := len(st.RecordIDs)
	var live []*Record
	for _, r := range recs {
		n := payloadSize(&r.Payload)
		switch {
		case ops >= e.limits.MaxVisitOps:
			r.Status, r.Code, r.Message = StatusRejected, RejectVisitFull, fmt.Sprintf("this visit holds its maximum of %d operations", e.limits.MaxVisitOps)
			continue
		case st.Bytes+n > e.limits.MaxVisitBytes:
			r.Status, r.Code, r.Message = StatusRejected, RejectVisitFull, fmt.Sprintf("this visit holds its maximum of %d KiB of text and photos", e.limits.MaxVisitBytes>>10)
			continue
		}
		ops++
		st.Bytes += n
		live = append(live, r)
	}
	return live
}

func fieldEqual(a, b *schemas.Visit) bool {
	if a.Status != b.Status || a.NeedsReview != b.NeedsReview {
		return false
	}
	x, err1 := json.Marshal(a.Field)
	y, err2 := json.Marshal(b.Field)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// sideEffects records what the new facts start elsewhere: incidents, and
// alerts for supervisors. Their ids derive from the operations, so doing
// it again records nothing new.
func (e *Engine) sideEffects(ctx context.Context, before, v *schemas.Visit, recs []*Record) error {
	now := e.now().UTC()
	// An alert is dated by the receipt of the operation that caused it (or
	// of the batch's latest), not by now: a retry, read back from the
	// records, then falls in the same coalescing window as the first try.
	receivedAt := map[string]time.Time{}
	batchAt := time.Time{}
	for _, r := range recs {
		receivedAt[r.OpID] = r.ReceivedAt
		if r.ReceivedAt.After(batchAt) {
			batchAt = r.ReceivedAt
		}
	}
	if batchAt.IsZero() {
		batchAt = now
	}
	causeAt := func(opID string) time.Time {
		if t, ok := receivedAt[opID]; ok && !t.IsZero() {
			return t
		}
		return batchAt
	}
	for _, r := range recs {
		if err := e.link(ctx, v.ID, r); err != nil {
			return err
		}
		if r.Kind == KindIncident {
			inc := &schemas.Incident{ID: IncidentID(r.OpID), VisitID: v.ID, WorkerID: r.WorkerID, Team: v.Team, Category: r.Payload.Category,
				Severity: r.Payload.Severity, Description: r.Payload.Text, Photos: r.Payload.Photos, At: r.EffAt, ReportedAt: now, OpID: r.OpID,
				Status: schemas.IncidentOpen, Events: []schemas.ComplaintEvent{}, Version: 1}
			if inc.Photos == nil {
				inc.Photos = []string{}
			}
			if _, err := e.cases().RecordIncident(ctx, inc); err != nil {
				return err
			}
			prio := "normal"
			if inc.Severity == "critical" || inc.Severity == "high" {
				prio = "high"
			}
			if err := e.alert(ctx, v, "incident", prio, inc.Category+"/"+inc.Severity, r.OpID, causeAt(r.OpID)); err != nil {
				return err
			}
		}
		if r.Kind == KindEscalate {
			if err := e.openEscalation(ctx, v, r, causeAt(r.OpID)); err != nil {
				return err
			}
		}
	}
	// Every review item of the new operations is an alert, and every one
	// the visit did not have before: a late fact can turn an older one into
	// the conflict (a phone's earlier sign-off arriving after the app's).
	opIDs := map[string]bool{}
	for _, r := range recs {
		opIDs[r.OpID] = true
	}
	had := map[string]bool{}
	if before != nil {
		for _, c := range before.Field.Conflicts {
			had[c.Rule+"/"+c.OpID] = true
		}
		for _, x := range before.Field.Exceptions {
			had[x.Code+"/"+x.OpID] = true
		}
	}
	raised := map[string]bool{}
	once := func(kind, prio, detail, key, opID string) error {
		if raised[kind+"/"+key] {
			return nil
		}
		raised[kind+"/"+key] = true
		return e.alert(ctx, v, kind, prio, detail, key, causeAt(opID))
	}
	for _, r := range recs {
		if r.PresenceLock > 0 {
			detail := fmt.Sprintf("%d wrong presence codes: the visit's code is locked for %s", e.limits.PresenceMaxWrong, e.limits.PresenceLockFor)
			if err := once(RulePresenceLocked, "high", detail, fmt.Sprintf("lock/%d", r.PresenceLock), r.OpID); err != nil {
				return err
			}
		}
	}
	// A decline the fold let stand puts the visit back in the
	// supervisor's queue: one alert per declining operation.
	if a := v.Field.Assignment; a != nil && a.Answer == schemas.AssignmentDeclined && opIDs[a.OpID] && v.Answer() != "" {
		detail := "declined (" + a.Reason + "): reassign from GET /v1/visits/" + v.ID + "/candidates"
		if err := once(AlertDeclined, "high", detail, a.OpID, a.OpID); err != nil {
			return err
		}
	}
	// An acceptance the fold let stand: the office may tell the household.
	if a := v.Field.Assignment; e.accepted != nil && a != nil && a.Answer == schemas.AssignmentAccepted && opIDs[a.OpID] && v.Answer() != "" {
		if err := e.accepted.Accepted(ctx, v); err != nil {
			return err
		}
	}
	if err := alertAbsent(v, opIDs, once); err != nil {
		return err
	}
	for _, c := range v.Field.Conflicts {
		if c.Review && (opIDs[c.OpID] || !had[c.Rule+"/"+c.OpID]) {
			if err := once(c.Rule, "normal", c.Detail, c.OpID, c.OpID); err != nil {
				return err
			}
		}
	}
	for _, x := range v.Field.Exceptions {
		if x.Review && (opIDs[x.OpID] || !had[x.Code+"/"+x.OpID]) {
			key := x.OpID
			switch x.Code {
			case RulePresenceInvalid, RulePresenceReused:
				key = "" // one alert per visit, not one per guess
			case RulePresenceLocked:
				continue // one per lock, above
			}
			if err := once(x.Code, "normal", x.Detail, key, x.OpID); err != nil {
				return err
			}
		}
	}
	return nil
}

// AlertDeclined is the alert of a worker's decline.
const AlertDeclined = "assignment_declined"

// alert raises the alert a cause (the visit, kind and key) gives. With a
// coalescing window it joins the open alert of its kind and priority on
// the visit (Cases.RaiseAlert): a flood is one alert with a count, and
// only its first cause notifies. The cause's id is derived, so a retry
// counts nothing twice, and a cause raised again in a later window (a
// lock's alert, named by each code it refuses; a batch retried later) is
// counted where it was first.
func (e *Engine) alert(ctx context.Context, v *schemas.Visit, kind, prio, detail, key string, at time.Time) error {
	cause := AlertID(v.ID, kind, key)
	a := &schemas.Alert{ID: cause, Kind: kind, Team: v.Team, VisitID: v.ID,
		WorkerID: v.WorkerID, Priority: prio, Detail: detail, CreatedAt: at.UTC()}
	if w := e.limits.AlertWindow; w > 0 {
		first, err := e.cases().RaiseAlert(ctx, a, kind+"/"+prio+"/visit/"+v.ID, cause, w)
		if err != nil || !first || e.notifier == nil {
			return err
		}
		return e.notifier.Alert(ctx, a)
	}
	if _, err := e.cases().RecordAlert(ctx, a); err != nil {
		return err
	}
	if e.notifier == nil {
		return nil
	}
	// After the alert is durable; a retried batch raises it again and the
	// notifier's dedupe key makes that a no-op.
	return e.notifier.Alert(ctx, a)
}

// seenOps is what the device recorded before of a batch's operations.
type seenOps struct {
	bySeq map[int64]*Record  // the records at the batch's seqs up to lastSeq
	byOp  map[string]*Record // the first record of each of the batch's opIds
}

// seenBefore reads the records a batch's operations may repeat: those at
// their seqs, and those of their opIds under any seq. A phone sends one
// batch at a time and renumbers only upwards, from a nextSeq it was
// answered, so an operation's earlier record is written (and covered by
// lastSeq) before the operation is sent again under another seq.
func (e *Engine) seenBefore(ctx context.Context, a *schemas.Actor, dev *Device, ops []Op) (*seenOps, error) {
	var ids, opIDs []string
	for i := range ops {
		if s := ops[i].Seq; s >= 1 && s <= dev.LastSeq {
			ids = append(ids, recordID(a, s))
		}
		if schemas.ValidID(ops[i].OpID) {
			opIDs = append(opIDs, ops[i].OpID)
		}
	}
	out := &seenOps{bySeq: map[int64]*Record{}, byOp: map[string]*Record{}}
	recs, err := e.ops.Ops(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		out.bySeq[r.Seq] = r
	}
	if recs, err = e.ops.DeviceOps(ctx, a.UserID, a.DeviceID, opIDs); err != nil {
		return nil, err
	}
	for _, r := range recs {
		if f := out.byOp[r.OpID]; f == nil || firstOf(r, f) {
			out.byOp[r.OpID] = r
		}
	}
	return out, nil
}

// firstOf reports whether r, rather than f, is an operation's first
// record: its own, not a marker of a renumbered resend; else the lowest seq.
func firstOf(r, f *Record) bool {
	if rm, fm := r.Status == StatusDuplicate, f.Status == StatusDuplicate; rm != fm {
		return fm
	}
	return r.Seq < f.Seq
}

// duplicateOf is the answer to an operation recorded before as r: the
// outcome r got first (the rejection code if it was rejected).
func duplicateOf(r *Record) (status, code, rule string, rules []string, message string) {
	switch r.Status {
	case StatusDuplicate: // a marker repeats its first record's outcome
		return StatusDuplicate, r.Code, r.Rule, r.Rules, r.Message
	case StatusRejected:
		return StatusDuplicate, r.Code, "", nil, "rejected before: " + r.Message
	case StatusApplied, StatusConflict:
		return StatusDuplicate, r.Status, r.Rule, r.Rules, r.Message
	}
	return StatusDuplicate, DuplicateUnknown, "", nil, "" // never decided: an interrupted attempt's
}
