package sync

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"fieldsync/schemas"
)

// Record is an operation as the server recorded it: the phone's operation
// plus what the server worked out on receipt (corrected times, flags). It
// is written once, before any effect, under a unique id per device and
// seq; its final outcome is filled in when the effect is applied.
type Record = schemas.SyncRecord

// Sources of records.
const (
	SourceWorkerDevice = "worker_device"
	SourceCustomerApp  = "customer_app"
	// SourceOffice: a fact the office recorded for the household (its
	// answer to a change of scope, given by phone).
	SourceOffice = "office"
)

func recordSource(r *Record) string {
	if r.Source == "" {
		return SourceWorkerDevice
	}
	return r.Source
}

// Record statuses, and the result statuses a push answers with.
const (
	StatusPending   = "pending"
	StatusApplied   = "applied"
	StatusConflict  = "conflict" // applied, and a rule decided what stands
	StatusRejected  = "rejected"
	StatusDuplicate = "duplicate" // seen before; Code/Rule repeat the first outcome
	StatusSkipped   = "skipped"   // not looked at (after a gap, or over the time budget): send again
)

// Rules are the tunable thresholds of the conflict rules.
type Rules struct {
	GeofenceM   float64       // a check-in farther from the address is an exception
	Early, Late time.Duration // a check-in before start-Early or after end+Late is outside the window
	MaxSkew     time.Duration // a phone clock off by more is flagged
	// A visit's message thread opens this long before the scheduled
	// start and closes this long after the later of the scheduled end and
	// the check-out (ThreadWindow).
	MessagesOpenBefore, MessagesCloseAfter time.Duration
}

// DefaultRules are the documented defaults.
var DefaultRules = Rules{GeofenceM: 300, Early: 2 * time.Hour, Late: 2 * time.Hour, MaxSkew: 2 * time.Minute,
	MessagesOpenBefore: 24 * time.Hour, MessagesCloseAfter: 24 * time.Hour}

// Conflict and exception codes, each decided by one rule below.
const (
	RuleCheckInOnCancelled = "checkin_on_cancelled"      // facts kept, visit stays cancelled, review
	RuleByPreviousAssignee = "fact_by_previous_assignee" // the visit was reassigned while the phone was offline
	RuleAfterNoShow        = "fact_after_no_show"        // the worker was there after all
	RuleOutsideWindow      = "outside_window"            // far from the scheduled time
	RuleRescheduledOffline = "rescheduled_while_offline" // outside the window of a visit the office moved
	RuleFarFromAddress     = "far_from_address"          // beyond the geofence
	RuleManual             = "manual_attendance"         // no GPS, a reason instead
	RuleClockSkew          = "clock_skew"                // the phone's clock was off
	RuleFutureTime         = "future_time"               // a time after the server received it
	RuleSecondCheckIn      = "second_checkin"            // the first check-in stands
	RuleSecondCheckOut     = "second_checkout"           // the first check-out stands
	RuleCheckOutFirst      = "checkout_without_checkin"  // kept; arrival is implied
	RuleSignOffFinal       = "signoff_final"             // the first sign-off stands
	RuleSignOffEarly       = "signoff_before_checkout"   // kept; flagged
	RuleSameItem           = "checklist_same_item"       // two devices changed one item: the later one stands
	RulePresenceInvalid    = "presence_code_invalid"     // recorded, not trusted
	RulePresenceReused     = "presence_code_reused"      // the same code used twice
	RulePresenceLocked     = "presence_locked"           // too many wrong codes: this one was not checked
	RuleCustomerLowRating  = "low_rating"                // 2 or less on some dimension
	RuleDisputed           = "disputed_items"            // the customer disputed items
)

// order is the one order facts are folded in: effective time to the
// second, then device, then the device's seq. It does not depend on
// arrival order, and within one device it follows seq (effective times
// never decrease along seq). Below a second, phones' clocks say nothing
// about which came first, so ties go to the device id. The household
// app's records carry no seq: two of one second tie on all three, and
// the record id (unique) breaks the tie, never the arrival.
func order(a, b *Record) int {
	if c := orderFact(a, b); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func orderFact(a, b *Record) int {
	if c := a.EffAt.Truncate(time.Second).Compare(b.EffAt.Truncate(time.Second)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DeviceID, b.DeviceID); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// Outcome is what the fold decided for one operation.
type Outcome struct {
	Status string   // applied, or conflict when any rule was raised
	Rule   string   // the rule named: the first raised that needs review, else the first raised
	Rules  []string // every rule raised, in the order raised
	Detail string
	review bool
}

// Fold computes a visit's field state from all its recorded, non-rejected
// operations, and the outcome of each. v supplies the office's side: the
// schedule, the address, the assignees, the office status.
func Fold(v *schemas.Visit, recs []*Record, rules Rules) (schemas.FieldState, map[string]Outcome) {
	sorted := make([]*Record, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if !seen[r.ID] { // the same record twice is one fact
			seen[r.ID] = true
			sorted = append(sorted, r)
		}
	}
	slices.SortFunc(sorted, order)
	f := newFolder(v, rules, nil)
	for _, r := range sorted {
		f.add(r)
	}
	return f.finish(), f.out
}

// Checkpoint is what a folder needs, besides the field state, to go on
// from where it stopped: the last record folded and the presence-code
// steps used.
type Checkpoint struct {
	LastEffAt    time.Time `bson:"lastEffAt"`
	LastDeviceID string    `bson:"lastDeviceId"`
	LastSeq      int64     `bson:"lastSeq"`
	LastID       string    `bson:"lastId,omitempty"`
	Steps        []Step    `bson:"steps,omitempty"`
}

// Step is a presence-code time step already used, and by which operation.
type Step struct {
	N    int64  `bson:"n"`
	OpID string `bson:"opId"`
}

// after reports whether r sorts after the last record folded.
func (c *Checkpoint) after(r *Record) bool {
	last := &Record{EffAt: c.LastEffAt, DeviceID: c.LastDeviceID, Seq: c.LastSeq, ID: c.LastID}
	if c.LastID == "" && orderFact(last, r) == 0 {
		return false // a checkpoint from before the id broke ties: fold again
	}
	return order(last, r) < 0
}

// folder applies records one at a time, in order. Folding records a..n in
// one go or a..k, then (from the checkpoint) k+1..n gives the same state.
type folder struct {
	v     *schemas.Visit
	rules Rules
	fs    schemas.FieldState
	out   map[string]Outcome
	steps map[int64]string
	items map[string]int // item id -> index in fs.Progress
	cp    Checkpoint
}

// newFolder starts from scratch (prior nil) or from a folded state.
func newFolder(v *schemas.Visit, rules Rules, prior *Checkpoint) *folder {
	f := &folder{v: v, rules: rules, out: map[string]Outcome{}, steps: map[int64]string{}, items: map[string]int{}}
	if prior == nil {
		f.fs = schemas.FieldState{Progress: []schemas.ItemProgress{}, Incidents: []string{}, Notes: []schemas.FieldNote{},
			Exceptions: []schemas.Exception{}, Conflicts: []schemas.Conflict{}}
		return f
	}
	f.fs = cloneField(v.Field)
	f.cp = *prior
	for _, s := range prior.Steps {
		f.steps[s.N] = s.OpID
	}
	for i, p := range f.fs.Progress {
		f.items[p.ItemID] = i
	}
	return f
}

// cloneField copies the slices a folder appends to or edits.
func cloneField(fs schemas.FieldState) schemas.FieldState {
	fs.Progress = slices.Clone(fs.Progress)
	fs.Incidents = slices.Clone(fs.Incidents)
	fs.Notes = slices.Clone(fs.Notes)
	fs.Exceptions = slices.Clone(fs.Exceptions)
	fs.Conflicts = slices.Clone(fs.Conflicts)
	fs.Escalations = slices.Clone(fs.Escalations)
	fs.Messages = slices.Clone(fs.Messages)
	if fs.Assignment != nil {
		a := *fs.Assignment
		fs.Assignment = &a
	}
	fs.ScopeChanges = slices.Clone(fs.ScopeChanges)
	return fs
}

func (f *folder) finish() schemas.FieldState {
	f.fs.FactStatus = factStatus(&f.fs)
	return f.fs
}

// checkpoint is where the folder stands.
func (f *folder) checkpoint() Checkpoint {
	cp := f.cp
	cp.Steps = cp.Steps[:0:0]
	for n, op := range f.steps {
		cp.Steps = append(cp.Steps, Step{N: n, OpID: op})
	}
	slices.SortFunc(cp.Steps, func(a, b Step) int { return cmp.Compare(a.N, b.N) })
	return cp
}

func (f *folder) add(r *Record) {
	v, rules, fs := f.v, f.rules, &f.fs
	f.cp.LastEffAt, f.cp.LastDeviceID, f.cp.LastSeq, f.cp.LastID = r.EffAt, r.DeviceID, r.Seq, r.ID
	o := Outcome{Status: StatusApplied}
	// Every rule raised makes the operation's answer a conflict naming it:
	// the phone learns what the visit records.
	raise := func(rule, detail string, review bool) {
		o.Rules = append(o.Rules, rule)
		if o.Status != StatusConflict || (review && !o.review) {
			o.Status, o.Rule, o.Detail, o.review = StatusConflict, rule, detail, review
		}
	}
	conflict := func(rule, detail string, review bool) {
		fs.Conflicts = append(fs.Conflicts, schemas.Conflict{Rule: rule, OpID: r.OpID, Detail: detail, Review: review})
		raise(rule, detail, review)
	}
	exception := func(code, detail string, review bool) {
		fs.Exceptions = append(fs.Exceptions, schemas.Exception{Code: code, Detail: detail, OpID: r.OpID, Review: review})
		raise(code, detail, review)
	}
	fs.Ops++
	for _, fl := range r.Flags {
		// Clock flags describe the record's time, not a clash with the
		// visit: recorded, without turning the answer into a conflict.
		fs.Exceptions = append(fs.Exceptions, schemas.Exception{Code: fl, Detail: flagDetail(fl, r), OpID: r.OpID})
	}
	// The office's plan changed under the phone: keep the fact, flag it.
	if isFact(r.Kind) {
		if rule, detail := officeClash(v, r); rule != "" {
			conflict(rule, detail, true)
		}
	}

	switch r.Kind {
	case KindCheckIn, KindCheckOut:
		att := attendance(v, r)
		for _, e := range attendanceExceptions(v, r, att, rules) {
			exception(e.Code, e.Detail, e.Review)
		}
		if r.PresenceValid == nil && r.PresenceLock > 0 {
			exception(RulePresenceLocked, "too many wrong presence codes on this visit: this code was not checked", true)
		}
		if r.PresenceValid != nil {
			switch {
			case !*r.PresenceValid:
				exception(RulePresenceInvalid, "the code did not match the visit at that time", true)
			case f.steps[r.PresenceStep] != "":
				exception(RulePresenceReused, "already used by operation "+f.steps[r.PresenceStep], true)
			default:
				f.steps[r.PresenceStep] = r.OpID
				fs.CustomerConfirmed = true
			}
		}
		if r.Kind == KindCheckIn {
			if fs.CheckIn == nil {
				fs.CheckIn = att
			} else {
				conflict(RuleSecondCheckIn, "first check-in at "+fs.CheckIn.At.Format(time.RFC3339)+" stands", false)
			}
		} else {
			if fs.CheckOut == nil {
				fs.CheckOut = att
				if fs.CheckIn == nil {
					exception(RuleCheckOutFirst, "no check-in before it", false)
				}
			} else {
				conflict(RuleSecondCheckOut, "first check-out at "+fs.CheckOut.At.Format(time.RFC3339)+" stands", false)
			}
		}
	case KindRunningLate:
		t := r.EffAt
		if fs.EnRouteAt == nil {
			fs.EnRouteAt = &t
		}
		eta := r.Payload.ETA.UTC()
		fs.ETA = &eta
	case KindProgress:
		if r.Payload.ItemID != "" {
			p := schemas.ItemProgress{ItemID: r.Payload.ItemID, Done: *r.Payload.Done, At: r.EffAt, DeviceID: r.DeviceID, OpID: r.OpID, Photos: r.Payload.Photos}
			if i, ok := f.items[p.ItemID]; ok {
				prev := fs.Progress[i]
				p.Changes = prev.Changes + 1
				if prev.DeviceID != p.DeviceID && prev.Done != p.Done {
					// Both facts stay recorded; the later one is the state.
					conflict(RuleSameItem, fmt.Sprintf("%s: done=%v from %s superseded by done=%v from %s", p.ItemID, prev.Done, prev.DeviceID, p.Done, p.DeviceID), false)
				}
				if len(p.Photos) == 0 {
					p.Photos = prev.Photos
				}
				fs.Progress[i] = p
			} else {
				p.Changes = 1
				f.items[p.ItemID] = len(fs.Progress)
				fs.Progress = append(fs.Progress, p)
			}
			f.scopeProgress(r, exception)
		}
		if r.Payload.Text != "" || len(r.Payload.Photos) > 0 {
			fs.Notes = append(fs.Notes, schemas.FieldNote{At: r.EffAt, Text: r.Payload.Text, ItemID: r.Payload.ItemID, Photos: r.Payload.Photos, OpID: r.OpID})
		}
	case KindNote:
		fs.Notes = append(fs.Notes, schemas.FieldNote{At: r.EffAt, Text: r.Payload.Text, Photos: r.Payload.Photos, OpID: r.OpID})
	case KindIncident:
		fs.Incidents = append(fs.Incidents, IncidentID(r.OpID))
	case KindEscalate:
		f.escalate(r)
	case KindAccept, KindDecline:
		// Only the current assignee answers, and only to the current
		// assignment; an earlier one's answer is recorded as an operation
		// but does not stand.
		if r.WorkerID != v.WorkerID || !answersAssignment(v, r, rules) {
			break
		}
		a := &schemas.AssignmentAnswer{Answer: schemas.AssignmentAccepted, WorkerID: r.WorkerID, At: r.EffAt, Text: r.Payload.Text, OpID: r.OpID,
			AssignedAt: v.AssignedAt}
		if r.Kind == KindDecline {
			a.Answer, a.Reason = schemas.AssignmentDeclined, r.Payload.Reason
		}
		fs.Assignment = a
	case KindScope, KindScopeAnswer:
		f.scope(r, exception, conflict)
	case KindCustomerAbsent:
		f.customerAbsent(r, conflict, exception)
	case KindMessage:
		f.message(r)
	case KindSignOff:
		so := &schemas.SignOff{At: r.EffAt, Items: r.Payload.Items, SignatureRef: r.Payload.SignatureRef, SignerName: r.Payload.SignerName,
			Rating: r.Payload.Rating, Comment: r.Payload.Comment, Source: recordSource(r), OpID: r.OpID}
		if fs.SignOff != nil {
			conflict(RuleSignOffFinal, "the sign-off of "+fs.SignOff.At.Format(time.RFC3339)+" stands", true)
			break
		}
		fs.SignOff = so
		if fs.CheckOut == nil {
			exception(RuleSignOffEarly, "signed off before any check-out", false)
		}
		if so.Disputed() {
			exception(RuleDisputed, fmt.Sprintf("%d item(s) disputed", countDisputed(so)), true)
		}
		if so.Rating != nil && so.Rating.Lowest() <= 2 {
			exception(RuleCustomerLowRating, fmt.Sprintf("lowest %d", so.Rating.Lowest()), true)
		}
	}
	f.out[r.OpID] = o
}

// answersAssignment reports whether an answer was given to the visit's
// current assignment (made at v.AssignedAt), not to an earlier one of the
// same worker (A, then B, then A again). Two tests, both on times the
// record already holds: the server received it no earlier than the
// assignment (the server's one clock on both sides: before, the phone
// cannot have known of it), and the phone says it was given no earlier
// than the assignment less MaxSkew (its corrected time is within MaxSkew
// of the truth, so a phone a little slow that answers at once still
// counts). An answer an offline phone gave to the earlier assignment and
// delivers later fails the second test, unless it was given within
// MaxSkew of the new one.
func answersAssignment(v *schemas.Visit, r *Record, rules Rules) bool {
	return !r.ReceivedAt.Before(v.AssignedAt) && !r.EffAt.Before(v.AssignedAt.Add(-rules.MaxSkew))
}

// OfficeKey sums up the office's side of a visit that the rules read. A
// checkpoint folded under another office state is not resumed: the visit
// is folded again from all its records.
func OfficeKey(v *schemas.Visit) string {
	items := make([]string, len(v.Checklist))
	for i, it := range v.Checklist {
		items[i] = it.ID
	}
	return fmt.Sprint(v.OfficeStatus, v.WorkerID, v.AssignedAt.UnixMilli(), v.PastWorkerIDs, v.OfficeEdited, v.CancelReason,
		v.ScheduledStart.UnixMilli(), v.ScheduledEnd.UnixMilli(), v.Address.Location, items)
}

// flagDetail explains a clock flag from the record's decided facts only
// (never the skew measured on receipt, which varies from push to push).
func flagDetail(flag string, r *Record) string {
	if flag == RuleFutureTime {
		return "a time after the server received it: recorded at the receipt time"
	}
	return fmt.Sprintf("the phone's clock was off by about %d min: its times were corrected by that", r.CorrectionS/60)
}

func isFact(kind string) bool {
	return kind == KindCheckIn || kind == KindCheckOut || kind == KindSignOff || kind == KindProgress
}

func countDisputed(s *schemas.SignOff) int {
	n := 0
	for _, it := range s.Items {
		if !it.Accepted {
			n++
		}
	}
	return n
}

// factStatus is how far the facts say the visit got. It only grows as
// facts are added.
func factStatus(fs *schemas.FieldState) schemas.VisitStatus {
	switch {
	case fs.SignOff != nil && fs.SignOff.Disputed():
		return schemas.VisitDisputed
	case fs.SignOff != nil:
		return schemas.VisitSignedOff
	case fs.CheckOut != nil:
		return schemas.VisitCheckedOut
	case fs.CheckIn != nil:
		return schemas.VisitCheckedIn
	case fs.EnRouteAt != nil:
		return schemas.VisitEnRoute
	}
	return schemas.VisitScheduled
}

// officeClash is the rule for facts about a visit the office changed
// while the phone was offline: the fact is kept and flagged for review,
// never silently dropped.
func officeClash(v *schemas.Visit, r *Record) (rule, detail string) {
	switch {
	case v.OfficeStatus == schemas.VisitCancelled:
		return RuleCheckInOnCancelled, "the visit was cancelled: " + v.CancelReason
	case v.WorkerID != r.WorkerID:
		return RuleByPreviousAssignee, "the visit was reassigned to another worker"
	case v.OfficeStatus == schemas.VisitNoShow:
		return RuleAfterNoShow, "the visit had been marked as a no-show"
	}
	return "", ""
}

func attendance(v *schemas.Visit, r *Record) *schemas.Attendance {
	a := &schemas.Attendance{At: r.EffAt, DeviceAt: r.DeviceAt, Location: r.Payload.Location, Method: r.Payload.Method,
		Reason: r.Payload.Reason, PresenceCode: r.Payload.PresenceCode, WorkerID: r.WorkerID, DeviceID: r.DeviceID, OpID: r.OpID}
	if l := r.Payload.Location; l != nil {
		d := schemas.DistanceMeters(schemas.LatLng{Lat: l.Lat, Lng: l.Lng}, v.Address.Location)
		d = float64(int64(d))
		a.DistanceM = &d
	}
	return a
}

// attendanceExceptions are the rules for one check-in or check-out: the
// geofence (less the fix's own accuracy, capped), the scheduled window, and
// manual attendance.
func attendanceExceptions(v *schemas.Visit, r *Record, a *schemas.Attendance, rules Rules) []schemas.Exception {
	var out []schemas.Exception
	if a.DistanceM != nil {
		slack := min(a.Location.AccuracyM, rules.GeofenceM)
		if *a.DistanceM-slack > rules.GeofenceM {
			out = append(out, schemas.Exception{Code: RuleFarFromAddress, Detail: fmt.Sprintf("%.0f m from the address (accuracy %.0f m)", *a.DistanceM, a.Location.AccuracyM), Review: true})
		}
	}
	if a.Method == "manual" {
		out = append(out, schemas.Exception{Code: RuleManual, Detail: a.Reason})
	}
	if a.At.Before(v.ScheduledStart.Add(-rules.Early)) || a.At.After(v.ScheduledEnd.Add(rules.Late)) {
		code, review := RuleOutsideWindow, false
		if v.OfficeEdited {
			code, review = RuleRescheduledOffline, true
		}
		out = append(out, schemas.Exception{Code: code, Detail: fmt.Sprintf("%s at %s, scheduled %s-%s", r.Kind, a.At.Format(time.RFC3339),
			v.ScheduledStart.Format(time.RFC3339), v.ScheduledEnd.Format(time.RFC3339)), Review: review})
	}
	return out
}
