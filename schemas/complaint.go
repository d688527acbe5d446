package schemas

import (
	"slices"
	"strings"
	"time"
)

// Complaint categories; the urgent ones are answered at once.
var (
	ComplaintCategories = []string{"attitude", "quality", "safety", "fees", "privacy", "misconduct", "other"}
	urgentCategories    = []string{"safety", "privacy", "misconduct"}
)

// Complaint states, in order. A rejected remedy goes back to investigating.
const (
	ComplaintReceived       = "received"
	ComplaintAcknowledged   = "acknowledged"
	ComplaintInvestigating  = "investigating"
	ComplaintRemedyProposed = "remedy_proposed"
	ComplaintAccepted       = "accepted"
	ComplaintClosed         = "closed"
)

var complaintTransitions = map[string][]string{
	ComplaintReceived:       {ComplaintAcknowledged},
	ComplaintAcknowledged:   {ComplaintInvestigating},
	ComplaintInvestigating:  {ComplaintRemedyProposed},
	ComplaintRemedyProposed: {ComplaintAccepted, ComplaintInvestigating},
	ComplaintAccepted:       {ComplaintClosed},
	ComplaintClosed:         {},
}

// ComplaintCanMove reports whether a complaint may go from one state to another.
func ComplaintCanMove(from, to string) bool { return slices.Contains(complaintTransitions[from], to) }

// Channels a complaint arrives by: the customer's own app, or one of the
// office's channels (the seeds' 服务热线, 微信公众号, 官方网站, 电子邮件,
// 现场接待, 专属客服), through which staff file it on the customer's behalf.
const ChannelApp = "app"

var OfficeChannels = []string{"hotline", "wechat", "website", "email", "in_person", "account_manager"}

// Root causes a complaint is closed with, from the seeds' root-cause
// analysis (根源分析): the worker's skill (技能不足) or attitude (态度问题),
// a gap in the service process (服务流程存在漏洞), management (管理不到位),
// the customer's expectation differing from the service (客户对服务预期存在
// 偏差), or none found (other, said in the note).
var RootCauses = []string{"worker_skill", "worker_attitude", "process_gap", "management", "customer_expectation", "other"}

// Remedies the company can propose.
var Remedies = []string{"revisit", "extra_time", "fee_reduction", "refund", "voucher"}

// Remedy is what the company offers to make it right.
type Remedy struct {
	Kind   string `json:"kind" bson:"kind"`
	Detail string `json:"detail" bson:"detail"`
}

// ComplaintEvent is one step of a complaint's handling.
type ComplaintEvent struct {
	At     time.Time `json:"at" bson:"at"`
	By     string    `json:"by" bson:"by"`
	Role   Role      `json:"role" bson:"role"`
	Action string    `json:"action" bson:"action"`
	Note   string    `json:"note,omitempty" bson:"note,omitempty"`
}

// Complaint is a customer's complaint and its handling.
type Complaint struct {
	ID          string           `json:"id" bson:"_id"`
	CustomerID  string           `json:"customerId" bson:"customerId"`
	VisitID     string           `json:"visitId,omitempty" bson:"visitId,omitempty"`
	WorkerID    string           `json:"workerId,omitempty" bson:"workerId,omitempty"`
	Team        string           `json:"team" bson:"team"`
	Category    string           `json:"category" bson:"category"`
	Text        string           `json:"text" bson:"text"`
	Urgent      bool             `json:"urgent" bson:"urgent"`
	State       string           `json:"state" bson:"state"`
	ReceivedAt  time.Time        `json:"receivedAt" bson:"receivedAt"`
	AckDueAt    time.Time        `json:"ackDueAt" bson:"ackDueAt"` // the response-time SLA
	AckedAt     *time.Time       `json:"ackedAt,omitempty" bson:"ackedAt,omitempty"`
	Breached    bool             `json:"breached" bson:"breached"`
	Remedy      *Remedy          `json:"remedy,omitempty" bson:"remedy,omitempty"`
	ClosedAt    *time.Time       `json:"closedAt,omitempty" bson:"closedAt,omitempty"`
	FollowUpDue *time.Time       `json:"followUpDue,omitempty" bson:"followUpDue,omitempty"`
	History     []ComplaintEvent `json:"history" bson:"history"`
	Version     int64            `json:"version" bson:"-"` // the store's: 1 when recorded, one more each change

	// Channel is how it arrived: "app" (also when empty, on records from
	// before channels) or one of OfficeChannels, with FiledBy the staff
	// member who filed it.
	Channel   string `json:"channel,omitempty" bson:"channel,omitempty"`
	FiledBy   string `json:"filedBy,omitempty" bson:"filedBy,omitempty"`
	OwnerID   string `json:"ownerId,omitempty" bson:"ownerId,omitempty"`     // the office user answerable for it
	RootCause string `json:"rootCause,omitempty" bson:"rootCause,omitempty"` // one of RootCauses, set when closed
}

// NewComplaint is what a customer files.
type NewComplaint struct {
	Category string `json:"category"`
	Text     string `json:"text"`
	VisitID  string `json:"visitId,omitempty"`
}

// RemedyProposedAt is when the remedy standing now was proposed (zero if
// none): the last "propose" step.
func (c *Complaint) RemedyProposedAt() time.Time {
	for i := len(c.History) - 1; i >= 0; i-- {
		if c.History[i].Action == "propose" {
			return c.History[i].At
		}
	}
	return time.Time{}
}

// OfficeComplaint is a complaint staff file for a customer who phoned or
// messaged it in.
type OfficeComplaint struct {
	NewComplaint
	Channel string `json:"channel"`           // one of OfficeChannels
	OwnerID string `json:"ownerId,omitempty"` // default: whoever files it
}

// Validate checks the complaint.
func (n *OfficeComplaint) Validate() error {
	if !slices.Contains(OfficeChannels, n.Channel) {
		return FieldError("channel", "channel must be one of %s", strings.Join(OfficeChannels, ", "))
	}
	if n.OwnerID != "" && !ValidID(n.OwnerID) {
		return FieldError("ownerId", "ownerId must be an id")
	}
	return n.NewComplaint.Validate()
}

// Validate checks the complaint.
func (n *NewComplaint) Validate() error {
	if !slices.Contains(ComplaintCategories, n.Category) {
		return FieldError("category", "category must be one of %s", strings.Join(ComplaintCategories, ", "))
	}
	if err := validateRequiredText("text", n.Text, 4000); err != nil {
		return err
	}
	if n.VisitID != "" && !ValidID(n.VisitID) {
		return FieldError("visitId", "visitId must be an id")
	}
	return nil
}

// UrgentCategory reports whether complaints of the category are urgent.
func UrgentCategory(c string) bool { return slices.Contains(urgentCategories, c) }

// WorkCalendar is when the office works: the days (0 = Sunday) and hours,
// in its zone.
type WorkCalendar struct {
	Days       []int
	Start, End int // minutes since midnight
	Zone       *time.Location
}

// DefaultCalendar is Monday to Saturday, 09:00-18:00, Shanghai.
func DefaultCalendar() WorkCalendar {
	loc, _ := time.LoadLocation(DefaultTimeZone)
	return WorkCalendar{Days: []int{1, 2, 3, 4, 5, 6}, Start: 9 * 60, End: 18 * 60, Zone: loc}
}

// AddWorking returns the moment d of working time after t: time outside
// the working hours does not count.
func (c WorkCalendar) AddWorking(t time.Time, d time.Duration) time.Time {
	cur := t.In(c.Zone)
	for i := 0; i < 3660 && d > 0; i++ { // at most ten years of days
		day := time.Date(cur.Year(), cur.Month(), cur.Day(), 0, 0, 0, 0, c.Zone)
		open := day.Add(time.Duration(c.Start) * time.Minute)
		shut := day.Add(time.Duration(c.End) * time.Minute)
		if slices.Contains(c.Days, int(day.Weekday())) && cur.Before(shut) {
			if cur.Before(open) {
				cur = open
			}
			if left := shut.Sub(cur); d <= left {
				return cur.Add(d).UTC()
			} else {
				d -= left
			}
		}
		cur = day.AddDate(0, 0, 1)
	}
	return cur.UTC()
}

// AckDue is the response-time SLA of a complaint received at t: urgent
// ones within 30 minutes, any time; others within one working day (nine
// working hours) of the calendar.
func AckDue(received time.Time, urgent bool, cal WorkCalendar) time.Time {
	if urgent {
		return received.Add(30 * time.Minute)
	}
	return cal.AddWorking(received, time.Duration(cal.End-cal.Start)*time.Minute)
}
