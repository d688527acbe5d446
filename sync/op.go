// Package sync is fieldsync's offline-sync engine. Workers' phones push
// batches of named operations (check in, progress, sign-off, ...) that the
// server applies exactly once per device, in order, under its own rules;
// phones pull what changed in their scope from a cursor that never skips a
// change.
//
// Operations are facts. A visit's field state is a pure function (Fold) of
// every operation recorded for it, taken in a fixed order, so it is the
// same whatever order the operations arrived in, a retried batch cannot
// apply anything twice, and a crash half way is repaired by applying again.
package sync

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"fieldsync/schemas"
)

// Schema versions of the push protocol this server speaks.
const (
	SchemaVersion    = 4 // 2: the retire kind, and seq_taken for a seq another operation holds; 3: acceptAssignment, declineAssignment, visit_cancelled; 4: customerAbsent, changeScope, escalate, message, thread_closed
	MinSchemaVersion = 1
)

// Operation kinds.
const (
	KindCheckIn     = "checkIn"
	KindCheckOut    = "checkOut"
	KindRunningLate = "runningLate"
	KindProgress    = "progress"
	KindSignOff     = "signOff"
	KindIncident    = "reportIncident"
	KindNote        = "note"
	// KindRetire fills a seq with nothing: a phone that discards a queued,
	// unsent operation sends a retire at its seq (with a new opId), so a
	// hole never stalls its queue. It names no visit and has no payload.
	KindRetire = "retire"
	// KindAccept and KindDecline are the worker's answer to an
	// assignment; the latest answer of the current assignee stands.
	KindAccept  = "acceptAssignment"
	KindDecline = "declineAssignment"
	// KindScope changes the visit's scope on site (sync/scope.go).
	KindScope = "changeScope"
)

// Kinds lists every operation kind.
var Kinds = []string{KindCheckIn, KindCheckOut, KindRunningLate, KindProgress, KindSignOff, KindIncident, KindNote, KindRetire, KindAccept, KindDecline, KindCustomerAbsent, KindEscalate, KindScope, KindMessage}

// Batch is one push from a phone.
type Batch struct {
	DeviceID      string    `json:"deviceId"`
	SchemaVersion int       `json:"schemaVersion"`
	AppVersion    string    `json:"appVersion,omitempty"`
	DeviceClock   time.Time `json:"deviceClock"` // the phone's clock when it sent the batch: gives the skew
	Ops           []Op      `json:"ops"`
}

// Op is one operation as the phone sends it.
type Op struct {
	Seq     int64           `json:"seq"`  // 1, 2, 3, ... per device, never reused
	OpID    string          `json:"opId"` // the phone's id for it
	Kind    string          `json:"kind"`
	VisitID string          `json:"visitId"`
	At      time.Time       `json:"at"` // when it happened, by the phone's clock
	Payload json.RawMessage `json:"payload"`
}

// Payload holds the fields of every kind; each kind uses some of them.
type Payload = schemas.SyncPayload

// Incident categories and severities.
var (
	IncidentCategories = []string{"injury", "property_damage", "safety", "customer_behaviour", "other"}
	Severities         = []string{"low", "medium", "high", "critical"}
)

// DeclineReasons are the reasons a worker may give for declining an
// assignment (the payload's reason; text may add to it).
var DeclineReasons = []string{"schedule_conflict", "too_far", "not_qualified", "unwell", "personal", "other"}

// Rejection codes: why an operation was refused. The phone drops a
// rejected operation (showing the reason); it never retries it.
const (
	RejectInvalid      = "invalid"         // the operation itself is malformed
	RejectUnknownKind  = "unknown_kind"    // a kind this server does not know (a newer app's)
	RejectUnknownVisit = "unknown_visit"   // no such visit
	RejectNotYours     = "not_yours"       // the visit is not, and never was, the worker's
	RejectUnknownItem  = "unknown_item"    // no such checklist item on the visit
	RejectVisitFull    = "visit_full"      // the visit holds as many operations, or as much text, as it may
	RejectCancelled    = "visit_cancelled" // an answer to the assignment of a cancelled visit
)

// Skip codes: why an operation was not looked at. The phone sends it
// again, numbered from the answer's nextSeq.
const (
	SkipGap        = "gap"         // its seq is ahead of the expected one
	SkipAfterGap   = "after_gap"   // after a gap or a seq_taken in the same batch
	SkipTimeBudget = "time_budget" // the batch ran past its time budget
	SkipSeqTaken   = "seq_taken"   // its seq was recorded for another operation: renumber from nextSeq
)

// DuplicateUnknown is a duplicate's code when its first record is gone.
const DuplicateUnknown = "unknown"

// The closed sets a push result draws from (the API document's enums).
var (
	// ResultStatuses is every status of a result.
	ResultStatuses = []string{StatusApplied, StatusConflict, StatusDuplicate, StatusRejected, StatusSkipped}
	// RejectCodes, SkipCodes: every code of a rejected, a skipped result.
	RejectCodes = []string{RejectInvalid, RejectUnknownKind, RejectUnknownVisit, RejectNotYours, RejectUnknownItem, RejectVisitFull, RejectCancelled, RejectThreadClosed}
	SkipCodes   = []string{SkipGap, SkipAfterGap, SkipTimeBudget, SkipSeqTaken}
	// ResultCodes is every code a result may carry, by its status: a
	// duplicate repeats the first outcome; applied and conflict carry none.
	ResultCodes = map[string][]string{
		StatusApplied:   nil,
		StatusConflict:  nil,
		StatusRejected:  RejectCodes,
		StatusSkipped:   SkipCodes,
		StatusDuplicate: append([]string{StatusApplied, StatusConflict, DuplicateUnknown}, RejectCodes...),
	}
)

func reject(code, format string, args ...any) *schemas.Error {
	return schemas.Errorf(code, format, args...)
}

func oneOf(s string, xs []string) bool {
	for _, x := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// decodePayload parses and checks an operation's payload for its kind. The
// error's code is a rejection code.
func decodePayload(op *Op) (Payload, error) {
	var p Payload
	raw := bytes.TrimSpace(op.Payload)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	// The same strict reading and free-text rule as every request body,
	// but a bad payload rejects its operation, not the batch; and fields
	// this server does not know are kept, not refused: a newer app may
	// send them (README: evolving the protocol).
	extra, err := schemas.DecodeJSONExtra(raw, &p)
	if err != nil {
		return p, reject(RejectInvalid, "payload: %s", schemas.ErrorMessage(err))
	}
	p.Extra = extra
	keepForeign(op.Kind, &p)
	bad := func(format string, args ...any) (Payload, error) { return p, reject(RejectInvalid, format, args...) }
	textOK := func(s string, max int) bool { return len([]rune(s)) <= max && !strings.ContainsRune(s, 0) }
	for _, h := range append(append([]string(nil), p.Photos...), p.SignatureRef) {
		if h != "" && !ValidHash(h) {
			return bad("attachment references must be SHA-256 hashes in hex")
		}
	}
	if len(p.Photos) > 20 {
		return bad("at most 20 photos")
	}
	switch op.Kind {
	case KindCheckIn, KindCheckOut:
		switch p.Method {
		case "", "gps":
			p.Method = "gps"
			if p.Location == nil {
				return bad("a gps %s needs a location", op.Kind)
			}
		case "manual":
			if strings.TrimSpace(p.Reason) == "" {
				return bad("a manual %s needs a reason", op.Kind)
			}
		default:
			return bad("method must be gps or manual")
		}
		if l := p.Location; l != nil {
			if err := (schemas.LatLng{Lat: l.Lat, Lng: l.Lng}).Validate("location"); err != nil || l.AccuracyM < 0 || l.AccuracyM > 100000 {
				return bad("location must be a valid position with a non-negative accuracy")
			}
		}
		if !textOK(p.Reason, 500) || len(p.PresenceCode) > 12 {
			return bad("reason or presence code too long")
		}
	case KindRunningLate:
		if p.ETA == nil {
			return bad("runningLate needs an eta")
		}
		if !textOK(p.Reason, 500) {
			return bad("reason too long")
		}
	case KindProgress:
		if p.ItemID == "" && strings.TrimSpace(p.Text) == "" && len(p.Photos) == 0 {
			return bad("progress needs an itemId, a text or photos")
		}
		if p.ItemID != "" && p.Done == nil {
			return bad("progress on an item needs done true or false")
		}
		if !textOK(p.Text, 2000) {
			return bad("text too long")
		}
	case KindSignOff:
		if len(p.Items) == 0 || len(p.Items) > 100 {
			return bad("signOff needs the verdict on each item")
		}
		seen := map[string]bool{}
		for _, it := range p.Items {
			if it.ItemID == "" || seen[it.ItemID] {
				return bad("signOff items need distinct itemIds")
			}
			seen[it.ItemID] = true
			if !it.Accepted && strings.TrimSpace(it.Reason) == "" {
				return bad("a disputed item needs a reason")
			}
		}
		if strings.TrimSpace(p.SignerName) == "" || !textOK(p.SignerName, 100) || !textOK(p.Comment, 2000) {
			return bad("signOff needs the signer's name")
		}
		if r := p.Rating; r != nil {
			for _, x := range []int{r.Attitude, r.Quality, r.Efficiency, r.Price} {
				if x < 1 || x > 5 {
					return bad("ratings are from 1 to 5")
				}
			}
		}
	case KindIncident:
		if !oneOf(p.Category, IncidentCategories) {
			return bad("category must be one of %s", strings.Join(IncidentCategories, ", "))
		}
		if !oneOf(p.Severity, Severities) {
			return bad("severity must be one of %s", strings.Join(Severities, ", "))
		}
		if strings.TrimSpace(p.Text) == "" || !textOK(p.Text, 4000) {
			return bad("an incident needs a description (text)")
		}
	case KindNote:
		if strings.TrimSpace(p.Text) == "" || !textOK(p.Text, 4000) {
			return bad("a note needs text")
		}
	case KindAccept:
		if p.Reason != "" || !textOK(p.Text, 500) {
			return bad("an acceptance takes no reason, and text up to 500 characters")
		}
	case KindDecline:
		if !oneOf(p.Reason, DeclineReasons) {
			return bad("a decline needs a reason, one of %s", strings.Join(DeclineReasons, ", "))
		}
		if !textOK(p.Text, 500) {
			return bad("text too long")
		}
	case KindEscalate:
		if err := checkEscalate(&p); err != nil {
			return p, err
		}
	case KindScope:
		return p, checkScope(&p)
	case KindCustomerAbsent:
		if err := checkAbsent(&p); err != nil {
			return p, err
		}
	case KindMessage:
		if err := checkMessage(&p); err != nil {
			return p, err
		}
	default:
		return bad("unknown kind %q", op.Kind)
	}
	return p, nil
}

// keepForeign moves the schemaVersion 4 kinds' fields sent on a kind that
// does not take them into Extra: as unknown to that kind as a newer app's
// field, so kept as such (sealed at rest, counted against MaxVisitBytes),
// never read. No phone sends changeId or decision: the household's answer
// to a change is recorded by AnswerScope.
func keepForeign(kind string, p *Payload) {
	move := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		if p.Extra == nil {
			p.Extra = map[string]json.RawMessage{}
		}
		p.Extra[name] = b
	}
	if kind != KindEscalate {
		if p.Topic != "" {
			move("topic", p.Topic)
		}
		if p.Urgency != "" {
			move("urgency", p.Urgency)
		}
		p.Topic, p.Urgency = "", ""
	}
	if kind != KindScope {
		if len(p.Add) > 0 {
			move("add", p.Add)
		}
		if len(p.Drop) > 0 {
			move("drop", p.Drop)
		}
		p.Add, p.Drop = nil, nil
	}
	if p.ChangeID != "" {
		move("changeId", p.ChangeID)
	}
	if p.Decision != "" {
		move("decision", p.Decision)
	}
	p.ChangeID, p.Decision = "", ""
	if kind != KindCustomerAbsent {
		if p.WaitedMinutes != nil {
			move("waitedMinutes", *p.WaitedMinutes)
		}
		if p.CalledCustomer != nil {
			move("calledCustomer", *p.CalledCustomer)
		}
		p.WaitedMinutes, p.CalledCustomer = nil, nil
	}
}

// payloadSize is what an operation adds to a visit against MaxVisitBytes:
// its free text in UTF-8 bytes, and its attachment references.
func payloadSize(p *Payload) int64 {
	n := len(p.Reason) + len(p.Text) + len(p.SignerName) + len(p.Comment)
	for _, it := range p.Items {
		n += len(it.Reason)
	}
	// A change of scope's items go into the field state: each added one
	// with its derived id (counted as a reference is), each dropped id.
	for _, it := range p.Add {
		n += len(it.Title) + 64
	}
	for _, id := range p.Drop {
		n += len(id)
	}
	for k, v := range p.Extra {
		n += len(k) + len(v)
	}
	n += 64 * len(p.Photos)
	if p.SignatureRef != "" {
		n += 64
	}
	return int64(n)
}

// ValidHash reports whether s is a lowercase hex SHA-256.
func ValidHash(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// validateOp checks what can be checked without the visit.
func validateOp(op *Op) error {
	switch {
	case !schemas.ValidID(op.OpID):
		return reject(RejectInvalid, "opId must be a UUID")
	case !oneOf(op.Kind, Kinds):
		return reject(RejectUnknownKind, "unknown kind %.40q: this server does not know it", op.Kind)
	case op.Kind == KindRetire:
		if op.VisitID != "" {
			return reject(RejectInvalid, "a retire names no visit")
		}
		if op.At.IsZero() {
			return reject(RejectInvalid, "at (when it was retired) is required")
		}
		if p := bytes.TrimSpace(op.Payload); len(p) > 0 && string(p) != "null" && string(bytes.Join(bytes.Fields(p), nil)) != "{}" {
			return reject(RejectInvalid, "a retire has no payload")
		}
	case !schemas.ValidID(op.VisitID):
		return reject(RejectUnknownVisit, "visitId is not a visit id")
	case op.At.IsZero():
		return reject(RejectInvalid, "at (when it happened) is required")
	}
	return nil
}
