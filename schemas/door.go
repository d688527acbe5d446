package schemas

import (
	"strings"
	"time"
)

// CustomerAbsence is a worker's record that nobody answered the door:
// where the phone was, how long the worker waited, the door's photos.
type CustomerAbsence struct {
	At             time.Time `json:"at" bson:"at"`
	Location       *GeoFix   `json:"location,omitempty" bson:"location,omitempty"` // stored sealed, as the check-in's
	DistanceM      *float64  `json:"distanceM,omitempty" bson:"distanceM,omitempty"`
	WaitedMinutes  int       `json:"waitedMinutes" bson:"waitedMinutes"`
	Photos         []string  `json:"photos" bson:"photos"`
	CalledCustomer bool      `json:"calledCustomer" bson:"calledCustomer"`
	Text           string    `json:"text,omitempty" bson:"text,omitempty"`
	WorkerID       string    `json:"workerId" bson:"workerId"`
	DeviceID       string    `json:"deviceId" bson:"deviceId"`
	OpID           string    `json:"opId" bson:"opId"`
	// AfterCheckIn: the visit was already checked in when it happened. It
	// is kept (and flagged) but raises no alert and tells nobody.
	AfterCheckIn bool `json:"afterCheckIn,omitempty" bson:"afterCheckIn,omitempty"`
}

// Parties a no-show is put down to.
const (
	NoShowCustomer = "customer" // nobody at home: the worker's record at the door shows it
	NoShowWorker   = "worker"   // the worker did not come
)

// NoShowParties is every party.
var NoShowParties = []string{NoShowCustomer, NoShowWorker}

// NoShow is the office's decision that a visit did not take place, and
// whose doing that was.
type NoShow struct {
	Party  string    `json:"party" bson:"party"`
	Reason string    `json:"reason" bson:"reason"`
	By     string    `json:"by" bson:"by"` // the user who marked it
	At     time.Time `json:"at" bson:"at"`
}

// MarkNoShow moves the visit's office status to no_show at now. The visit
// must have begun (now at or after its start), have no check-in, and be in
// a status that may become a no-show; a customer's no-show needs the
// worker's record at the door (field.customerAbsent by the assignee).
func (v *Visit) MarkNoShow(party, reason, by string, now time.Time) error {
	if party != NoShowCustomer && party != NoShowWorker {
		return FieldError("party", "party must be customer or worker")
	}
	if err := validateRequiredText("reason", reason, 500); err != nil {
		return err
	}
	switch {
	case now.Before(v.ScheduledStart):
		return Errorf(ECONFLICT, "the visit has not started yet: a no-show is marked from its start on").With("reason", "not_started")
	case v.Field.CheckIn != nil:
		return Errorf(ECONFLICT, "the visit has a check-in: it is not a no-show").With("reason", "checked_in")
	case !v.Status.CanMoveTo(VisitNoShow):
		return Errorf(ECONFLICT, "a %s visit cannot be marked a no-show", v.Status).With("status", v.Status)
	}
	if a := v.Field.CustomerAbsent; party == NoShowCustomer && (a == nil || a.WorkerID != v.WorkerID || a.AfterCheckIn) {
		return Errorf(ECONFLICT, "a customer no-show needs the worker's record that nobody was at home (customerAbsent)").With("reason", "no_absence_record")
	}
	v.OfficeStatus = VisitNoShow
	v.NoShow = &NoShow{Party: party, Reason: strings.TrimSpace(reason), By: by, At: now.UTC()}
	v.Refresh()
	return nil
}
