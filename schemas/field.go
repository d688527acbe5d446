package schemas

import "time"

// FieldState is what the workers' phones reported about a visit. The sync
// engine recomputes it from every recorded operation of the visit, so it
// never depends on the order the operations arrived in, and nothing the
// office does writes to it.
type FieldState struct {
	FactStatus        VisitStatus    `json:"factStatus,omitempty" bson:"factStatus,omitempty"` // how far the facts say the visit got
	EnRouteAt         *time.Time     `json:"enRouteAt,omitempty" bson:"enRouteAt,omitempty"`
	ETA               *time.Time     `json:"eta,omitempty" bson:"eta,omitempty"`
	CheckIn           *Attendance    `json:"checkIn,omitempty" bson:"checkIn,omitempty"`
	CheckOut          *Attendance    `json:"checkOut,omitempty" bson:"checkOut,omitempty"`
	Progress          []ItemProgress `json:"progress" bson:"progress"`
	SignOff           *SignOff       `json:"signOff,omitempty" bson:"signOff,omitempty"`
	Incidents         []string       `json:"incidents" bson:"incidents"` // incident ids
	Notes             []FieldNote    `json:"notes" bson:"notes"`
	Exceptions        []Exception    `json:"exceptions" bson:"exceptions"`
	Conflicts         []Conflict     `json:"conflicts" bson:"conflicts"`
	CustomerConfirmed bool           `json:"customerConfirmed" bson:"customerConfirmed"` // a valid presence code was entered
	Ops               int            `json:"ops" bson:"ops"`
	// Assignment is the assignee's latest answer to the assignment. It
	// names the worker: an answer by an earlier assignee is no answer.
	Assignment *AssignmentAnswer `json:"assignment,omitempty" bson:"assignment,omitempty"`
	// Escalations are the ids of the escalations the worker raised from
	// the visit (sync.EscalationID of each escalate operation).
	Escalations []string `json:"escalations,omitempty" bson:"escalations,omitempty"`
	// ScopeChanges are the changes of scope the worker proposed on site,
	// each with the household's consent (schemas/scope.go).
	ScopeChanges []ScopeChange `json:"scopeChanges,omitempty" bson:"scopeChanges,omitempty"`
	// CustomerAbsent is the worker's first record that nobody answered
	// the door (customerAbsent); later ones are conflicts.
	CustomerAbsent *CustomerAbsence `json:"customerAbsent,omitempty" bson:"customerAbsent,omitempty"`
	// Messages is the visit's thread between the household and the
	// worker, in the fold's order; the texts are masked (VisitMessage).
	Messages []VisitMessage `json:"messages,omitempty" bson:"messages,omitempty"`
}

// Answers to an assignment.
const (
	AssignmentAccepted = "accepted"
	AssignmentDeclined = "declined"
)

// AssignmentAnswer is a worker's acceptance or decline of an assignment.
type AssignmentAnswer struct {
	Answer   string    `json:"answer" bson:"answer"` // accepted or declined
	WorkerID string    `json:"workerId" bson:"workerId"`
	At       time.Time `json:"at" bson:"at"`
	Reason   string    `json:"reason,omitempty" bson:"reason,omitempty"` // a decline's reason code
	Text     string    `json:"text,omitempty" bson:"text,omitempty"`
	OpID     string    `json:"opId" bson:"opId"`
	// AssignedAt names the assignment answered: the visit's assignedAt
	// when the answer was folded.
	AssignedAt time.Time `json:"assignedAt,omitzero" bson:"assignedAt"`
}

// GeoFix is a phone's position with its accuracy radius.
type GeoFix struct {
	Lat       float64 `json:"lat" bson:"lat"`
	Lng       float64 `json:"lng" bson:"lng"`
	AccuracyM float64 `json:"accuracyM" bson:"accuracyM"`
}

// Attendance is a check-in or check-out as it happened.
type Attendance struct {
	At           time.Time `json:"at" bson:"at"`             // server's best estimate (device time corrected for clock skew)
	DeviceAt     time.Time `json:"deviceAt" bson:"deviceAt"` // as the phone reported it
	Location     *GeoFix   `json:"location,omitempty" bson:"location,omitempty"`
	DistanceM    *float64  `json:"distanceM,omitempty" bson:"distanceM,omitempty"` // from the visit's address
	Method       string    `json:"method" bson:"method"`                           // gps or manual
	Reason       string    `json:"reason,omitempty" bson:"reason,omitempty"`       // why manual
	PresenceCode string    `json:"presenceCode,omitempty" bson:"presenceCode,omitempty"`
	WorkerID     string    `json:"workerId" bson:"workerId"`
	DeviceID     string    `json:"deviceId" bson:"deviceId"`
	OpID         string    `json:"opId" bson:"opId"`
}

// ItemProgress is the state of one checklist item as the phones reported it.
type ItemProgress struct {
	ItemID   string    `json:"itemId" bson:"itemId"`
	Done     bool      `json:"done" bson:"done"`
	At       time.Time `json:"at" bson:"at"`
	DeviceID string    `json:"deviceId" bson:"deviceId"`
	OpID     string    `json:"opId" bson:"opId"`
	Photos   []string  `json:"photos,omitempty" bson:"photos,omitempty"` // attachment hashes
	Changes  int       `json:"changes" bson:"changes"`                   // how many operations touched it
}

// FieldNote is a note or progress remark from the phone.
type FieldNote struct {
	At     time.Time `json:"at" bson:"at"`
	Text   string    `json:"text" bson:"text"`
	ItemID string    `json:"itemId,omitempty" bson:"itemId,omitempty"`
	Photos []string  `json:"photos,omitempty" bson:"photos,omitempty"`
	OpID   string    `json:"opId" bson:"opId"`
}

// Rating is the customer's rating of a visit, 1-5 on each dimension.
type Rating struct {
	Attitude   int `json:"attitude" bson:"attitude"`
	Quality    int `json:"quality" bson:"quality"`
	Efficiency int `json:"efficiency" bson:"efficiency"`
	Price      int `json:"price" bson:"price"`
}

// Lowest is the lowest of the four.
func (r Rating) Lowest() int {
	return min(r.Attitude, r.Quality, r.Efficiency, r.Price)
}

// SignOffItem is the customer's verdict on one checklist item.
type SignOffItem struct {
	ItemID   string `json:"itemId" bson:"itemId"`
	Accepted bool   `json:"accepted" bson:"accepted"`
	Reason   string `json:"reason,omitempty" bson:"reason,omitempty"` // why disputed
}

// SignOff is the customer's acceptance of the work.
type SignOff struct {
	At           time.Time     `json:"at" bson:"at"`
	Items        []SignOffItem `json:"items" bson:"items"`
	SignatureRef string        `json:"signatureRef,omitempty" bson:"signatureRef,omitempty"`
	SignerName   string        `json:"signerName" bson:"signerName"`
	Rating       *Rating       `json:"rating,omitempty" bson:"rating,omitempty"`
	Comment      string        `json:"comment,omitempty" bson:"comment,omitempty"`
	Source       string        `json:"source" bson:"source"` // worker_device or customer_app
	OpID         string        `json:"opId" bson:"opId"`
}

// Disputed reports whether any item was disputed.
func (s *SignOff) Disputed() bool {
	for _, it := range s.Items {
		if !it.Accepted {
			return true
		}
	}
	return false
}

// Exception is something about a fact that a supervisor should know:
// a far check-in, a manual one, a skewed clock.
type Exception struct {
	Code   string `json:"code" bson:"code"`
	Detail string `json:"detail,omitempty" bson:"detail,omitempty"`
	OpID   string `json:"opId" bson:"opId"`
	Review bool   `json:"review" bson:"review"` // needs a supervisor's decision
}

// Conflict is a fact that clashed with another fact or with the office's
// plan, and the rule that decided what stands. Nothing is dropped: the
// losing operation stays recorded.
type Conflict struct {
	Rule   string `json:"rule" bson:"rule"`
	OpID   string `json:"opId" bson:"opId"`
	Detail string `json:"detail,omitempty" bson:"detail,omitempty"`
	Review bool   `json:"review" bson:"review"`
}

// ReviewState is a supervisor's resolution of what needed review.
type ReviewState struct {
	ResolvedCount int       `json:"resolvedCount" bson:"resolvedCount"` // review items covered by the resolution
	ResolvedBy    string    `json:"resolvedBy,omitempty" bson:"resolvedBy,omitempty"`
	ResolvedAt    time.Time `json:"resolvedAt,omitempty" bson:"resolvedAt,omitempty"`
	Note          string    `json:"note,omitempty" bson:"note,omitempty"`
}

// ReviewItems counts the exceptions and conflicts that need a decision.
func (f *FieldState) ReviewItems() int {
	n := 0
	for _, e := range f.Exceptions {
		if e.Review {
			n++
		}
	}
	for _, c := range f.Conflicts {
		if c.Review {
			n++
		}
	}
	return n
}

// DeriveStatus combines what the office decided (scheduled, confirmed,
// cancelled, no_show) with how far the facts say the visit got. A
// cancellation stands over facts (which are kept and flagged for review);
// facts otherwise win, including over a no-show marked while the phone was
// offline (an arrival does; "on the way" does not). Facts only accumulate, so the status only moves forward.
func DeriveStatus(office, fact VisitStatus) VisitStatus {
	if office == "" {
		office = VisitScheduled
	}
	if office == VisitCancelled {
		return VisitCancelled
	}
	// A no-show stands over "on the way": only an arrival is the worker
	// having been there after all.
	if fact == "" || fact == VisitScheduled || office == VisitNoShow && fact.BeforeArrival() {
		return office
	}
	return fact
}

// Refresh recomputes the visit's status and checklist from the office's
// decisions and the field facts.
func (v *Visit) Refresh() {
	v.Status = DeriveStatus(v.OfficeStatus, v.Field.FactStatus)
	// Disputed items go to a rework visit; once the customer accepts it,
	// this visit is done too.
	if v.Status == VisitDisputed && v.ReworkID != "" {
		v.Status = VisitRework
		if v.ReworkAccepted {
			v.Status = VisitSignedOff
		}
	}
	v.NeedsReview = v.UnresolvedReview()
	done := map[string]bool{}
	for _, p := range v.Field.Progress {
		done[p.ItemID] = p.Done
	}
	for i := range v.Checklist {
		v.Checklist[i].Done = done[v.Checklist[i].ID]
	}
}

// UnresolvedReview reports whether the visit has review items a
// supervisor has not resolved yet.
func (v *Visit) UnresolvedReview() bool {
	return v.Field.ReviewItems() > v.Review.ResolvedCount
}
