package schemas

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// ScheduleInput is what the office edits about a recurring schedule, e.g.
// "every Tuesday and Friday 09:00-12:00, daily cleaning, worker X".
type ScheduleInput struct {
	CustomerID    string `json:"customerId" bson:"customerId"`
	AddressID     string `json:"addressId" bson:"addressId"`
	ServiceTypeID string `json:"serviceTypeId" bson:"serviceTypeId"`
	WorkerID      string `json:"workerId" bson:"workerId,omitempty" doc:"optional"`
	Weekdays      []int  `json:"weekdays" bson:"weekdays"` // 0 = Sunday
	StartTime     Clock  `json:"startTime" bson:"startTime"`
	EndTime       Clock  `json:"endTime" bson:"endTime"`
	StartsOn      string `json:"startsOn" bson:"startsOn"`            // first date, customer's calendar
	EndsOn        string `json:"endsOn" bson:"endsOn" doc:"optional"` // last date; empty: open-ended (stored as "", indexed)
	Notes         string `json:"notes" bson:"notes,omitempty" doc:"optional"`
}

// Schedule is a recurring visit pattern. Its visits are generated a
// horizon ahead; the zone is the customer's, fixed when it was created.
type Schedule struct {
	ID            string `json:"id" bson:"_id"`
	ScheduleInput `bson:",inline"`
	TimeZone      string    `json:"timeZone" bson:"timeZone"`
	Version       int64     `json:"version" bson:"-"` // the store's
	CreatedAt     time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt" bson:"updatedAt"`
}

// Validate checks the shape; existence is checked against the store.
func (s *ScheduleInput) Validate() error {
	for field, id := range map[string]string{"customerId": s.CustomerID, "addressId": s.AddressID, "serviceTypeId": s.ServiceTypeID} {
		if !ValidID(id) {
			return FieldError(field, "%s is required and must be an id", field)
		}
	}
	if s.WorkerID != "" && !ValidID(s.WorkerID) {
		return FieldError("workerId", "workerId must be an id")
	}
	if len(s.Weekdays) == 0 || len(s.Weekdays) > 7 {
		return FieldError("weekdays", "weekdays must list 1 to 7 days (0 = Sunday)")
	}
	seen := map[int]bool{}
	for _, d := range s.Weekdays {
		if d < 0 || d > 6 || seen[d] {
			return FieldError("weekdays", "weekdays must be distinct days from 0 (Sunday) to 6")
		}
		seen[d] = true
	}
	st, err := s.StartTime.Minutes("startTime")
	if err != nil {
		return err
	}
	en, err := s.EndTime.Minutes("endTime")
	if err != nil {
		return err
	}
	if en <= st {
		return FieldError("endTime", "endTime must be after startTime (visits do not cross midnight)")
	}
	from, err := ParseDate("startsOn", s.StartsOn)
	if err != nil {
		return err
	}
	if s.EndsOn != "" {
		to, err := ParseDate("endsOn", s.EndsOn)
		if err != nil {
			return err
		}
		if to.Before(from) {
			return FieldError("endsOn", "endsOn must not be before startsOn")
		}
	}
	return validateText("notes", s.Notes, 2000)
}

// Occurrence is one visit a schedule asks for.
type Occurrence struct {
	VisitID string // deterministic: the same schedule and date always give the same id
	Date    string // customer's calendar
	Start   time.Time
	End     time.Time
}

// OccurrenceVisitID is the id of the visit a schedule generates for a date.
// Being derived, not random, it makes generation idempotent: a second run,
// or a second server instance, inserts the same id and the store refuses it.
func OccurrenceVisitID(scheduleID, date string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync/schedule/"+scheduleID+"/"+date)).String()
}

// Occurrences lists the schedule's visits that start in [from, to), by
// walking the customer's calendar so that 09:00 stays 09:00 local across
// daylight-saving changes.
func (s *Schedule) Occurrences(from, to time.Time) []Occurrence {
	loc, err := LoadZone(s.TimeZone)
	if err != nil {
		return nil
	}
	first, err1 := time.Parse(DateLayout, s.StartsOn)
	if err1 != nil {
		return nil
	}
	st, _ := s.StartTime.Minutes("")
	en, _ := s.EndTime.Minutes("")
	y, m, d := from.In(loc).AddDate(0, 0, -1).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if day.Before(first) {
		day = first
	}
	var out []Occurrence
	for ; ; day = day.AddDate(0, 0, 1) {
		date := day.Format(DateLayout)
		if s.EndsOn != "" && date > s.EndsOn {
			break
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), st/60, st%60, 0, 0, loc)
		if !start.Before(to) {
			break
		}
		if start.Before(from) || !slices.Contains(s.Weekdays, int(day.Weekday())) {
			continue
		}
		end := time.Date(day.Year(), day.Month(), day.Day(), en/60, en%60, 0, 0, loc)
		if !end.After(start) {
			continue // the local times fell into a daylight-saving gap
		}
		out = append(out, Occurrence{VisitID: OccurrenceVisitID(s.ID, date), Date: date, Start: start.UTC(), End: end.UTC()})
	}
	return out
}
