package schemas

import (
	"slices"
	"strings"
	"time"
)

// VisitStatus is where a visit is in its life.
type VisitStatus string

const (
	VisitScheduled  VisitStatus = "scheduled"
	VisitConfirmed  VisitStatus = "confirmed"
	VisitEnRoute    VisitStatus = "en_route"
	VisitCheckedIn  VisitStatus = "checked_in"
	VisitCheckedOut VisitStatus = "checked_out"
	VisitSignedOff  VisitStatus = "signed_off"
	VisitCancelled  VisitStatus = "cancelled"
	VisitNoShow     VisitStatus = "no_show"
	VisitDisputed   VisitStatus = "disputed"
	VisitRework     VisitStatus = "rework"
)

// visitTransitions is the visit state machine: from each status, the
// statuses it may move to. Anything not listed is forbidden.
var visitTransitions = map[VisitStatus][]VisitStatus{
	VisitScheduled:  {VisitConfirmed, VisitEnRoute, VisitCheckedIn, VisitCancelled, VisitNoShow},
	VisitConfirmed:  {VisitEnRoute, VisitCheckedIn, VisitCancelled, VisitNoShow},
	VisitEnRoute:    {VisitCheckedIn, VisitCancelled, VisitNoShow},
	VisitCheckedIn:  {VisitCheckedOut},
	VisitCheckedOut: {VisitSignedOff, VisitDisputed},
	VisitDisputed:   {VisitRework},
	VisitRework:     {VisitCheckedIn, VisitSignedOff},
	VisitSignedOff:  {},
	VisitCancelled:  {},
	VisitNoShow:     {},
}

// VisitStatuses lists every status.
var VisitStatuses = []VisitStatus{VisitScheduled, VisitConfirmed, VisitEnRoute, VisitCheckedIn, VisitCheckedOut,
	VisitSignedOff, VisitCancelled, VisitNoShow, VisitDisputed, VisitRework}

// Valid reports whether s is a known status.
func (s VisitStatus) Valid() bool { _, ok := visitTransitions[s]; return ok }

// CanMoveTo reports whether the state machine allows from -> to.
func (s VisitStatus) CanMoveTo(to VisitStatus) bool {
	return slices.Contains(visitTransitions[s], to)
}

// Final reports whether nothing can follow s.
func (s VisitStatus) Final() bool { return len(visitTransitions[s]) == 0 }

// BeforeArrival reports whether the worker has not yet started the visit:
// the office may still reschedule, reassign or cancel it.
func (s VisitStatus) BeforeArrival() bool {
	return s == VisitScheduled || s == VisitConfirmed || s == VisitEnRoute
}

// VisitAddress is the address copied onto a visit when it is planned, so
// later edits of the customer do not move past visits.
type VisitAddress struct {
	AddressID   string `json:"addressId"`
	Text        string `json:"text"`
	Location    LatLng `json:"location"`
	AccessNotes string `json:"accessNotes,omitempty"`
}

// VisitChecklistItem is a checklist step on one visit.
type VisitChecklistItem struct {
	ID   string `json:"id" bson:"id"`
	Text string `json:"text" bson:"text"`
	Done bool   `json:"done" bson:"done"`
}

// Visit is one planned visit of a worker to a household.
type Visit struct {
	ID             string               `json:"id"`
	CustomerID     string               `json:"customerId"`
	Address        VisitAddress         `json:"address"`
	ServiceTypeID  string               `json:"serviceTypeId"`
	ScheduledStart time.Time            `json:"scheduledStart"`
	ScheduledEnd   time.Time            `json:"scheduledEnd"`
	TimeZone       string               `json:"timeZone"`
	WorkerID       string               `json:"workerId,omitempty"`
	Team           string               `json:"team"`
	Checklist      []VisitChecklistItem `json:"checklist"`
	Notes          string               `json:"notes,omitempty"`
	Status         VisitStatus          `json:"status"`       // derived from officeStatus and the field facts
	OfficeStatus   VisitStatus          `json:"officeStatus"` // scheduled, confirmed, cancelled or no_show: the office's part
	CancelReason   string               `json:"cancelReason,omitempty"`
	PastWorkerIDs  []string             `json:"pastWorkerIds,omitempty"` // earlier assignees: their facts are kept, flagged
	Field          FieldState           `json:"field"`
	ReworkID       string               `json:"reworkId,omitempty"` // the visit that redoes disputed items
	ReworkOf       string               `json:"reworkOf,omitempty"` // the visit whose disputed items this one redoes
	ReworkAccepted bool                 `json:"reworkAccepted,omitempty"`
	Corrections    []Correction         `json:"corrections,omitempty"` // supervisors' time corrections, beside the phone's facts
	Review         ReviewState          `json:"review"`
	NeedsReview    bool                 `json:"needsReview"`
	ScheduleID     string               `json:"scheduleId,omitempty"`
	OfficeEdited   bool                 `json:"officeEdited"` // changed by hand: schedule edits leave it alone
	Version        int64                `json:"version"`
	CreatedAt      time.Time            `json:"createdAt"`
	UpdatedAt      time.Time            `json:"updatedAt"`
	// AssignedAt is when the visit was given its current assignee (the
	// server's clock, to the millisecond): only answers to this
	// assignment stand (see sync's answersAssignment). Zero on visits
	// assigned before it was recorded: every answer of the assignee counts.
	AssignedAt time.Time `json:"assignedAt,omitzero"`
	// AddressHidden is set on responses to workers outside the window in
	// which they may see the household's address and notes.
	AddressHidden bool `json:"addressHidden,omitempty"`
	// NoShow is who missed the visit, when the office marked it a
	// no-show (POST /v1/visits/:id/no-show).
	NoShow *NoShow `json:"noShow,omitempty"`
}

// LocalDate is the visit's calendar date in the customer's zone.
func (v *Visit) LocalDate() string {
	loc, err := LoadZone(v.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return v.ScheduledStart.In(loc).Format(DateLayout)
}

// NewVisit is what the office supplies to plan a visit.
type NewVisit struct {
	CustomerID     string    `json:"customerId"`
	AddressID      string    `json:"addressId"`
	ServiceTypeID  string    `json:"serviceTypeId"`
	ScheduledStart time.Time `json:"scheduledStart"`
	ScheduledEnd   time.Time `json:"scheduledEnd,omitempty"` // default: start + the service's duration
	WorkerID       string    `json:"workerId,omitempty"`
	Notes          string    `json:"notes,omitempty"`
	// OverrideReason books the worker despite the hard constraints they
	// break (supervisors and admins; audited). Empty: none are overridden.
	OverrideReason string `json:"overrideReason,omitempty"`
}

// Validate checks the shape; existence is checked against the store.
func (n *NewVisit) Validate() error {
	for field, id := range map[string]string{"customerId": n.CustomerID, "addressId": n.AddressID, "serviceTypeId": n.ServiceTypeID} {
		if !ValidID(id) {
			return FieldError(field, "%s is required and must be an id", field)
		}
	}
	if n.WorkerID != "" && !ValidID(n.WorkerID) {
		return FieldError("workerId", "workerId must be an id")
	}
	if n.ScheduledStart.IsZero() {
		return FieldError("scheduledStart", "scheduledStart is required (RFC 3339 with offset)")
	}
	if !n.ScheduledEnd.IsZero() {
		if err := validateWindow(n.ScheduledStart, n.ScheduledEnd); err != nil {
			return err
		}
	}
	if err := ValidateOverrideReason(n.OverrideReason); err != nil {
		return err
	}
	return validateText("notes", n.Notes, 2000)
}

func validateWindow(start, end time.Time) error {
	if !end.After(start) {
		return FieldError("scheduledEnd", "scheduledEnd must be after scheduledStart")
	}
	if end.Sub(start) > 24*time.Hour {
		return FieldError("scheduledEnd", "a visit lasts at most 24 hours")
	}
	return nil
}

// Office actions on a visit. Each checks the state machine and changes v
// in place; the caller stores it with the version bumped.

// Reschedule moves a visit that has not started.
func (v *Visit) Reschedule(start, end time.Time) error {
	if !v.Status.BeforeArrival() {
		return Errorf(ECONFLICT, "a %s visit cannot be rescheduled", v.Status).With("status", v.Status)
	}
	if err := validateWindow(start, end); err != nil {
		return err
	}
	v.ScheduledStart, v.ScheduledEnd = start.UTC(), end.UTC()
	// A confirmation was for the old time.
	if v.OfficeStatus == VisitConfirmed {
		v.OfficeStatus = VisitScheduled
	}
	v.OfficeEdited = true
	v.Refresh()
	return nil
}

// Answer is the current assignee's answer to the current assignment (""
// when it has none): an answer by an earlier assignee, or to an earlier
// assignment of the same worker (A, then B, then A again), kept in the
// field state until the next fold, does not count, so a reassign resets
// the answer.
func (v *Visit) Answer() string {
	a := v.Field.Assignment
	if a == nil || v.WorkerID == "" || a.WorkerID != v.WorkerID || !a.AssignedAt.Equal(v.AssignedAt) {
		return ""
	}
	return a.Answer
}

// Reassign gives a visit that has not started to another worker (or, with
// "", to no one). The caller records when (AssignedAt, from its clock).
func (v *Visit) Reassign(workerID, team string) error {
	if !v.Status.BeforeArrival() {
		return Errorf(ECONFLICT, "a %s visit cannot be reassigned", v.Status).With("status", v.Status)
	}
	if workerID == v.WorkerID {
		return Errorf(ECONFLICT, "the visit is already assigned to that worker")
	}
	if v.WorkerID != "" && !slices.Contains(v.PastWorkerIDs, v.WorkerID) {
		v.PastWorkerIDs = append(v.PastWorkerIDs, v.WorkerID)
	}
	v.WorkerID = workerID
	if team != "" {
		v.Team = team
	}
	// The customer confirmed the visit with the old worker.
	if v.OfficeStatus == VisitConfirmed {
		v.OfficeStatus = VisitScheduled
	}
	v.OfficeEdited = true
	v.Refresh()
	return nil
}

// AssignedAt is the time an assignment made at now records: UTC, to the
// millisecond (what both stores keep), so an answer's copy equals it.
func AssignedAt(now time.Time) time.Time { return now.UTC().Truncate(time.Millisecond) }

// Cancel cancels a visit that has not started.
func (v *Visit) Cancel(reason string) error {
	if err := validateRequiredText("reason", reason, 500); err != nil {
		return err
	}
	if !v.Status.CanMoveTo(VisitCancelled) {
		return Errorf(ECONFLICT, "a %s visit cannot be cancelled", v.Status).With("status", v.Status)
	}
	v.OfficeStatus = VisitCancelled
	v.CancelReason = strings.TrimSpace(reason)
	v.OfficeEdited = true
	v.Refresh()
	return nil
}

// AddressVisibleTo reports whether a worker may see the household's
// address, phone and notes for this visit at now: only their own visits,
// from the day before to the day after, in the customer's calendar.
func (v *Visit) AddressVisibleTo(workerID string, now time.Time) bool {
	if workerID == "" || v.WorkerID != workerID {
		return false
	}
	loc, err := LoadZone(v.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	day := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	today := day(now)
	return !today.Before(day(v.ScheduledStart).AddDate(0, 0, -1)) && !today.After(day(v.ScheduledEnd).AddDate(0, 0, 1))
}
