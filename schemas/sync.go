package schemas

import (
	"encoding/json"
	"time"
)

// SyncRecord is an operation as the sync engine recorded it: the phone's
// operation plus what the server worked out on receipt (corrected times,
// flags). It is written once, before any effect, under a unique id per
// device and seq; its final outcome is filled in when the effect is
// applied. (The sync package calls it Record.)
type SyncRecord struct {
	ID          string      `bson:"_id"` // userID/deviceID/seq
	UserID      string      `bson:"userId"`
	WorkerID    string      `bson:"workerId"`
	Source      string      `bson:"source,omitempty"` // "" for a worker's phone; customer_app
	DeviceID    string      `bson:"deviceId"`
	Seq         int64       `bson:"seq"`
	OpID        string      `bson:"opId"`
	Kind        string      `bson:"kind"`
	VisitID     string      `bson:"visitId"`
	DeviceAt    time.Time   `bson:"deviceAt"`              // as the phone reported it
	CorrectedAt time.Time   `bson:"correctedAt"`           // DeviceAt less the correction, to the second
	CorrectionS int64       `bson:"correctionS,omitempty"` // seconds taken off the phone's time (whole minutes; 0 within MaxSkew)
	EffAt       time.Time   `bson:"effAt"`                 // CorrectedAt, never before the device's previous operation: the order key
	ReceivedAt  time.Time   `bson:"receivedAt"`
	SkewMs      int64       `bson:"skewMs"`          // as measured on receipt; informative only
	Flags       []string    `bson:"flags,omitempty"` // clock_skew, future_time
	Payload     SyncPayload `bson:"payload"`
	// Presence code check, made when the visit is known.
	PresenceValid *bool `bson:"presenceValid,omitempty"`
	PresenceStep  int64 `bson:"presenceStep,omitempty"`
	// Attachments named as ones on a visit the user may see, not as the
	// user's own uploads (see the sync engine's checkRefs).
	SharedRefs   []string `bson:"sharedRefs,omitempty"`
	PresenceLock int64    `bson:"presenceLock,omitempty"` // the visit's lock (1, 2, ...) that refused the code unchecked, or that this wrong code completed

	Status  string   `bson:"status"` // pending, applied, conflict, rejected
	Code    string   `bson:"code,omitempty"`
	Rule    string   `bson:"rule,omitempty"`
	Rules   []string `bson:"rules,omitempty"`
	Message string   `bson:"message,omitempty"`
}

// SyncPayload holds the fields of every operation kind; each kind uses
// some of them. (The sync package calls it Payload.)
type SyncPayload struct {
	// checkIn, checkOut
	Location     *GeoFix `json:"location,omitempty" bson:"location,omitempty"`
	Method       string  `json:"method,omitempty" bson:"method,omitempty"` // gps, manual
	Reason       string  `json:"reason,omitempty" bson:"reason,omitempty"`
	PresenceCode string  `json:"presenceCode,omitempty" bson:"presenceCode,omitempty"`
	// runningLate
	ETA *time.Time `json:"eta,omitempty" bson:"eta,omitempty"`
	// progress
	ItemID string `json:"itemId,omitempty" bson:"itemId,omitempty"`
	Done   *bool  `json:"done,omitempty" bson:"done,omitempty"`
	// progress, note, incident
	Text   string   `json:"text,omitempty" bson:"text,omitempty"`
	Photos []string `json:"photos,omitempty" bson:"photos,omitempty"`
	// signOff
	Items        []SignOffItem `json:"items,omitempty" bson:"items,omitempty"`
	SignatureRef string        `json:"signatureRef,omitempty" bson:"signatureRef,omitempty"`
	SignerName   string        `json:"signerName,omitempty" bson:"signerName,omitempty"`
	Rating       *Rating       `json:"rating,omitempty" bson:"rating,omitempty"`
	Comment      string        `json:"comment,omitempty" bson:"comment,omitempty"`
	// reportIncident
	Category string `json:"category,omitempty" bson:"category,omitempty"`
	Severity string `json:"severity,omitempty" bson:"severity,omitempty"`
	// escalate: what it is about and how urgent (text and photos as
	// above); the server sets the promised time on receipt.
	Topic   string `json:"topic,omitempty" bson:"topic,omitempty"`
	Urgency string `json:"urgency,omitempty" bson:"urgency,omitempty"`
	// changeScope: items added and checklist item ids dropped (with
	// reason and presenceCode above); scopeAnswer, the household's answer
	// recorded from its app: the change (its opId) and agree or refuse.
	Add      []ScopeItem `json:"add,omitempty" bson:"add,omitempty"`
	Drop     []string    `json:"drop,omitempty" bson:"drop,omitempty"`
	ChangeID string      `json:"changeId,omitempty" bson:"changeId,omitempty"`
	Decision string      `json:"decision,omitempty" bson:"decision,omitempty"`
	// customerAbsent (with location, photos and text): how long the
	// worker waited at the door, and whether they called the customer.
	WaitedMinutes  *int  `json:"waitedMinutes,omitempty" bson:"waitedMinutes,omitempty"`
	CalledCustomer *bool `json:"calledCustomer,omitempty" bson:"calledCustomer,omitempty"`
	// Extra are the payload's fields this server does not know (a newer
	// app's), as sent: the fold ignores them, the record keeps them
	// (sealed, as free text is), so a server upgraded later can read them.
	Extra map[string]json.RawMessage `json:"-" bson:"-"`
}

// SyncDevice is the sync state of one phone of one user. (The sync
// package calls it Device.)
type SyncDevice struct {
	ID            string    `json:"id"` // userID/deviceID
	UserID        string    `json:"userId"`
	DeviceID      string    `json:"deviceId"`
	WorkerID      string    `json:"workerId,omitempty"`
	Team          string    `json:"team,omitempty"`
	LastSeq       int64     `json:"lastSeq"` // every op up to here is applied
	LastEffAt     time.Time `json:"-"`
	LastPushAt    time.Time `json:"lastPushAt,omitempty"`
	LastPullAt    time.Time `json:"lastPullAt,omitempty"`
	AppVersion    string    `json:"appVersion,omitempty"`
	SchemaVersion int       `json:"schemaVersion,omitempty"`
	PendingGap    *SyncGap  `json:"pendingGap,omitempty"`
	SkewMs        int64     `json:"skewMs"`
	Pushes        int64     `json:"pushes"`
	Ops           int64     `json:"ops"`
	Rejected      int64     `json:"rejected"`
	// RejectedLastDay is filled in when devices are listed.
	RejectedLastDay int64 `json:"rejectedLastDay"`
}

// SyncGap is a hole in a device's sequence: the server expects Expected,
// the phone sent Got. (The sync package calls it Gap.)
type SyncGap struct {
	Expected int64 `json:"expected" bson:"expected"`
	Got      int64 `json:"got" bson:"got"`
}
