package sync

import (
	"fmt"
	"strings"
	"time"

	"fieldsync/schemas"
)

// KindCustomerAbsent records that nobody answered the door: the phone's
// position, how long the worker waited, the door's photo (schemaVersion 4).
const KindCustomerAbsent = "customerAbsent"

// Rules of customerAbsent.
const (
	RuleAbsentAfterCheckIn = "absent_after_checkin"   // kept; the visit was already checked in
	RuleSecondAbsence      = "second_customer_absent" // the first record at the door stands
)

// AlertCustomerNotHome is the alert of a worker's record at the door.
const AlertCustomerNotHome = "customer_not_home"

// MaxWaitedMinutes bounds customerAbsent's waitedMinutes.
const MaxWaitedMinutes = 600

// checkAbsent checks a customerAbsent payload: a GPS fix shaped and
// checked as a check-in's, the minutes waited, at least one photo.
func checkAbsent(p *Payload) error {
	bad := func(format string, args ...any) error { return reject(RejectInvalid, format, args...) }
	l := p.Location
	if l == nil {
		return bad("customerAbsent needs the phone's location")
	}
	if err := (schemas.LatLng{Lat: l.Lat, Lng: l.Lng}).Validate("location"); err != nil || l.AccuracyM < 0 || l.AccuracyM > 100000 {
		return bad("location must be a valid position with a non-negative accuracy")
	}
	if w := p.WaitedMinutes; w == nil || *w < 0 || *w > MaxWaitedMinutes {
		return bad("customerAbsent needs waitedMinutes, from 0 to %d", MaxWaitedMinutes)
	}
	if len(p.Photos) == 0 {
		return bad("customerAbsent needs at least one photo: the door")
	}
	if len([]rune(p.Text)) > 500 || strings.ContainsRune(p.Text, 0) {
		return bad("text too long")
	}
	if p.Method != "" || p.Reason != "" || p.PresenceCode != "" {
		return bad("customerAbsent takes no method, reason or presence code")
	}
	return nil
}

// customerAbsent folds a record at the door. The current assignee's
// first stands; it is flagged when the visit was already checked in, and
// beyond the geofence as a check-in is. An office no-show is what it leads to, so it is no
// clash with one.
func (f *folder) customerAbsent(r *Record, conflict, exception func(rule, detail string, review bool)) {
	fs := &f.fs
	if rule, detail := officeClash(f.v, r); rule != "" && rule != RuleAfterNoShow {
		conflict(rule, detail, true)
	}
	p := r.Payload
	a := &schemas.CustomerAbsence{At: r.EffAt, Location: p.Location, WaitedMinutes: *p.WaitedMinutes, Photos: p.Photos,
		CalledCustomer: p.CalledCustomer != nil && *p.CalledCustomer, Text: p.Text, WorkerID: r.WorkerID, DeviceID: r.DeviceID, OpID: r.OpID}
	d := float64(int64(schemas.DistanceMeters(schemas.LatLng{Lat: p.Location.Lat, Lng: p.Location.Lng}, f.v.Address.Location)))
	a.DistanceM = &d
	// The geofence as attendanceExceptions applies it.
	if slack := min(p.Location.AccuracyM, f.rules.GeofenceM); d-slack > f.rules.GeofenceM {
		exception(RuleFarFromAddress, fmt.Sprintf("customerAbsent %.0f m from the address (accuracy %.0f m)", d, p.Location.AccuracyM), true)
	}
	if fs.CheckIn != nil {
		a.AfterCheckIn = true
		conflict(RuleAbsentAfterCheckIn, "the visit was checked in at "+fs.CheckIn.At.Format(time.RFC3339), true)
	}
	if r.WorkerID != f.v.WorkerID {
		return // kept as the previous assignee's (the clash above); the door is the current one's
	}
	if fs.CustomerAbsent != nil {
		conflict(RuleSecondAbsence, "the record at the door of "+fs.CustomerAbsent.At.Format(time.RFC3339)+" stands", false)
		return
	}
	fs.CustomerAbsent = a
}

// alertAbsent raises customer_not_home, once per visit, when the new
// operations recorded the visit's standing record at the door by its
// assignee before any check-in. The relay tells the household.
func alertAbsent(v *schemas.Visit, opIDs map[string]bool, once func(kind, prio, detail, key, opID string) error) error {
	a := v.Field.CustomerAbsent
	if a == nil || !opIDs[a.OpID] || a.AfterCheckIn || a.WorkerID != v.WorkerID || v.OfficeStatus == schemas.VisitCancelled {
		return nil
	}
	called := "did not call"
	if a.CalledCustomer {
		called = "called"
	}
	detail := fmt.Sprintf("nobody at home: the worker waited %d min and %s the customer; mark it with POST /v1/visits/%s/no-show", a.WaitedMinutes, called, v.ID)
	return once(AlertCustomerNotHome, "high", detail, "", a.OpID)
}
