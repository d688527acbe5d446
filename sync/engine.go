package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/store"
)

// Limits bound one push.
type Limits struct {
	MaxOps     int           // operations per batch
	TimeBudget time.Duration // after this, the rest of the batch is skipped (sent again)
}

// DefaultLimits: a phone three days offline with 2,000 operations syncs in
// four batches; a batch never holds a request long.
var DefaultLimits = Limits{MaxOps: 500, TimeBudget: 15 * time.Second}

// Engine applies pushes and answers pulls.
type Engine struct {
	db        *store.DB
	now       func() time.Time
	log       *slog.Logger
	rules     Rules
	limits    Limits
	attLimits AttachmentLimits
	presence  *Presence
}

// New returns an engine.
func New(db *store.DB, now func() time.Time, log *slog.Logger, rules Rules, limits Limits, presence *Presence) *Engine {
	return &Engine{db: db, now: now, log: log, rules: rules, limits: limits, attLimits: DefaultAttachmentLimits, presence: presence}
}

// Result is the outcome of one operation of a push.
type Result struct {
	Seq     int64  `json:"seq"`
	OpID    string `json:"opId"`
	Status  string `json:"status"`         // applied, conflict, duplicate, rejected, skipped
	Code    string `json:"code,omitempty"` // rejected/skipped: why; duplicate: the first outcome
	Rule    string `json:"rule,omitempty"` // conflict: the rule that decided
	Message string `json:"message,omitempty"`
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

	// Pass 1: sort each operation into duplicate, new, or after a gap.
	expected := dev.LastSeq + 1
	var fresh []*Record
	var dupIdx []int
	stopped := false
	for i := range b.Ops {
		op := &b.Ops[i]
		res := &resp.Results[i]
		res.Seq, res.OpID = op.Seq, op.OpID
		switch {
		case stopped:
			res.Status, res.Code = StatusSkipped, "after_gap"
		case op.Seq < 1:
			res.Status, res.Code, res.Message = StatusRejected, RejectInvalid, "seq must be 1 or more"
		case op.Seq < expected:
			dupIdx = append(dupIdx, i)
		case op.Seq > expected:
			stopped = true
			resp.Gap = &Gap{Expected: expected, Got: op.Seq}
			res.Status, res.Code, res.Message = StatusSkipped, "gap", fmt.Sprintf("expected seq %d first", expected)
		default:
			if len(fresh) > 0 && time.Now().After(deadline) {
				stopped = true
				res.Status, res.Code = StatusSkipped, "time_budget"
				continue
			}
			r := e.newRecord(a, op, b, skew, start, dev)
			dev.LastEffAt = r.EffAt
			fresh = append(fresh, r)
			expected++
		}
	}
	// A later batch filled the gap: forget it.
	dev.PendingGap = resp.Gap

	if err := e.insertRecords(ctx, fresh); err != nil {
		return nil, err
	}
	touched, err := e.applyRecords(ctx, fresh)
	if err != nil {
		return nil, err
	}
	if err := e.finalize(ctx, fresh); err != nil {
		return nil, err
	}
	var rejected int64
	for _, r := range fresh {
		if r.Status == StatusRejected {
			rejected++
		}
	}
	// Duplicates answer with what was decided the first time.
	if err := e.answerDuplicates(ctx, a, b, dupIdx, resp); err != nil {
		return nil, err
	}
	byOp := map[string]*Record{}
	for _, r := range fresh {
		byOp[r.ID] = r
	}
	for i := range b.Ops {
		if r, ok := byOp[recordID(a, b.Ops[i].Seq)]; ok && resp.Results[i].Status == "" {
			resp.Results[i].Status, resp.Results[i].Code, resp.Results[i].Rule, resp.Results[i].Message = r.Status, r.Code, r.Rule, r.Message
			if r.OpID != b.Ops[i].OpID {
				// This seq was recorded for another operation before.
				resp.Results[i] = Result{Seq: r.Seq, OpID: b.Ops[i].OpID, Status: StatusRejected, Code: RejectSeqReused, Message: "seq was used by operation " + r.OpID}
			}
		}
	}

	// Device state last: once lastSeq covers an operation, its effect is stored.
	dev.LastSeq = expected - 1
	if err := e.saveDevice(ctx, dev, int64(len(fresh)), rejected); err != nil {
		return nil, err
	}
	resp.NextSeq = expected
	seq, err := e.db.LogVisits(ctx, touched...)
	if err != nil {
		e.log.Warn("change log append failed; the relay will log the visits", "err", err)
	}
	if seq == 0 {
		if seq, err = e.db.ChangeTail(ctx); err != nil {
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
	r.CorrectedAt = op.At.Add(-skew).UTC()
	if skew > e.rules.MaxSkew || skew < -e.rules.MaxSkew {
		r.Flags = append(r.Flags, RuleClockSkew)
	}
	if r.CorrectedAt.After(now.Add(time.Minute)) {
		// Never trust a time in the future: it is recorded as the receipt time.
		r.Flags = append(r.Flags, RuleFutureTime)
		r.CorrectedAt = now
	}
	r.EffAt = r.CorrectedAt
	if r.EffAt.Before(dev.LastEffAt) {
		r.EffAt = dev.LastEffAt
	}
	err := validateOp(op)
	if err == nil {
		r.Payload, err = decodePayload(op)
	}
	if err != nil {
		r.Status, r.Code, r.Message = StatusRejected, schemas.ErrorCode(err), schemas.ErrorMessage(err)
	}
	return r
}

// applyRecords brings the visits of the new records up to date: access and
// item checks, presence codes, then one fold per visit over every fact it
// has. Running it again for the same records changes nothing.
func (e *Engine) applyRecords(ctx context.Context, recs []*Record) ([]*schemas.Visit, error) {
	byVisit := map[string][]*Record{}
	var order []string
	for _, r := range recs {
		// Records an earlier, interrupted attempt already decided are applied
		// again: the fold is idempotent.
		if r.Status == StatusRejected {
			continue
		}
		if _, ok := byVisit[r.VisitID]; !ok {
			order = append(order, r.VisitID)
		}
		byVisit[r.VisitID] = append(byVisit[r.VisitID], r)
	}
	slices.Sort(order)
	var touched []*schemas.Visit
	for _, id := range order {
		v, err := e.applyVisit(ctx, id, byVisit[id])
		if err != nil {
			return nil, err
		}
		if v != nil {
			touched = append(touched, v)
		}
	}
	return touched, nil
}

func (e *Engine) applyVisit(ctx context.Context, visitID string, recs []*Record) (*schemas.Visit, error) {
	for attempt := 0; ; attempt++ {
		v, err := e.db.VisitByID(ctx, visitID)
		if schemas.ErrorCode(err) == schemas.ENOTFOUND {
			for _, r := range recs {
				r.Status, r.Code, r.Message = StatusRejected, RejectUnknownVisit, "no such visit"
			}
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		live := e.check(v, recs)
		if len(live) == 0 {
			return nil, nil
		}
		stored, err := e.visitRecords(ctx, visitID)
		if err != nil {
			return nil, err
		}
		all := mergeRecords(stored, recs)
		fs, outcomes := Fold(v, all, e.rules)
		for _, r := range live {
			o := outcomes[r.OpID]
			r.Status, r.Rule, r.Message = o.Status, o.Rule, o.Detail
		}
		after := *v
		after.Field = fs
		after.Refresh()
		if err := e.sideEffects(ctx, &after, live); err != nil {
			return nil, err
		}
		if fieldEqual(v, &after) {
			return nil, nil // already applied by an earlier attempt
		}
		after.Version = v.Version + 1
		after.UpdatedAt = e.now().UTC()
		err = e.db.ReplaceVisitUnlogged(ctx, &after, v.Version)
		if schemas.ErrorCode(err) == schemas.ECONFLICT && attempt < 10 {
			continue // the office or another phone changed it meanwhile: fold again
		}
		if err != nil {
			return nil, err
		}
		return &after, nil
	}
}

// check applies the rules that need the visit: whose visit it is, whether
// the checklist item exists, and the presence code. It returns the records
// still live.
func (e *Engine) check(v *schemas.Visit, recs []*Record) []*Record {
	items := map[string]bool{}
	for _, it := range v.Checklist {
		items[it.ID] = true
	}
	var live []*Record
	for _, r := range recs {
		if r.Status == StatusRejected {
			continue
		}
		switch {
		case r.WorkerID != v.WorkerID && !slices.Contains(v.PastWorkerIDs, r.WorkerID):
			r.Status, r.Code, r.Message = StatusRejected, RejectNotYours, "this visit is not assigned to you"
			continue
		case r.Payload.ItemID != "" && !items[r.Payload.ItemID]:
			r.Status, r.Code, r.Message = StatusRejected, RejectUnknownItem, "no checklist item "+r.Payload.ItemID+" on this visit"
			continue
		case r.Kind == KindSignOff:
			bad := ""
			for _, it := range r.Payload.Items {
				if !items[it.ItemID] {
					bad = it.ItemID
				}
			}
			if bad != "" {
				r.Status, r.Code, r.Message = StatusRejected, RejectUnknownItem, "no checklist item "+bad+" on this visit"
				continue
			}
		}
		if (r.Kind == KindCheckIn || r.Kind == KindCheckOut) && r.Payload.PresenceCode != "" && r.PresenceValid == nil && e.presence != nil {
			ok, step := e.presence.Verify(v.ID, r.Payload.PresenceCode, r.CorrectedAt)
			r.PresenceValid, r.PresenceStep = &ok, step
		}
		live = append(live, r)
	}
	return live
}

// mergeRecords is stored ∪ fresh, the fresh copy winning (it carries the
// checks just made).
func mergeRecords(stored, fresh []*Record) []*Record {
	ids := map[string]bool{}
	out := make([]*Record, 0, len(stored)+len(fresh))
	for _, r := range fresh {
		if r.Status != StatusRejected {
			ids[r.ID] = true
			out = append(out, r)
		}
	}
	for _, r := range stored {
		if !ids[r.ID] {
			out = append(out, r)
		}
	}
	return out
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
func (e *Engine) sideEffects(ctx context.Context, v *schemas.Visit, recs []*Record) error {
	now := e.now().UTC()
	for _, r := range recs {
		if err := e.link(ctx, v.ID, r); err != nil {
			return err
		}
		if r.Kind == KindIncident {
			inc := &schemas.Incident{ID: IncidentID(r.OpID), VisitID: v.ID, WorkerID: r.WorkerID, Team: v.Team, Category: r.Payload.Category,
				Severity: r.Payload.Severity, Description: r.Payload.Text, Photos: r.Payload.Photos, At: r.EffAt, ReportedAt: now, OpID: r.OpID, Status: "open"}
			if inc.Photos == nil {
				inc.Photos = []string{}
			}
			if err := e.insertOnce(ctx, colIncidents, inc); err != nil {
				return err
			}
			prio := "normal"
			if inc.Severity == "critical" || inc.Severity == "high" {
				prio = "high"
			}
			if err := e.alert(ctx, v, "incident", prio, inc.Category+"/"+inc.Severity, r.OpID, now); err != nil {
				return err
			}
		}
	}
	// Every review item of the new operations is an alert.
	opIDs := map[string]bool{}
	for _, r := range recs {
		opIDs[r.OpID] = true
	}
	for _, c := range v.Field.Conflicts {
		if c.Review && opIDs[c.OpID] {
			if err := e.alert(ctx, v, c.Rule, "normal", c.Detail, c.OpID, now); err != nil {
				return err
			}
		}
	}
	for _, x := range v.Field.Exceptions {
		if x.Review && opIDs[x.OpID] {
			if err := e.alert(ctx, v, x.Code, "normal", x.Detail, x.OpID, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) alert(ctx context.Context, v *schemas.Visit, kind, prio, detail, opID string, now time.Time) error {
	return e.insertOnce(ctx, colAlerts, &schemas.Alert{ID: AlertID(v.ID, kind, opID), Kind: kind, Team: v.Team, VisitID: v.ID,
		WorkerID: v.WorkerID, Priority: prio, Detail: detail, CreatedAt: now})
}

func (e *Engine) answerDuplicates(ctx context.Context, a *schemas.Actor, b *Batch, idx []int, resp *PushResponse) error {
	if len(idx) == 0 {
		return nil
	}
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = recordID(a, b.Ops[j].Seq)
	}
	stored, err := e.records(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return err
	}
	byID := map[string]*Record{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	for _, j := range idx {
		res := &resp.Results[j]
		r, ok := byID[recordID(a, b.Ops[j].Seq)]
		switch {
		case !ok:
			res.Status, res.Code = StatusDuplicate, "unknown" // pruned long ago
		case r.OpID != b.Ops[j].OpID:
			res.Status, res.Code, res.Message = StatusRejected, RejectSeqReused, "seq was used by operation "+r.OpID
		default:
			res.Status, res.Code, res.Rule, res.Message = StatusDuplicate, r.Status, r.Rule, r.Message
			if r.Status == StatusRejected {
				res.Code, res.Message = r.Code, "rejected before: "+r.Message
			}
		}
	}
	return nil
}
