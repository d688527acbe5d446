package schemas

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Hard constraints of an assignment. A worker who breaks one is not booked
// on the visit (assign, reassign, reschedule, schedule generation) unless a
// supervisor or admin overrides it with a reason; matching shows them as
// not eligible, with the reason. The codes are part of the API.
const (
	ConstraintActive         = "active"           // the worker is not active
	ConstraintCertificates   = "certificates"     // a certificate the service requires is missing or expired on the visit's date
	ConstraintBackground     = "background_check" // the background check has not passed (failed or pending)
	ConstraintDayOff         = "day_off"          // a weekly day off or a date off of the worker
	ConstraintFree           = "free"             // another visit of the worker within the travel buffer
	ConstraintDoNotSend      = "do_not_send"      // the household does not want this worker again
	ConstraintRequiredGender = "required_gender"  // the household requires a worker of the other gender
)

// Violation is one hard constraint an assignment breaks.
type Violation struct {
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Assignment is what the hard constraints of booking a worker on a visit
// are checked against; Violations does no I/O.
type Assignment struct {
	Worker   *Worker
	Customer *Customer
	Service  *ServiceType
	Visit    *Visit        // with its scheduled times
	Busy     []Visit       // other visits of the worker around the visit
	Buffer   time.Duration // kept free before and after each visit, for travel
}

// Rule is one hard constraint: whether the assignment meets it, and a
// detail for the office when it does not.
type Rule struct {
	Code  string
	Check func(a *Assignment) (ok bool, detail string)
}

// Rules are the hard constraints, in the order they are reported.
var Rules = []Rule{
	{ConstraintActive, CheckActive},
	{ConstraintCertificates, CheckCertificates},
	{ConstraintBackground, CheckBackground},
	{ConstraintDayOff, CheckDayOff},
	{ConstraintFree, CheckFree},
	{ConstraintDoNotSend, CheckDoNotSend},
	{ConstraintRequiredGender, CheckRequiredGender},
}

// Violations lists the hard constraints the assignment breaks (nil: none).
func (a *Assignment) Violations() []Violation {
	var out []Violation
	for _, r := range Rules {
		if ok, detail := r.Check(a); !ok {
			out = append(out, Violation{Code: r.Code, Detail: detail})
		}
	}
	return out
}

// CheckActive: only active workers are booked.
func CheckActive(a *Assignment) (bool, string) {
	return a.Worker.Status == WorkerActive, string(a.Worker.Status)
}

// CheckCertificates: every certificate the service requires is valid on
// the visit's date.
func CheckCertificates(a *Assignment) (bool, string) {
	date := a.Visit.LocalDate()
	var missing []string
	for _, c := range a.Service.RequiredCertificates {
		if !a.Worker.CertificateOn(c, date) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Sprintf("not valid on %s: %s", date, strings.Join(missing, ", "))
	}
	return true, ""
}

// CheckBackground: the background check passed.
func CheckBackground(a *Assignment) (bool, string) {
	return a.Worker.BackgroundCheck.Status == CheckPassed, a.Worker.BackgroundCheck.Status
}

// CheckDayOff: the visit's date is not one of the worker's dates off, and
// its weekday (in the worker's zone) is one of their working days.
func CheckDayOff(a *Assignment) (bool, string) {
	date := a.Visit.LocalDate()
	if slices.Contains(a.Worker.DaysOff, date) {
		return false, "day off: " + date
	}
	loc, err := LoadZone(a.Worker.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	day := a.Visit.ScheduledStart.In(loc).Weekday()
	if !slices.Contains(a.Worker.WorkingHours.Days, int(day)) {
		return false, "weekly day off: " + day.String()
	}
	return true, ""
}

// CheckFree: no other live visit of the worker starts before this one
// ends plus the buffer, and ends plus the buffer after this one starts.
func CheckFree(a *Assignment) (bool, string) {
	if o := Clash(a.Visit.ID, a.Visit.ScheduledStart, a.Visit.ScheduledEnd, a.Busy, a.Buffer); o != nil {
		return false, "visit " + o.ID + " at " + o.ScheduledStart.UTC().Format(time.RFC3339)
	}
	return true, ""
}

// Clash returns the first visit of others, other than id and still to be
// done, that overlaps [start, end) once buffer is added on both sides.
func Clash(id string, start, end time.Time, others []Visit, buffer time.Duration) *Visit {
	for i := range others {
		o := &others[i]
		if o.ID == id || o.Status == VisitCancelled || o.Status == VisitNoShow {
			continue
		}
		if Overlap(start, end, o.ScheduledStart, o.ScheduledEnd, buffer) {
			return o
		}
	}
	return nil
}

// Overlap reports whether [s1, e1) and [s2, e2) come closer than buffer.
func Overlap(s1, e1, s2, e2 time.Time, buffer time.Duration) bool {
	return s2.Before(e1.Add(buffer)) && s1.Before(e2.Add(buffer))
}

// CheckDoNotSend: the household has not asked not to see the worker again.
func CheckDoNotSend(a *Assignment) (bool, string) {
	if slices.Contains(a.Customer.DoNotSend, a.Worker.ID) {
		return false, "on the household's do-not-send list"
	}
	return true, ""
}

// CheckRequiredGender: the worker is of the gender the household requires.
func CheckRequiredGender(a *Assignment) (bool, string) {
	p := a.Customer.Preferences
	if p.WorkerGenderRequired && p.WorkerGender != "" && a.Worker.Gender != p.WorkerGender {
		return false, "the household requires a " + string(p.WorkerGender) + " worker"
	}
	return true, ""
}

// UnsafeAssignment is the refusal of an assignment that breaks hard
// constraints: a conflict whose details list them, so that the office
// shows each.
func UnsafeAssignment(vs []Violation) *Error {
	codes := make([]string, len(vs))
	for i, v := range vs {
		codes[i] = v.Code
	}
	e := Errorf(ECONFLICT, "the worker cannot be booked on this visit: %s (a supervisor may override with a reason)", strings.Join(codes, ", "))
	return e.With("reason", "assignment_unsafe").With("violations", vs)
}

// ValidateOverrideReason checks the reason given to override hard
// constraints (empty: no override).
func ValidateOverrideReason(s string) error {
	if s != "" && strings.TrimSpace(s) == "" {
		return FieldError("overrideReason", "overrideReason must say why")
	}
	return validateText("overrideReason", s, TextReason.MaxLen())
}

// Booking is a worker's claim on a visit's time, held in the worker's one
// bookings document: two offices booking the worker at once write that
// one document, conditioned on its version, so only one of two
// overlapping bookings lands. Version is the version of the visit the
// booking is written for: a booking whose visit is at that version or
// later but does not hold the worker any more is stale.
type Booking struct {
	VisitID string    `json:"visitId" bson:"visitId"`
	Start   time.Time `json:"start" bson:"start"`
	End     time.Time `json:"end" bson:"end"`
	Version int64     `json:"version" bson:"version"`
	At      time.Time `json:"at" bson:"at"`
}

// WorkerBookings is a worker's bookings of visits still to come.
type WorkerBookings struct {
	WorkerID string    `json:"workerId" bson:"_id"`
	Bookings []Booking `json:"bookings" bson:"bookings"`
	Version  int64     `json:"-" bson:"-"`
}
