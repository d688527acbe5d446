package schemas

import (
	"testing"
	"time"
)

func TestOccurrencesAcrossZones(t *testing.T) {
	cases := []struct {
		name      string
		zone      string
		weekdays  []int
		start     Clock
		end       Clock
		from, to  time.Time
		wantDates []string
		wantUTC   []string // start times
	}{
		{
			name: "Shanghai, no DST, Tue and Fri", zone: "Asia/Shanghai", weekdays: []int{2, 5}, start: "09:00", end: "12:00",
			from: time.Date(2037, 11, 23, 0, 0, 0, 0, time.UTC), to: time.Date(2037, 12, 5, 0, 0, 0, 0, time.UTC),
			wantDates: []string{"2037-11-24", "2037-11-27", "2037-12-01", "2037-12-04"},
			wantUTC:   []string{"2037-11-24T01:00:00Z", "2037-11-27T01:00:00Z", "2037-12-01T01:00:00Z", "2037-12-04T01:00:00Z"},
		},
		{
			// US DST starts Sunday 2037-03-08: 09:00 local is 14:00 UTC before, 13:00 after.
			name: "New York across spring forward", zone: "America/New_York", weekdays: []int{6, 1}, start: "09:00", end: "10:00",
			from: time.Date(2037, 3, 6, 0, 0, 0, 0, time.UTC), to: time.Date(2037, 3, 10, 0, 0, 0, 0, time.UTC),
			wantDates: []string{"2037-03-07", "2037-03-09"},
			wantUTC:   []string{"2037-03-07T14:00:00Z", "2037-03-09T13:00:00Z"},
		},
		{
			// DST ends Sunday 2037-11-01 in New York.
			name: "New York across fall back", zone: "America/New_York", weekdays: []int{0, 6}, start: "09:00", end: "10:00",
			from: time.Date(2037, 10, 31, 0, 0, 0, 0, time.UTC), to: time.Date(2037, 11, 2, 0, 0, 0, 0, time.UTC),
			wantDates: []string{"2037-10-31", "2037-11-01"},
			wantUTC:   []string{"2037-10-31T13:00:00Z", "2037-11-01T14:00:00Z"},
		},
		{
			// Visits that start before "from" (already begun) are not generated.
			name: "from cuts the first day", zone: "Asia/Shanghai", weekdays: []int{2}, start: "09:00", end: "12:00",
			from: time.Date(2037, 11, 24, 2, 0, 0, 0, time.UTC), to: time.Date(2037, 12, 2, 0, 0, 0, 0, time.UTC),
			wantDates: []string{"2037-12-01"}, wantUTC: []string{"2037-12-01T01:00:00Z"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Schedule{ID: "s1", TimeZone: c.zone, ScheduleInput: ScheduleInput{Weekdays: c.weekdays, StartTime: c.start, EndTime: c.end, StartsOn: "2037-01-01"}}
			occ := s.Occurrences(c.from, c.to)
			if len(occ) != len(c.wantDates) {
				t.Fatalf("got %d occurrences %+v, want %v", len(occ), occ, c.wantDates)
			}
			loc, _ := time.LoadLocation(c.zone)
			for i, o := range occ {
				if o.Date != c.wantDates[i] || o.Start.Format(time.RFC3339) != c.wantUTC[i] {
					t.Errorf("occurrence %d = %s %s, want %s %s", i, o.Date, o.Start.Format(time.RFC3339), c.wantDates[i], c.wantUTC[i])
				}
				if got := o.Start.In(loc).Format("15:04"); got != string(c.start) {
					t.Errorf("occurrence %d starts at %s local, want %s", i, got, c.start)
				}
				if o.VisitID != OccurrenceVisitID("s1", o.Date) || !ValidID(o.VisitID) {
					t.Errorf("occurrence %d id %s is not the derived one", i, o.VisitID)
				}
			}
		})
	}
}

func TestOccurrencesBoundsAndGap(t *testing.T) {
	s := &Schedule{ID: "s2", TimeZone: "Asia/Shanghai", ScheduleInput: ScheduleInput{Weekdays: []int{0, 1, 2, 3, 4, 5, 6}, StartTime: "09:00", EndTime: "10:00", StartsOn: "2037-11-25", EndsOn: "2037-11-27"}}
	occ := s.Occurrences(time.Date(2037, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2037, 12, 31, 0, 0, 0, 0, time.UTC))
	if len(occ) != 3 || occ[0].Date != "2037-11-25" || occ[2].Date != "2037-11-27" {
		t.Fatalf("startsOn/endsOn not respected: %+v", occ)
	}
	// Same input, same ids: generation is idempotent by construction.
	again := s.Occurrences(time.Date(2037, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2037, 12, 31, 0, 0, 0, 0, time.UTC))
	for i := range occ {
		if occ[i].VisitID != again[i].VisitID {
			t.Fatal("occurrence ids are not deterministic")
		}
	}
	if OccurrenceVisitID("s2", "2037-11-25") == OccurrenceVisitID("s3", "2037-11-25") {
		t.Fatal("two schedules share a visit id")
	}
	// 02:30 does not exist in New York on 2037-03-08; the visit still
	// happens once that day, an hour long.
	ny := &Schedule{ID: "s4", TimeZone: "America/New_York", ScheduleInput: ScheduleInput{Weekdays: []int{0}, StartTime: "02:30", EndTime: "03:30", StartsOn: "2037-03-01"}}
	gap := ny.Occurrences(time.Date(2037, 3, 7, 0, 0, 0, 0, time.UTC), time.Date(2037, 3, 9, 0, 0, 0, 0, time.UTC))
	if len(gap) > 1 {
		t.Fatalf("DST gap produced %d visits", len(gap))
	}
	for _, o := range gap {
		if !o.End.After(o.Start) {
			t.Fatalf("DST gap visit ends before it starts: %+v", o)
		}
	}
}

func TestScheduleInputValidate(t *testing.T) {
	ok := ScheduleInput{CustomerID: NewID(), AddressID: NewID(), ServiceTypeID: NewID(), Weekdays: []int{2, 5}, StartTime: "09:00", EndTime: "12:00", StartsOn: "2037-11-24"}
	bad := map[string]func(*ScheduleInput){
		"weekdays":      func(s *ScheduleInput) { s.Weekdays = []int{7} },
		"weekdays dup":  func(s *ScheduleInput) { s.Weekdays = []int{1, 1} },
		"no weekdays":   func(s *ScheduleInput) { s.Weekdays = nil },
		"startTime":     func(s *ScheduleInput) { s.StartTime = "9am" },
		"endTime":       func(s *ScheduleInput) { s.EndTime = "08:00" },
		"startsOn":      func(s *ScheduleInput) { s.StartsOn = "24/11/2037" },
		"endsOn":        func(s *ScheduleInput) { s.EndsOn = "2037-11-01" },
		"customerId":    func(s *ScheduleInput) { s.CustomerID = "x" },
		"serviceTypeId": func(s *ScheduleInput) { s.ServiceTypeID = "" },
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range bad {
		s := ok
		s.Weekdays = append([]int(nil), ok.Weekdays...)
		mut(&s)
		if ErrorCode(s.Validate()) != EINVALID {
			t.Errorf("%s: accepted", name)
		}
	}
}
