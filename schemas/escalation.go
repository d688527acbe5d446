package schemas

import "time"

// Escalation is a problem a worker could not solve at the door and passed
// to the office, with the time the household was promised an answer by.
// What the worker wrote is never edited; supervisors acknowledge it, move
// the promise (telling the household) and resolve it.
type Escalation struct {
	ID         string    `json:"id" bson:"_id"` // sync.EscalationID of the operation
	VisitID    string    `json:"visitId" bson:"visitId"`
	WorkerID   string    `json:"workerId" bson:"workerId"`
	Team       string    `json:"team" bson:"team"`
	Topic      string    `json:"topic" bson:"topic"`     // customer_request, scope_dispute, access_problem, equipment, safety, other
	Urgency    string    `json:"urgency" bson:"urgency"` // urgent, normal
	Text       string    `json:"text" bson:"text"`
	Photos     []string  `json:"photos" bson:"photos"`
	At         time.Time `json:"at" bson:"at"`                 // when the worker escalated (corrected)
	ReceivedAt time.Time `json:"receivedAt" bson:"receivedAt"` // when the server received it (its clock)
	OpID       string    `json:"opId" bson:"opId"`
	Status     string    `json:"status" bson:"status"` // open, acknowledged, resolved
	// PromisedBy is when the household was told it would be handled: the
	// receipt plus ESCALATION_URGENT or ESCALATION_NORMAL, then each
	// promise the office makes.
	PromisedBy time.Time `json:"promisedBy" bson:"promisedBy"`
	// OverdueRaised: the escalation_overdue alert of the current promise
	// is raised (a new promise clears it).
	OverdueRaised bool       `json:"overdueRaised" bson:"overdueRaised"`
	Outcome       string     `json:"outcome,omitempty" bson:"outcome,omitempty"`
	ResolvedAt    *time.Time `json:"resolvedAt,omitempty" bson:"resolvedAt,omitempty"`
	// Supervisors add to an escalation; nobody edits what was reported.
	Events  []ComplaintEvent `json:"events" bson:"events"`
	Version int64            `json:"version" bson:"-"` // the store's: 1 when recorded, one more each change
}

// Escalation states.
const (
	EscalationOpen         = "open"
	EscalationAcknowledged = "acknowledged"
	EscalationResolved     = "resolved"
)
