package schemas

import (
	"testing"
	"time"
)

func TestAckDue(t *testing.T) {
	cal := DefaultCalendar()
	sh := cal.Zone
	at := func(d, h, m int) time.Time { return time.Date(2037, 11, d, h, m, 0, 0, sh) } // 2037-11-23 is a Monday
	cases := []struct {
		name     string
		received time.Time
		urgent   bool
		want     time.Time
	}{
		{"urgent, any time", at(29, 23, 10), true, at(29, 23, 40)},
		{"Monday 10:00: Tuesday 10:00", at(23, 10, 0), false, at(24, 10, 0)},
		{"Monday 07:00, before opening: Monday 18:00", at(23, 7, 0), false, at(23, 18, 0)},
		{"Monday 20:00, after closing: Tuesday 18:00", at(23, 20, 0), false, at(24, 18, 0)},
		{"Saturday 15:00: Monday 15:00 (Sunday off)", at(28, 15, 0), false, at(30, 15, 0)},
		{"Sunday noon: Monday 18:00", at(29, 12, 0), false, at(30, 18, 0)},
	}
	for _, c := range cases {
		if got := AckDue(c.received, c.urgent, cal); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got.In(sh), c.want)
		}
	}
}

func TestComplaintStateMachine(t *testing.T) {
	ok := [][2]string{{"received", "acknowledged"}, {"acknowledged", "investigating"}, {"investigating", "remedy_proposed"},
		{"remedy_proposed", "accepted"}, {"remedy_proposed", "investigating"}, {"accepted", "closed"}}
	states := []string{ComplaintReceived, ComplaintAcknowledged, ComplaintInvestigating, ComplaintRemedyProposed, ComplaintAccepted, ComplaintClosed}
	allowed := map[[2]string]bool{}
	for _, p := range ok {
		allowed[p] = true
	}
	for _, a := range states {
		for _, b := range states {
			if ComplaintCanMove(a, b) != allowed[[2]string{a, b}] {
				t.Errorf("%s -> %s: %v", a, b, ComplaintCanMove(a, b))
			}
		}
	}
}
