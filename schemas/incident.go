package schemas

import "time"

// Incident is an accident or problem a worker reported from a visit. Once
// submitted it is never edited, only added to; a supervisor closes it.
type Incident struct {
	ID          string    `json:"id" bson:"_id"`
	VisitID     string    `json:"visitId" bson:"visitId"`
	WorkerID    string    `json:"workerId" bson:"workerId"`
	Team        string    `json:"team" bson:"team"`
	Category    string    `json:"category" bson:"category"` // injury, property_damage, safety, customer_behaviour, other
	Severity    string    `json:"severity" bson:"severity"` // low, medium, high, critical
	Description string    `json:"description" bson:"description"`
	Photos      []string  `json:"photos" bson:"photos"`
	At          time.Time `json:"at" bson:"at"` // when it happened (corrected)
	ReportedAt  time.Time `json:"reportedAt" bson:"reportedAt"`
	OpID        string    `json:"opId" bson:"opId"`
	Status      string    `json:"status" bson:"status"` // open, acknowledged, investigating, resolved
	Outcome     string    `json:"outcome,omitempty" bson:"outcome,omitempty"`
	Escalated   bool      `json:"escalated" bson:"escalated"`
	// Supervisors add to an incident; nobody edits what was reported.
	Events  []ComplaintEvent `json:"events" bson:"events"`
	Version int64            `json:"version" bson:"-"` // the store's: 1 when recorded, one more each change
}

// Incident states.
const (
	IncidentOpen          = "open"
	IncidentAcknowledged  = "acknowledged"
	IncidentInvestigating = "investigating"
	IncidentResolved      = "resolved"
)

// Critical reports whether the incident must be acknowledged within 15
// minutes or escalate to admins: an injury or a safety matter of any
// severity, or anything high or critical (property damage above the
// threshold among them).
func (i *Incident) Critical() bool {
	return i.Category == "injury" || i.Category == "safety" || i.Severity == "high" || i.Severity == "critical"
}

// Alert is something a supervisor must know now. It is recorded durably
// when its cause is recorded; delivery (push) reads it from the store.
type Alert struct {
	ID        string    `json:"id" bson:"_id"` // derived from its cause, so recording it twice is a no-op
	Kind      string    `json:"kind" bson:"kind"`
	Team      string    `json:"team" bson:"team"`
	VisitID   string    `json:"visitId,omitempty" bson:"visitId,omitempty"`
	WorkerID  string    `json:"workerId,omitempty" bson:"workerId,omitempty"`
	Priority  string    `json:"priority" bson:"priority"` // normal, high
	Detail    string    `json:"detail,omitempty" bson:"detail,omitempty"`
	CreatedAt time.Time `json:"createdAt" bson:"createdAt"`
	// A flood of alerts of one kind about one subject (a customer, a visit)
	// within a window is one alert: Count causes, the last at LastAt.
	Count  int        `json:"count" bson:"count,omitempty"` // 1 for a single cause
	LastAt *time.Time `json:"lastAt,omitempty" bson:"lastAt,omitempty"`
	Group  string     `json:"-" bson:"group,omitempty"`  // kind/priority/subject
	Causes []string   `json:"-" bson:"causes,omitempty"` // what raised it, each counted once
	// What supervisors did about it.
	State      string     `json:"state" bson:"state,omitempty"` // open (also when empty), acknowledged, resolved
	AckBy      string     `json:"ackBy,omitempty" bson:"ackBy,omitempty"`
	AckAt      *time.Time `json:"ackAt,omitempty" bson:"ackAt,omitempty"`
	ResolvedBy string     `json:"resolvedBy,omitempty" bson:"resolvedBy,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty" bson:"resolvedAt,omitempty"`
	Note       string     `json:"note,omitempty" bson:"note,omitempty"`
}

// Alert states.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)
