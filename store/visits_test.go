package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

// testVisit is a visit of worker w and team at start, at version 1.
func testVisit(id, worker, team, customer string, start time.Time) *schemas.Visit {
	return &schemas.Visit{ID: id, CustomerID: customer, ServiceTypeID: "st1", TimeZone: schemas.DefaultTimeZone,
		Address:        schemas.VisitAddress{AddressID: "a1", Text: "示范路1号", Location: schemas.LatLng{Lat: 31.2286, Lng: 121.4747}, AccessNotes: "门铃坏了"},
		ScheduledStart: start.UTC(), ScheduledEnd: start.Add(time.Hour).UTC(), WorkerID: worker, Team: team,
		Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled, Version: 1, CreatedAt: epoch, UpdatedAt: epoch}
}

func visitIDsOf(vs []schemas.Visit) []string {
	out := []string{}
	for _, v := range vs {
		if short, ok := strings.CutPrefix(v.ID, "00000000-0000-7000-8000-"); ok {
			out = append(out, "v"+strings.TrimLeft(short, "0"))
			continue
		}
		out = append(out, v.ID)
	}
	return out
}

// uid is the visit id of a test's short name ("v3"): list cursors carry
// real ids.
func uid(name string) string {
	return fmt.Sprintf("00000000-0000-7000-8000-%012s", name[1:])
}

// TestVisitConditionalWrites: 50 writers replacing the same visit at the
// same version give exactly one winner per version, the others a version
// conflict, whatever else (the logging of each write) touches it meanwhile.
func TestVisitConditionalWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	if err := s.Visits.Insert(ctx, testVisit("v1", "w1", "t1", "c1", epoch)); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 50, 3
	for round := range rounds {
		expected := int64(round + 1)
		before, err := s.Visits.Get(ctx, "v1")
		if err != nil || before.Version != expected {
			t.Fatalf("round %d: version %d (%v), want %d", round, before.Version, err, expected)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []int
		for w := range writers {
			wg.Go(func() {
				after := *before
				after.Notes = fmt.Sprintf("writer %d", w)
				after.Version = expected + 1
				var err error
				if w%2 == 0 {
					err = s.Visits.Replace(ctx, &after, expected)
				} else {
					err = s.Visits.WriteSync(ctx, &after, bson.Raw(nil), expected)
					if err == nil {
						_, err = s.Visits.Log(ctx, SourceSync, &after)
					}
				}
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, w)
					mu.Unlock()
				case !errors.Is(err, ErrVersion) || schemas.ErrorCode(err) != schemas.ECONFLICT:
					t.Errorf("writer %d: %v, want a version conflict", w, err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
		got, _ := s.Visits.Get(ctx, "v1")
		if got.Version != expected+1 || got.Notes != fmt.Sprintf("writer %d", winners[0]) {
			t.Fatalf("round %d: stored version %d notes %q, winner %d", round, got.Version, got.Notes, winners[0])
		}
	}
	// Every write was logged, and nothing is left dirty.
	if n, err := s.Visits.RelayDirty(ctx, epoch.Add(time.Hour), time.Minute); err != nil || n != 0 {
		t.Fatalf("dirty visits left: %d, %v", n, err)
	}
}

func TestVisitWriteErrors(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	err := s.Visits.Insert(ctx, v)
	if !errors.Is(err, ErrDuplicate) || schemas.ErrorCode(err) != schemas.ECONFLICT {
		t.Fatalf("second insert: %v", err)
	}
	if _, err := s.Visits.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) || schemas.ErrorCode(err) != schemas.ENOTFOUND {
		t.Fatalf("get of a missing visit: %v", err)
	}
	missing := testVisit("nope", "w1", "t1", "c1", epoch)
	if err := s.Visits.Replace(ctx, missing, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace of a missing visit: %v", err)
	}
	v.Version = 2
	if err := s.Visits.Replace(ctx, v, 5); !errors.Is(err, ErrVersion) {
		t.Fatalf("replace at a wrong version: %v", err)
	}
}

// TestVisitSyncState: the office's writes keep the sync engine's state;
// the engine's writes replace it.
func TestVisitSyncState(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	state, _ := bson.Marshal(bson.D{{Key: "ops", Value: bson.A{"op1"}}})
	v.Version = 2
	if err := s.Visits.WriteSync(ctx, v, state, 1); err != nil {
		t.Fatal(err)
	}
	v.Version, v.Notes = 3, "office"
	if err := s.Visits.Replace(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	got, raw, err := s.Visits.GetWithSyncState(ctx, "v1")
	if err != nil || got.Notes != "office" || got.Version != 3 || !slices.Equal(raw, state) {
		t.Fatalf("visit %+v state %v (%v)", got, raw, err)
	}
}

// TestVisitSealed: the address and the phone's positions are not in clear
// at rest, and read back as written.
func TestVisitSealed(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	fix := &schemas.GeoFix{Lat: 31.2286, Lng: 121.4747, AccuracyM: 8}
	v.Field.CheckIn = &schemas.Attendance{At: epoch, DeviceAt: epoch, Location: fix, Method: "gps", WorkerID: "w1"}
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	if v.Field.CheckIn.Location != fix {
		t.Fatal("sealing took the fix off the caller's visit")
	}
	raw, err := s.Visits.Raw(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(raw)
	for _, clear := range []string{"示范路1号", "门铃坏了", "31.2286", "121.4747"} {
		if strings.Contains(text, clear) {
			t.Errorf("%q in clear at rest: %s", clear, text)
		}
	}
	got, err := s.Visits.Get(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != v.Address || got.Field.CheckIn == nil || *got.Field.CheckIn.Location != *fix {
		t.Fatalf("read back %+v, check-in %+v", got.Address, got.Field.CheckIn)
	}
}

func TestVisitList(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	h := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Hour) }
	// v3 and v4 start together: the id orders them.
	visits := []*schemas.Visit{
		testVisit(uid("v1"), "w1", "t1", "c1", h(0)),
		testVisit(uid("v2"), "w2", "t1", "c2", h(1)),
		testVisit(uid("v4"), "w1", "t2", "c1", h(2)),
		testVisit(uid("v3"), "", "t1", "c3", h(2)),
		testVisit(uid("v5"), "w1", "t1", "c2", h(30)),
	}
	visits[1].Status = schemas.VisitConfirmed
	visits[3].Status = schemas.VisitCancelled
	visits[4].ScheduleID = "s1"
	for _, v := range visits {
		if err := s.Visits.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	v3 := visits[3]
	for _, tc := range []struct {
		name string
		f    VisitFilter
		want []string
	}{
		{"all", VisitFilter{}, []string{"v1", "v2", "v3", "v4", "v5"}},
		{"window", VisitFilter{From: h(1), To: h(24)}, []string{"v2", "v3", "v4"}},
		{"to is exclusive", VisitFilter{To: h(2)}, []string{"v1", "v2"}},
		{"from inside a ms", VisitFilter{From: h(1).Add(time.Microsecond)}, []string{"v3", "v4", "v5"}},
		{"worker", VisitFilter{WorkerID: "w1"}, []string{"v1", "v4", "v5"}},
		{"worker and window", VisitFilter{WorkerID: "w1", From: h(0), To: h(24)}, []string{"v1", "v4"}},
		{"worker and team", VisitFilter{WorkerID: "w1", Team: "t1"}, []string{"v1", "v5"}},
		{"customer", VisitFilter{CustomerID: "c1"}, []string{"v1", "v4"}},
		{"schedule", VisitFilter{ScheduleID: "s1", From: h(0)}, []string{"v5"}},
		{"team", VisitFilter{Team: "t1"}, []string{"v1", "v2", "v3", "v5"}},
		{"team and statuses", VisitFilter{Team: "t1", Statuses: []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitCancelled}}, []string{"v1", "v3", "v5"}},
		{"team and a status twice", VisitFilter{Team: "t1", Statuses: []schemas.VisitStatus{schemas.VisitConfirmed, schemas.VisitConfirmed}}, []string{"v2"}},
		{"statuses", VisitFilter{Statuses: []schemas.VisitStatus{schemas.VisitConfirmed, schemas.VisitCancelled}}, []string{"v2", "v3"}},
		{"worker and status", VisitFilter{WorkerID: "w1", Statuses: []schemas.VisitStatus{schemas.VisitScheduled}, Limit: 2}, []string{"v1", "v4"}},
		{"limit", VisitFilter{Limit: 2}, []string{"v1", "v2"}},
		{"after a tie", VisitFilter{After: VisitCursor(v3), Limit: 2}, []string{"v4", "v5"}},
		{"after, before from", VisitFilter{After: VisitCursor(visits[0]), From: h(2)}, []string{"v3", "v4", "v5"}},
		{"after, past from", VisitFilter{After: VisitCursor(v3), From: h(1)}, []string{"v4", "v5"}},
		{"team statuses after", VisitFilter{Team: "t1", Statuses: []schemas.VisitStatus{schemas.VisitScheduled, schemas.VisitCancelled}, After: VisitCursor(visits[0]), Limit: 1}, []string{"v3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Visits.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(visitIDsOf(got), tc.want) {
				t.Fatalf("got %v, want %v", visitIDsOf(got), tc.want)
			}
		})
	}
	if _, err := s.Visits.List(ctx, VisitFilter{After: "garbage"}); schemas.ErrorCode(err) != schemas.EINVALID {
		t.Fatalf("a bad cursor: %v", err)
	}
	// Pages of one walk the whole list once.
	var walked []string
	f := VisitFilter{Limit: 1}
	for {
		page, err := s.Visits.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		walked = append(walked, visitIDsOf(page)...)
		f.After = VisitCursor(&page[0])
	}
	if !slices.Equal(walked, []string{"v1", "v2", "v3", "v4", "v5"}) {
		t.Fatalf("paged %v", walked)
	}
	if got, err := s.Visits.GetMany(ctx, []string{uid("v5"), "nope", uid("v1")}); err != nil || !slices.Equal(visitIDsOf(got), []string{"v5", "v1"}) {
		t.Fatalf("GetMany %v, %v", visitIDsOf(got), err)
	}
}

func TestVisitTeamCustomersAndReview(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	n := 0
	add := func(team, customer string, review bool) *schemas.Visit {
		n++
		c.advance(time.Minute)
		v := testVisit(fmt.Sprintf("v%d", n), "w1", team, customer, epoch)
		v.NeedsReview, v.UpdatedAt = review, c.now()
		if err := s.Visits.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	add("t1", "c2", true)
	add("t1", "c1", false)
	add("t1", "c2", false)
	add("t2", "c3", true)
	add("t1", "c4", true)
	got, err := s.Visits.CustomersOfTeam(ctx, "t1")
	if err != nil || !slices.Equal(got, []string{"c1", "c2", "c4"}) {
		t.Fatalf("customers of t1: %v, %v", got, err)
	}
	if got, _ := s.Visits.CustomersOfTeam(ctx, "t9"); len(got) != 0 {
		t.Fatalf("customers of t9: %v", got)
	}
	for _, tc := range []struct {
		team, customer string
		want           bool
	}{{"t1", "c2", true}, {"t1", "c3", false}, {"t2", "c3", true}} {
		if has, err := s.Visits.TeamHasCustomer(ctx, tc.team, tc.customer); err != nil || has != tc.want {
			t.Errorf("TeamHasCustomer(%s, %s) = %v, %v", tc.team, tc.customer, has, err)
		}
	}
	// One start: the id orders them.
	for _, tc := range []struct {
		q    ReviewQuery
		want []string
		next bool
	}{
		{ReviewQuery{AllTeams: true, Limit: 10}, []string{"v1", "v4", "v5"}, false},
		{ReviewQuery{Team: "t1", Limit: 10}, []string{"v1", "v5"}, false},
		{ReviewQuery{AllTeams: true, Limit: 1}, []string{"v1"}, true},
		{ReviewQuery{Team: "t1", CustomerID: "c4", Limit: 10}, []string{"v5"}, false},
		{ReviewQuery{Team: "t1", Limit: 10, From: epoch.Add(time.Millisecond)}, []string{}, false},
		{ReviewQuery{Team: "t3", Limit: 10}, []string{}, false},
	} {
		got, err := s.Visits.ReviewQueue(ctx, tc.q)
		if err != nil || !slices.Equal(visitIDsOf(got.Items), tc.want) || (got.NextCursor != "") != tc.next {
			t.Errorf("ReviewQueue(%+v) = %v next %q, %v; want %v", tc.q, visitIDsOf(got.Items), got.NextCursor, err, tc.want)
		}
	}
}

// TestVisitRelayDirty: a visit written by a process that died before
// logging it stays dirty, and the relay logs it once, after the grace.
func TestVisitRelayDirty(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	v.PastWorkerIDs = []string{"w0"}
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	v.Version, v.UpdatedAt = 2, c.now()
	if err := s.Visits.WriteSync(ctx, v, nil, 1); err != nil { // and then the process dies
		t.Fatal(err)
	}
	if n, err := s.Visits.RelayDirty(ctx, c.now(), time.Minute); err != nil || n != 0 {
		t.Fatalf("relay took a visit still inside the grace period: %d, %v", n, err)
	}
	n, err := s.Visits.RelayDirty(ctx, c.now().Add(time.Hour), time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("relay = %d, %v", n, err)
	}
	chs, _ := s.Changes.After(ctx, 1, 10)
	if len(chs) != 1 || chs[0].VisitIDs[0] != "v1" || !slices.Equal(chs[0].Workers, []string{"w1", "w0"}) || chs[0].Source != SourceOffice {
		t.Fatalf("log %+v", chs)
	}
	if n, _ := s.Visits.RelayDirty(ctx, c.now().Add(time.Hour), time.Minute); n != 0 {
		t.Fatalf("relayed again: %d", n)
	}
	if got, _ := s.Visits.Get(ctx, "v1"); got.Version != 2 {
		t.Fatalf("logging moved the version to %d", got.Version)
	}
}

// TestVisitLogClearsOnlyItsVersion: logging an older version of a visit
// leaves the mark of a newer write, which logs itself (or the relay does).
func TestVisitLogClearsOnlyItsVersion(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	old := *v
	v.Version = 2
	if err := s.Visits.WriteSync(ctx, v, nil, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Visits.Log(ctx, SourceSync, &old); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Visits.RelayDirty(ctx, c.now().Add(time.Hour), time.Minute); n != 1 {
		t.Fatalf("the newer write's mark was cleared: relay found %d", n)
	}
}

// TestCancelledCallsLeaveTheStoreWorking: calls whose context ends while
// they run (a phone that hangs up mid-push) fail, and the calls after
// them still work: no connection is left wedged.
func TestCancelledCallsLeaveTheStoreWorking(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	v := testVisit("v1", "w1", "t1", "c1", epoch)
	if err := s.Visits.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		c, cancel := context.WithTimeout(ctx, time.Duration(i%50)*time.Microsecond)
		_, _ = s.Visits.Get(c, "v1")
		_, _ = s.Changes.Tail(c)
		_, _ = s.Changes.Head(c)
		_, _ = s.Visits.List(c, VisitFilter{WorkerID: "w1"})
		cancel()
	}
	for range 20 {
		if _, err := s.Visits.Get(ctx, "v1"); err != nil {
			t.Fatalf("after cancelled calls: %v", err)
		}
		if _, err := s.Changes.After(ctx, 0, 10); err != nil {
			t.Fatalf("after cancelled calls: %v", err)
		}
	}
	v.Version = 2
	if err := s.Visits.Replace(ctx, v, 1); err != nil {
		t.Fatalf("after cancelled calls: %v", err)
	}
}
