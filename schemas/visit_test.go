package schemas

import (
	"fmt"
	"testing"
	"time"
)

// TestVisitTransitions checks every (from, to) pair against the allowed
// list written out by hand: anything not listed must be refused.
func TestVisitTransitions(t *testing.T) {
	allowed := map[string]bool{
		"scheduled>confirmed": true, "scheduled>en_route": true, "scheduled>checked_in": true, "scheduled>cancelled": true, "scheduled>no_show": true,
		"confirmed>en_route": true, "confirmed>checked_in": true, "confirmed>cancelled": true, "confirmed>no_show": true,
		"en_route>checked_in": true, "en_route>cancelled": true, "en_route>no_show": true,
		"checked_in>checked_out": true,
		"checked_out>signed_off": true,
		"checked_out>disputed":   true,
		"disputed>rework":        true,
		"rework>checked_in":      true,
		"rework>signed_off":      true,
	}
	n := 0
	for _, from := range VisitStatuses {
		for _, to := range VisitStatuses {
			want := allowed[fmt.Sprintf("%s>%s", from, to)]
			if got := from.CanMoveTo(to); got != want {
				t.Errorf("%s -> %s: allowed=%v, want %v", from, to, got, want)
			}
			if want {
				n++
			}
		}
	}
	if n != len(allowed) {
		t.Fatalf("table lists %d transitions, state machine has %d", len(allowed), n)
	}
	for _, s := range []VisitStatus{VisitSignedOff, VisitCancelled, VisitNoShow} {
		if !s.Final() {
			t.Errorf("%s should be final", s)
		}
	}
	if VisitStatus("done").Valid() {
		t.Error("unknown status valid")
	}
}

// visitAt builds a visit whose derived status is st, setting the office's
// part or the facts' part as a real visit would have it.
func visitAt(st VisitStatus) *Visit {
	v := &Visit{OfficeStatus: VisitScheduled}
	switch st {
	case VisitScheduled, VisitConfirmed, VisitCancelled, VisitNoShow:
		v.OfficeStatus = st
	default:
		v.Field.FactStatus = st
	}
	v.Refresh()
	if v.Status != st {
		panic("visitAt " + string(st))
	}
	return v
}

func TestOfficeActionsFollowTheStateMachine(t *testing.T) {
	start := time.Date(2037, 12, 1, 1, 0, 0, 0, time.UTC)
	for _, st := range VisitStatuses {
		before := st.BeforeArrival()
		t.Run(string(st), func(t *testing.T) {
			v := visitAt(st)
			v.WorkerID, v.ScheduledStart, v.ScheduledEnd = "w1", start, start.Add(time.Hour)
			err := v.Reschedule(start.Add(24*time.Hour), start.Add(25*time.Hour))
			if (err == nil) != before {
				t.Errorf("reschedule %s: err=%v", st, err)
			}
			v = visitAt(st)
			v.WorkerID = "w1"
			if err := v.Reassign("w2", "team-2"); (err == nil) != before {
				t.Errorf("reassign %s: err=%v", st, err)
			} else if err == nil && (v.WorkerID != "w2" || v.PastWorkerIDs[0] != "w1") {
				t.Errorf("reassign %s: worker %s, past %v", st, v.WorkerID, v.PastWorkerIDs)
			}
			v = visitAt(st)
			err = v.Cancel("customer travelling")
			if (err == nil) != st.CanMoveTo(VisitCancelled) {
				t.Errorf("cancel %s: err=%v", st, err)
			}
			if err != nil && ErrorCode(err) != ECONFLICT {
				t.Errorf("cancel %s: code %s, want conflict", st, ErrorCode(err))
			}
		})
	}
	v := visitAt(VisitConfirmed)
	v.ScheduledStart, v.ScheduledEnd = start, start.Add(time.Hour)
	if err := v.Reschedule(start, start); ErrorCode(err) != EINVALID {
		t.Errorf("empty window: %v", err)
	}
	if err := v.Reschedule(start.Add(time.Hour), start.Add(2*time.Hour)); err != nil || v.Status != VisitScheduled || !v.OfficeEdited {
		t.Errorf("reschedule of a confirmed visit must drop the confirmation: %v %s", err, v.Status)
	}
	if err := visitAt(VisitScheduled).Cancel("  "); ErrorCode(err) != EINVALID {
		t.Errorf("cancel without reason: %v", err)
	}
	w1 := visitAt(VisitScheduled)
	w1.WorkerID = "w1"
	if err := w1.Reassign("w1", ""); ErrorCode(err) != ECONFLICT {
		t.Errorf("reassign to the same worker: %v", err)
	}
}

func TestAddressVisibleTo(t *testing.T) {
	// 09:00 Shanghai on 2037-12-10 is 01:00 UTC.
	v := &Visit{WorkerID: "w1", TimeZone: "Asia/Shanghai",
		ScheduledStart: time.Date(2037, 12, 10, 1, 0, 0, 0, time.UTC), ScheduledEnd: time.Date(2037, 12, 10, 4, 0, 0, 0, time.UTC)}
	sh := func(day, hour int) time.Time {
		return time.Date(2037, 12, day, hour, 0, 0, 0, time.FixedZone("CST", 8*3600))
	}
	cases := []struct {
		worker string
		at     time.Time
		want   bool
	}{
		{"w1", sh(8, 23), false}, // two days before, late evening
		{"w1", sh(9, 0), true},   // the day before, just after midnight local
		{"w1", sh(10, 12), true},
		{"w1", sh(11, 23), true}, // the day after
		{"w1", sh(12, 0), false},
		{"w2", sh(10, 9), false}, // not their visit
		{"", sh(10, 9), false},
	}
	for _, c := range cases {
		if got := v.AddressVisibleTo(c.worker, c.at); got != c.want {
			t.Errorf("%s at %s: %v, want %v", c.worker, c.at, got, c.want)
		}
	}
}
