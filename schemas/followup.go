package schemas

import "time"

// FollowUp is the call to a household after a visit is signed off, or
// after their complaint is closed: due a day later, at the latest within a
// week, with what came of it.
type FollowUp struct {
	ID         string     `json:"id" bson:"_id"` // derived from the visit: one per visit
	VisitID    string     `json:"visitId" bson:"visitId"`
	CustomerID string     `json:"customerId" bson:"customerId"`
	WorkerID   string     `json:"workerId,omitempty" bson:"workerId,omitempty"`
	Team       string     `json:"team" bson:"team"`
	DueAt      time.Time  `json:"dueAt" bson:"dueAt"`
	LatestAt   time.Time  `json:"latestAt" bson:"latestAt"`
	Done       bool       `json:"done" bson:"done"`
	DoneAt     *time.Time `json:"doneAt,omitempty" bson:"doneAt,omitempty"`
	DoneBy     string     `json:"doneBy,omitempty" bson:"doneBy,omitempty"`
	Outcome    string     `json:"outcome,omitempty" bson:"outcome,omitempty"`
	Overdue    bool       `json:"overdue" bson:"-"` // past LatestAt and not done; filled when listed
	Version    int64      `json:"version" bson:"-"` // the store's: 1 when recorded, one more each change

	// A complaint's follow-up (its id derived from the complaint; VisitID
	// is the complaint's visit, "" if it was about none).
	ComplaintID string `json:"complaintId,omitempty" bson:"complaintId,omitempty"`
}
