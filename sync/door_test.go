package sync

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
)

// absent is a customerAbsent payload at (lat, lng) with one door photo.
func absent(lat, lng float64, waited int) Payload {
	return Payload{Location: &schemas.GeoFix{Lat: lat, Lng: lng, AccuracyM: 10}, WaitedMinutes: &waited, Photos: []string{fmt.Sprintf("%064x", 7)}}
}

func ruleNames(cs []schemas.Conflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Rule)
	}
	return out
}

// TestFoldCustomerAbsent: the first record at the door stands, with its
// distance from the address; a later one is a conflict; one beyond the
// geofence raises far_from_address for review; one after a check-in is
// kept and flagged; on a cancelled visit it is the cancelled-visit clash,
// and the office's no-show it leads to is no clash with it, while a
// check-in after the no-show still is.
func TestFoldCustomerAbsent(t *testing.T) {
	t.Run("first stands", func(t *testing.T) {
		v := testVisit()
		a1 := rec("d1", KindCustomerAbsent, t0.Add(10*time.Minute), absent(31.2, 121.45, 15))
		a2 := rec("d2", KindCustomerAbsent, t0.Add(30*time.Minute), absent(31.2, 121.45, 35))
		fs, out := Fold(v, []*Record{a2, a1}, DefaultRules)
		ca := fs.CustomerAbsent
		if ca == nil || ca.OpID != a1.OpID || ca.WaitedMinutes != 15 || ca.DistanceM == nil || *ca.DistanceM != 0 || ca.AfterCheckIn || len(ca.Photos) != 1 {
			t.Fatalf("standing record %+v", ca)
		}
		if out[a1.OpID].Status != StatusApplied || out[a2.OpID].Rule != RuleSecondAbsence {
			t.Fatalf("outcomes %+v %+v", out[a1.OpID], out[a2.OpID])
		}
		if fs.FactStatus != schemas.VisitScheduled || fs.CheckIn != nil {
			t.Fatalf("a record at the door is no arrival: %s", fs.FactStatus)
		}
	})
	t.Run("far from the address", func(t *testing.T) {
		fs, out := Fold(testVisit(), []*Record{rec("d1", KindCustomerAbsent, t0, absent(31.21, 121.46, 10))}, DefaultRules)
		if !slices.Contains(exceptionCodes(fs), RuleFarFromAddress) || !fs.Exceptions[0].Review || fs.CustomerAbsent == nil || *fs.CustomerAbsent.DistanceM < 1000 {
			t.Fatalf("exceptions %+v, record %+v", fs.Exceptions, fs.CustomerAbsent)
		}
		for _, o := range out {
			if o.Rule != RuleFarFromAddress {
				t.Fatalf("outcome %+v", o)
			}
		}
	})
	t.Run("after check-in", func(t *testing.T) {
		in := rec("d1", KindCheckIn, t0, gps(31.2, 121.45))
		a := rec("d1", KindCustomerAbsent, t0.Add(20*time.Minute), absent(31.2, 121.45, 20))
		fs, out := Fold(testVisit(), []*Record{a, in}, DefaultRules)
		if fs.CustomerAbsent == nil || !fs.CustomerAbsent.AfterCheckIn || out[a.OpID].Rule != RuleAbsentAfterCheckIn || fs.FactStatus != schemas.VisitCheckedIn {
			t.Fatalf("record %+v, outcome %+v, status %s", fs.CustomerAbsent, out[a.OpID], fs.FactStatus)
		}
		if !has(fs.Conflicts, func(c schemas.Conflict) bool { return c.Rule == RuleAbsentAfterCheckIn && c.Review }) {
			t.Fatalf("not flagged for review: %+v", fs.Conflicts)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		v := testVisit()
		v.OfficeStatus, v.CancelReason = schemas.VisitCancelled, "away"
		a := rec("d1", KindCustomerAbsent, t0, absent(31.2, 121.45, 5))
		fs, out := Fold(v, []*Record{a}, DefaultRules)
		if out[a.OpID].Rule != RuleCheckInOnCancelled || fs.CustomerAbsent == nil {
			t.Fatalf("outcome %+v, record %+v", out[a.OpID], fs.CustomerAbsent)
		}
	})
	t.Run("previous assignee", func(t *testing.T) {
		v := testVisit()
		v.WorkerID, v.PastWorkerIDs = "w2", []string{"w1"}
		a := rec("d1", KindCustomerAbsent, t0, absent(31.2, 121.45, 5))
		fs, out := Fold(v, []*Record{a}, DefaultRules)
		if out[a.OpID].Rule != RuleByPreviousAssignee || fs.CustomerAbsent != nil {
			t.Fatalf("outcome %+v, standing record %+v", out[a.OpID], fs.CustomerAbsent)
		}
	})
	t.Run("no-show", func(t *testing.T) {
		v := testVisit()
		v.OfficeStatus = schemas.VisitNoShow
		a := rec("d1", KindCustomerAbsent, t0, absent(31.2, 121.45, 20))
		in := rec("d1", KindCheckIn, t0.Add(40*time.Minute), gps(31.2, 121.45))
		fs, out := Fold(v, []*Record{a, in}, DefaultRules)
		if out[a.OpID].Status != StatusApplied || out[in.OpID].Rule != RuleAfterNoShow {
			t.Fatalf("outcomes %+v %+v; conflicts %v", out[a.OpID], out[in.OpID], ruleNames(fs.Conflicts))
		}
		v.Field = fs
		v.Refresh()
		if v.Status != schemas.VisitCheckedIn {
			t.Fatalf("the facts win over the no-show: status %s", v.Status)
		}
	})
}

func TestDecodeCustomerAbsent(t *testing.T) {
	photo := fmt.Sprintf(`["%064x"]`, 1)
	loc := `"location":{"lat":31.2,"lng":121.45,"accuracyM":8}`
	cases := []struct {
		payload string
		ok      bool
	}{
		{`{` + loc + `,"waitedMinutes":15,"photos":` + photo + `}`, true},
		{`{` + loc + `,"waitedMinutes":0,"photos":` + photo + `,"calledCustomer":true,"text":"敲门无人应答"}`, true},
		{`{` + loc + `,"waitedMinutes":600,"photos":` + photo + `}`, true},
		{`{"waitedMinutes":15,"photos":` + photo + `}`, false},                                                // no location
		{`{"location":{"lat":91,"lng":0},"waitedMinutes":15,"photos":` + photo + `}`, false},                  // not a position
		{`{"location":{"lat":31,"lng":121,"accuracyM":-1},"waitedMinutes":15,"photos":` + photo + `}`, false}, // negative accuracy
		{`{` + loc + `,"photos":` + photo + `}`, false},                                                       // no waitedMinutes
		{`{` + loc + `,"waitedMinutes":-1,"photos":` + photo + `}`, false},
		{`{` + loc + `,"waitedMinutes":601,"photos":` + photo + `}`, false},
		{`{` + loc + `,"waitedMinutes":"15","photos":` + photo + `}`, false},
		{`{` + loc + `,"waitedMinutes":1.5,"photos":` + photo + `}`, false},
		{`{` + loc + `,"waitedMinutes":15}`, false},                // no photo
		{`{` + loc + `,"waitedMinutes":15,"photos":[]}`, false},    // no photo
		{`{` + loc + `,"waitedMinutes":15,"photos":["x"]}`, false}, // not a hash
		{`{` + loc + `,"waitedMinutes":15,"photos":` + photo + `,"calledCustomer":"yes"}`, false},
		{`{` + loc + `,"waitedMinutes":15,"photos":` + photo + `,"text":"` + strings.Repeat("字", 501) + `"}`, false},
		{`{` + loc + `,"waitedMinutes":15,"photos":` + photo + `,"method":"manual"}`, false},
		{`{` + loc + `,"waitedMinutes":15,"photos":` + photo + `,"$where":1}`, false},
	}
	for _, c := range cases {
		_, err := decodePayload(&Op{Kind: KindCustomerAbsent, Payload: []byte(c.payload)})
		if (err == nil) != c.ok {
			t.Errorf("%s: err=%v, want ok=%v", c.payload, err, c.ok)
		}
		if err != nil && schemas.ErrorCode(err) != RejectInvalid {
			t.Errorf("%s: code %s", c.payload, schemas.ErrorCode(err))
		}
	}
}
