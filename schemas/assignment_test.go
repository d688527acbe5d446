package schemas

import (
	"testing"
	"time"
)

// TestAssignmentRules checks each hard constraint on its own: a worker and
// a household that meet every rule, then one change breaking one rule.
func TestAssignmentRules(t *testing.T) {
	// Wednesday 2037-11-25 17:00-20:00 in Shanghai.
	start := time.Date(2037, 11, 25, 9, 0, 0, 0, time.UTC)
	base := func() *Assignment {
		return &Assignment{
			Worker: &Worker{ID: "w", WorkerInput: WorkerInput{Status: WorkerActive, Gender: GenderFemale, TimeZone: "Asia/Shanghai",
				Certificates:    []Certificate{{Type: "health", Issued: "2036-01-01", Expires: "2037-11-25"}},
				BackgroundCheck: BackgroundCheck{Status: CheckPassed},
				WorkingHours:    WorkingHours{Days: []int{1, 2, 3, 4, 5}, Start: "08:00", End: "21:00"}, DaysOff: []string{"2037-11-26"}}},
			Customer: &Customer{CustomerInput: CustomerInput{DoNotSend: []string{"other"}, Preferences: Preferences{WorkerGender: GenderFemale, WorkerGenderRequired: true}}},
			Service:  &ServiceType{ServiceTypeInput: ServiceTypeInput{RequiredCertificates: []string{"health"}}},
			Visit:    &Visit{ID: "v", TimeZone: "Asia/Shanghai", ScheduledStart: start, ScheduledEnd: start.Add(3 * time.Hour)},
			Buffer:   30 * time.Minute,
		}
	}
	busy := func(from, to time.Duration, status VisitStatus) []Visit {
		return []Visit{{ID: "o", Status: status, ScheduledStart: start.Add(from), ScheduledEnd: start.Add(to)}}
	}
	cases := []struct {
		name string
		mut  func(a *Assignment)
		want string // "" meets every rule
	}{
		{"meets every rule", func(*Assignment) {}, ""},
		{"suspended", func(a *Assignment) { a.Worker.Status = WorkerSuspended }, ConstraintActive},
		{"certificate expired the day before", func(a *Assignment) { a.Worker.Certificates[0].Expires = "2037-11-24" }, ConstraintCertificates},
		{"certificate of another type", func(a *Assignment) { a.Worker.Certificates[0].Type = "childcare" }, ConstraintCertificates},
		{"background check failed", func(a *Assignment) { a.Worker.BackgroundCheck.Status = CheckFailed }, ConstraintBackground},
		{"background check pending", func(a *Assignment) { a.Worker.BackgroundCheck.Status = CheckPending }, ConstraintBackground},
		{"date off", func(a *Assignment) { a.Worker.DaysOff = []string{"2037-11-25"} }, ConstraintDayOff},
		{"weekly day off", func(a *Assignment) { a.Worker.WorkingHours.Days = []int{1, 2} }, ConstraintDayOff},
		{"weekly day in the worker's zone", func(a *Assignment) { a.Worker.WorkingHours.Days = []int{3} }, ""}, // Wednesday in Shanghai
		{"weekly day off in the worker's zone", func(a *Assignment) { // 23:00 on Tuesday in Honolulu
			a.Worker.WorkingHours.Days, a.Worker.TimeZone = []int{3}, "Pacific/Honolulu"
		}, ConstraintDayOff},
		{"overlapping visit", func(a *Assignment) { a.Busy = busy(time.Hour, 5*time.Hour, VisitScheduled) }, ConstraintFree},
		{"visit ending inside the buffer", func(a *Assignment) { a.Busy = busy(-3*time.Hour, -29*time.Minute, VisitScheduled) }, ConstraintFree},
		{"visit starting inside the buffer", func(a *Assignment) { a.Busy = busy(3*time.Hour+29*time.Minute, 5*time.Hour, VisitConfirmed) }, ConstraintFree},
		{"visit just outside the buffer", func(a *Assignment) { a.Busy = busy(3*time.Hour+30*time.Minute, 5*time.Hour, VisitScheduled) }, ""},
		{"cancelled visit", func(a *Assignment) { a.Busy = busy(0, time.Hour, VisitCancelled) }, ""},
		{"the visit itself", func(a *Assignment) { a.Busy = []Visit{*a.Visit} }, ""},
		{"do not send", func(a *Assignment) { a.Customer.DoNotSend = []string{"other", "w"} }, ConstraintDoNotSend},
		{"required gender", func(a *Assignment) { a.Worker.Gender = GenderMale }, ConstraintRequiredGender},
		{"preferred gender only", func(a *Assignment) {
			a.Worker.Gender = GenderMale
			a.Customer.Preferences.WorkerGenderRequired = false
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			c.mut(a)
			vs := a.Violations()
			if c.want == "" {
				if len(vs) != 0 {
					t.Fatalf("violations %+v, want none", vs)
				}
				return
			}
			if len(vs) != 1 || vs[0].Code != c.want || vs[0].Detail == "" {
				t.Fatalf("violations %+v, want one %s with a detail", vs, c.want)
			}
		})
	}
}

func TestUnsafeAssignmentError(t *testing.T) {
	e := UnsafeAssignment([]Violation{{Code: ConstraintFree, Detail: "visit x"}, {Code: ConstraintDayOff}})
	if e.Code != ECONFLICT || e.Details["reason"] != "assignment_unsafe" || len(e.Details["violations"].([]Violation)) != 2 {
		t.Fatalf("%+v", e)
	}
	if ValidateOverrideReason("") != nil || ValidateOverrideReason("asked for by the household") != nil || ValidateOverrideReason(" \t") == nil {
		t.Fatal("override reason rules")
	}
}

func TestCustomerRestrictions(t *testing.T) {
	in := func() CustomerInput {
		return CustomerInput{Name: "林先生", Phone: "+8613900000001", Addresses: []Address{{Text: "示范路1号", Location: LatLng{Lat: 31.2, Lng: 121.4}}}}
	}
	c := in()
	c.Preferences.WorkerGenderRequired = true
	if ErrorCode(c.Validate()) != EINVALID {
		t.Fatal("a required gender without a gender is accepted")
	}
	c = in()
	c.DoNotSend = []string{"not-an-id"}
	if ErrorCode(c.Validate()) != EINVALID {
		t.Fatal("a do-not-send entry that is no id is accepted")
	}
	c = in()
	if err := c.Validate(); err != nil || c.DoNotSend == nil {
		t.Fatalf("defaults: %v %v", err, c.DoNotSend)
	}
}
