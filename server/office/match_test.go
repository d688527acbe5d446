package office

import (
	"testing"
	"time"

	"fieldsync/schemas"
)

func TestRank(t *testing.T) {
	// A Tuesday 09:00-12:00 visit in Shanghai (01:00-04:00 UTC).
	start := time.Date(2037, 12, 1, 1, 0, 0, 0, time.UTC)
	home := schemas.LatLng{Lat: 31.20, Lng: 121.44}
	visit := &schemas.Visit{ID: "v", TimeZone: "Asia/Shanghai", ScheduledStart: start, ScheduledEnd: start.Add(3 * time.Hour),
		Address: schemas.VisitAddress{Location: home}}
	service := &schemas.ServiceType{ServiceTypeInput: schemas.ServiceTypeInput{
		RequiredSkills: []schemas.Skill{schemas.SkillElderCare}, RequiredCertificates: []string{"elder_care"}}}
	customer := &schemas.Customer{CustomerInput: schemas.CustomerInput{Preferences: schemas.Preferences{
		WorkerGender: schemas.GenderFemale, Language: "wuu", MinExperienceYears: 5}}}

	base := func(id string) schemas.Worker {
		return schemas.Worker{ID: id, Rating: 4, WorkerInput: schemas.WorkerInput{
			Status: schemas.WorkerActive, Gender: schemas.GenderFemale, Languages: []string{"zh", "wuu"}, ExperienceYears: 8,
			Skills:          []schemas.Skill{schemas.SkillElderCare},
			Certificates:    []schemas.Certificate{{Type: "elder_care", Issued: "2036-01-01", Expires: "2038-01-01"}},
			BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed},
			WorkingHours:    schemas.WorkingHours{Days: []int{1, 2, 3, 4, 5}, Start: "08:00", End: "18:00"},
			TimeZone:        "Asia/Shanghai", Home: schemas.LatLng{Lat: 31.21, Lng: 121.45}}}
	}
	type tc struct {
		name     string
		mut      func(*schemas.Worker)
		busy     []schemas.Visit
		cust     func(*schemas.Customer)
		eligible bool
		failed   string // the hard reason that excludes
	}
	cases := []tc{
		{name: "fits", mut: func(*schemas.Worker) {}, eligible: true},
		{name: "suspended", mut: func(w *schemas.Worker) { w.Status = schemas.WorkerSuspended }, failed: "active"},
		{name: "missing skill", mut: func(w *schemas.Worker) { w.Skills = []schemas.Skill{schemas.SkillCooking} }, failed: "skills"},
		{name: "certificate expired before the visit", mut: func(w *schemas.Worker) { w.Certificates[0].Expires = "2037-11-30" }, failed: "certificates"},
		{name: "certificate not yet valid", mut: func(w *schemas.Worker) { w.Certificates[0].Issued = "2037-12-02" }, failed: "certificates"},
		{name: "certificate valid on the day itself", mut: func(w *schemas.Worker) { w.Certificates[0].Expires = "2037-12-01" }, eligible: true},
		{name: "background check pending", mut: func(w *schemas.Worker) { w.BackgroundCheck.Status = schemas.CheckPending }, failed: "background_check"},
		{name: "day off", mut: func(w *schemas.Worker) { w.DaysOff = []string{"2037-12-01"} }, failed: "day_off"},
		{name: "weekly day off", mut: func(w *schemas.Worker) { w.WorkingHours.Days = []int{1, 3} }, failed: "day_off"},
		{name: "starts before hours", mut: func(w *schemas.Worker) { w.WorkingHours.Start = "09:30" }, failed: "working_hours"},
		{name: "ends after hours", mut: func(w *schemas.Worker) { w.WorkingHours.End = "11:30" }, failed: "working_hours"},
		{name: "overlapping visit", mut: func(*schemas.Worker) {}, busy: []schemas.Visit{{ID: "o", Status: schemas.VisitScheduled,
			ScheduledStart: start.Add(2 * time.Hour), ScheduledEnd: start.Add(4 * time.Hour)}}, failed: "free"},
		{name: "visit ending inside the travel buffer", mut: func(*schemas.Worker) {}, busy: []schemas.Visit{{ID: "o", Status: schemas.VisitScheduled,
			ScheduledStart: start.Add(-2 * time.Hour), ScheduledEnd: start.Add(-20 * time.Minute)}}, failed: "free"},
		{name: "visit ending before the travel buffer", mut: func(*schemas.Worker) {}, busy: []schemas.Visit{{ID: "o", Status: schemas.VisitScheduled,
			ScheduledStart: start.Add(-2 * time.Hour), ScheduledEnd: start.Add(-31 * time.Minute)}}, eligible: true},
		{name: "cancelled visit does not block", mut: func(*schemas.Worker) {}, busy: []schemas.Visit{{ID: "o", Status: schemas.VisitCancelled,
			ScheduledStart: start, ScheduledEnd: start.Add(time.Hour)}}, eligible: true},
		{name: "wrong gender is soft", mut: func(w *schemas.Worker) { w.Gender = schemas.GenderMale }, eligible: true},
		{name: "wrong gender when required", mut: func(w *schemas.Worker) { w.Gender = schemas.GenderMale },
			cust: func(c *schemas.Customer) { c.Preferences.WorkerGenderRequired = true }, failed: "required_gender"},
		{name: "right gender when required", mut: func(*schemas.Worker) {},
			cust: func(c *schemas.Customer) { c.Preferences.WorkerGenderRequired = true }, eligible: true},
		{name: "on the do-not-send list", mut: func(*schemas.Worker) {},
			cust: func(c *schemas.Customer) { c.DoNotSend = []string{"x", "w"} }, failed: "do_not_send"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := base("w")
			w.Certificates = append([]schemas.Certificate(nil), w.Certificates...)
			c.mut(&w)
			cust := *customer
			if c.cust != nil {
				c.cust(&cust)
			}
			got := Rank(MatchInput{Visit: visit, Service: service, Customer: &cust, Workers: []schemas.Worker{w},
				Busy: map[string][]schemas.Visit{"w": c.busy}, Buffer: 30 * time.Minute})[0]
			if got.Eligible != c.eligible {
				t.Fatalf("eligible=%v, want %v; reasons %+v", got.Eligible, c.eligible, got.Reasons)
			}
			for _, r := range got.Reasons {
				if r.Hard && !r.OK && r.Code != c.failed {
					t.Errorf("unexpected failed constraint %s (%s)", r.Code, r.Detail)
				}
				if r.Code == c.failed && r.OK {
					t.Errorf("constraint %s passed, want failed", c.failed)
				}
			}
		})
	}

	// Soft constraints order the eligible: preferences met beat not met,
	// nearer beats farther, and the excluded come last.
	match := base("a-match")
	male := base("b-male")
	male.Gender = schemas.GenderMale
	far := base("c-far")
	far.Home = schemas.LatLng{Lat: 31.40, Lng: 121.70}
	novice := base("d-novice")
	novice.ExperienceYears = 1
	out := base("e-out")
	out.Skills = nil
	ranked := Rank(MatchInput{Visit: visit, Service: service, Customer: customer, Workers: []schemas.Worker{out, novice, far, male, match}})
	order := []string{}
	for _, c := range ranked {
		order = append(order, c.Worker.ID)
	}
	if order[0] != "a-match" || order[len(order)-1] != "e-out" || ranked[len(ranked)-1].Eligible {
		t.Fatalf("order %v", order)
	}
	if !(ranked[0].Score > ranked[1].Score) {
		t.Fatalf("best candidate does not outscore the next: %+v", ranked[:2])
	}
	for _, c := range ranked {
		if len(c.Reasons) < 7 {
			t.Fatalf("candidate %s has %d reasons, want every constraint explained", c.Worker.ID, len(c.Reasons))
		}
	}
}
