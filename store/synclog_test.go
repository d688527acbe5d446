package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

func syncRec(user, device string, seq int64, visit string, at time.Time) *schemas.SyncRecord {
	return &schemas.SyncRecord{ID: fmt.Sprintf("%s/%s/%d", user, device, seq), UserID: user, WorkerID: "w-" + user, DeviceID: device,
		Seq: seq, OpID: schemas.NewIDAt(at), Kind: "note", VisitID: visit, DeviceAt: at, CorrectedAt: at, EffAt: at, ReceivedAt: at,
		Payload: schemas.SyncPayload{Text: "奶奶摔倒了", Location: &schemas.GeoFix{Lat: 31.2036, Lng: 121.4501, AccuracyM: 5},
			Items: []schemas.SignOffItem{{ItemID: "kitchen"}, {ItemID: "floors", Reason: "还有油渍"}}},
		Status: "applied"}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Exactly once: 20 submissions of the same operation at once record it
// once; every one of them answers with the outcome recorded first.
func TestSyncLogInsertOpsExactlyOnce(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	const n = 20
	recs := make([]*schemas.SyncRecord, n)
	existing := make([][]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = syncRec("u1", "phone", 1, "v1", c.now())
		recs[i].Message = fmt.Sprint("attempt ", i) // what this attempt decided
		wg.Go(func() { existing[i], errs[i] = s.SyncLog.InsertOps(ctx, recs[i:i+1]) })
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("attempt %d: %v", i, errs[i])
		}
		if len(existing[i]) == 0 {
			winners++
		}
	}
	stored, err := s.SyncLog.Op(ctx, "u1/phone/1")
	if err != nil {
		t.Fatal(err)
	}
	if winners != 1 {
		t.Fatalf("%d attempts recorded the operation, want 1", winners)
	}
	for i := range n {
		if recs[i].Message != stored.Message || recs[i].OpID != stored.OpID {
			t.Fatalf("attempt %d answers %q (op %s), the record says %q (op %s)", i, recs[i].Message, recs[i].OpID, stored.Message, stored.OpID)
		}
	}
	if all, _ := s.SyncLog.VisitOps(ctx, "v1"); len(all) != 1 {
		t.Fatalf("%d records of the visit, want 1", len(all))
	}
}

// A batch of which some records are stored already (a prefix that landed
// before a crash, or another instance's) writes the rest and answers the
// stored ones as stored, whatever their position.
func TestSyncLogInsertOpsPartlyStored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored []int
	}{
		{"none", nil},
		{"a prefix", []int{0, 1, 2, 3, 4}},
		{"the middle", []int{12}},
		{"scattered", []int{1, 7, 8, 24}},
		{"all", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := openTest(t)
			ctx := t.Context()
			batch := func(outcome string) []*schemas.SyncRecord {
				var recs []*schemas.SyncRecord
				for seq := range int64(25) {
					r := syncRec("u1", "phone", seq+1, "v1", c.now().Add(time.Duration(seq)*time.Second))
					r.OpID, r.Message = fmt.Sprint("op", seq), outcome
					recs = append(recs, r)
				}
				return recs
			}
			first := batch("first")
			for _, i := range tc.stored {
				if got, err := s.SyncLog.InsertOps(ctx, first[i:i+1]); err != nil || len(got) != 0 {
					t.Fatalf("first write of %d: %v %v", i, got, err)
				}
			}
			recs := batch("second")
			got, err := s.SyncLog.InsertOps(ctx, recs)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.stored) && !(len(got) == 0 && len(tc.stored) == 0) {
				t.Fatalf("answered as stored: %v, want %v", got, tc.stored)
			}
			all, err := s.SyncLog.VisitOps(ctx, "v1")
			if err != nil || len(all) != 25 {
				t.Fatalf("%d records, %v", len(all), err)
			}
			isStored := map[int]bool{}
			for _, i := range tc.stored {
				isStored[i] = true
			}
			for i, r := range recs {
				want := map[bool]string{true: "first", false: "second"}[isStored[i]]
				if r.Message != want {
					t.Fatalf("record %d answers %q, want %q", i, r.Message, want)
				}
			}
		})
	}
}

// The personal parts of a record are sealed at rest and open as written.
func TestSyncLogSealsPayload(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	r := syncRec("u1", "phone", 1, "v1", c.now())
	r.Payload.Reason, r.Payload.SignerName, r.Payload.Comment = "GPS坏了", "林先生", "宝宝在睡觉"
	r.Payload.Extra = map[string]json.RawMessage{"mood": json.RawMessage(`"心情不好"`)} // a newer app's field
	r.Payload.Add = []schemas.ScopeItem{{Title: "给老人洗澡", Minutes: 30}}              // a changeScope's added item
	want := *r
	if _, err := s.SyncLog.InsertOps(ctx, []*schemas.SyncRecord{r}); err != nil {
		t.Fatal(err)
	}
	if jsonOf(t, *r) != jsonOf(t, want) {
		t.Fatal("InsertOps changed the record it was given")
	}
	err := s.Each(ctx, func(coll string, d bson.Raw) error {
		if coll != colSyncOps {
			return nil
		}
		for _, clear := range []string{"奶奶", "油渍", "GPS坏了", "林先生", "宝宝", "31.2036", "121.4501", "心情", "mood", "老人"} {
			if strings.Contains(d.String(), clear) {
				t.Errorf("stored record shows %q: %s", clear, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SyncLog.Op(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, got.Payload), jsonOf(t, want.Payload); g != w || string(got.Payload.Extra["mood"]) != `"心情不好"` {
		t.Fatalf("opens as %+v, want %+v", got.Payload, want.Payload)
	}
	many, err := s.SyncLog.Ops(ctx, []string{"missing", r.ID})
	if err != nil || len(many) != 1 || many[0].Payload.Text != want.Payload.Text {
		t.Fatalf("Ops: %v %v", many, err)
	}
	if _, err := s.SyncLog.Op(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Op of a missing record: %v", err)
	}
	// A later outcome replaces the first, and nothing else.
	got.Status, got.Rule, got.Rules = "conflict", "signoff_final", []string{"signoff_final"}
	if err := s.SyncLog.SetOutcome(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.SyncLog.Op(ctx, r.ID)
	if again.Status != "conflict" || again.Rule != "signoff_final" || again.Payload.Text != want.Payload.Text {
		t.Fatalf("after SetOutcome: %+v", again)
	}
}

// Racing pushes of one phone never move its seq back and lose no count;
// a pull racing them changes neither.
func TestSyncLogDeviceHighWater(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	if _, err := s.SyncLog.Device(ctx, "u1", "phone"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("device before any push: %v", err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	for i := range n {
		d := &schemas.SyncDevice{UserID: "u1", DeviceID: "phone", WorkerID: "w1", Team: "team-1", LastSeq: int64(i + 1),
			LastEffAt: c.now().Add(time.Duration(i) * time.Minute), LastPushAt: c.now(), AppVersion: "1.4.2", SchemaVersion: 1}
		wg.Go(func() { errs[i] = s.SyncLog.RecordPush(ctx, d, int64(i+1), 1) })
	}
	wg.Go(func() { errs[n] = s.SyncLog.RecordPull(ctx, "u1", "phone", "w1", "team-1") })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.SyncLog.Device(ctx, "u1", "phone")
	if err != nil {
		t.Fatal(err)
	}
	if d.LastSeq != n || d.Pushes != n || d.Ops != n*(n+1)/2 || d.Rejected != n || !d.LastEffAt.Equal(c.now().Add((n-1)*time.Minute)) || !d.LastPullAt.Equal(c.now()) {
		t.Fatalf("device after %d racing pushes: %+v", n, d)
	}
	// An older push arriving late moves nothing back.
	late := &schemas.SyncDevice{UserID: "u1", DeviceID: "phone", WorkerID: "w1", Team: "team-1", LastSeq: 3, LastEffAt: c.now(), LastPushAt: c.now()}
	if err := s.SyncLog.RecordPush(ctx, late, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d, _ = s.SyncLog.Device(ctx, "u1", "phone"); d.LastSeq != n || !d.LastEffAt.Equal(c.now().Add((n-1)*time.Minute)) {
		t.Fatalf("a late push moved the mark back: %+v", d)
	}
	// Nor brings back a gap a racing push filled meanwhile (the phone's
	// sync state would show a hole that is not there).
	late.PendingGap = &schemas.SyncGap{Expected: 4, Got: 6}
	if err := s.SyncLog.RecordPush(ctx, late, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d, _ = s.SyncLog.Device(ctx, "u1", "phone"); d.PendingGap != nil {
		t.Fatalf("a late push brought back a filled gap: %+v", d.PendingGap)
	}
}

// The health view: devices by team, by worker, or all, the latest push
// first, with their rejections since a time.
func TestSyncLogDevices(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	push := func(user, device, worker, team string, at time.Duration) {
		t.Helper()
		d := &schemas.SyncDevice{UserID: user, DeviceID: device, WorkerID: worker, Team: team, LastPushAt: c.now().Add(at)}
		if err := s.SyncLog.RecordPush(ctx, d, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	push("u1", "phone", "w1", "team-1", 1*time.Minute)
	push("u1", "tablet", "w1", "team-1", 3*time.Minute)
	push("u2", "phone", "w2", "team-1", 2*time.Minute)
	push("u3", "phone", "w3", "team-2", 4*time.Minute)
	if err := s.SyncLog.RecordPull(ctx, "u4", "phone", "w4", "team-2"); err != nil { // pulled, never pushed: last
		t.Fatal(err)
	}
	ids := func(ds []schemas.SyncDevice) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name  string
		f     DeviceFilter
		limit int
		want  string
	}{
		{"all", DeviceFilter{AllTeams: true}, 10, "u3/phone u1/tablet u2/phone u1/phone u4/phone"},
		{"all, limited", DeviceFilter{AllTeams: true}, 2, "u3/phone u1/tablet"},
		{"a team", DeviceFilter{Team: "team-1"}, 10, "u1/tablet u2/phone u1/phone"},
		{"a worker of the team", DeviceFilter{Team: "team-1", WorkerID: "w1"}, 10, "u1/tablet u1/phone"},
		{"a worker of another team", DeviceFilter{Team: "team-1", WorkerID: "w3"}, 10, ""},
		{"a worker, any team", DeviceFilter{AllTeams: true, WorkerID: "w3"}, 10, "u3/phone"},
	} {
		got, err := s.SyncLog.Devices(ctx, tc.f, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if ids(got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, ids(got), tc.want)
		}
	}
	var recs []*schemas.SyncRecord
	for seq, at := range []time.Duration{-25 * time.Hour, -time.Hour, 0, 0} {
		r := syncRec("u1", "phone", int64(seq+1), "v1", c.now().Add(at))
		r.Status = map[bool]string{true: "rejected", false: "applied"}[seq < 3]
		recs = append(recs, r)
	}
	if _, err := s.SyncLog.InsertOps(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SyncLog.CountDeviceOps(ctx, "u1", "phone", "rejected", c.now().Add(-24*time.Hour)); err != nil || n != 2 {
		t.Fatalf("rejected in the last day: %d, %v; want 2", n, err)
	}
	if n, err := s.SyncLog.CountOps(ctx); err != nil || n != 4 {
		t.Fatalf("CountOps: %d, %v", n, err)
	}
}

// Wrong presence codes counted at once, from any number of pushes or
// instances, are counted exactly, each record once; the count locks the
// code at the maximum, and a new count starts when the lock runs out.
func TestSyncLogPresenceCount(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	const maxWrong, lockFor = 5, time.Hour
	if g, err := s.SyncLog.Presence(ctx, "v1"); err != nil || g.Wrong != 0 || g.Locked(maxWrong, lockFor, c.now()) {
		t.Fatalf("count before any code: %+v, %v", g, err)
	}
	count := func(recIDs ...string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(recIDs))
		for i, id := range recIDs {
			wg.Go(func() { _, errs[i] = s.SyncLog.CountWrongPresence(ctx, "v1", id, maxWrong, lockFor) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// Two instances at once, each with the same 10 records (a batch sent
	// through both), and 10 more of their own.
	var both, a, b []string
	for i := range 10 {
		both = append(both, fmt.Sprint("u1/phone/", i))
		a, b = append(a, fmt.Sprint("u2/phone/", i)), append(b, fmt.Sprint("u3/phone/", i))
	}
	count(append(append(append(both, both...), a...), b...)...)
	g, err := s.SyncLog.Presence(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if g.Wrong != 30 || g.Lock != 0 || !g.Locked(maxWrong, lockFor, c.now()) {
		t.Fatalf("after 30 wrong codes, 10 of them twice: %+v", g)
	}
	// Retried: nothing more.
	count(both...)
	if g2, _ := s.SyncLog.Presence(ctx, "v1"); g2 != g {
		t.Fatalf("a retry counted again: %+v, was %+v", g2, g)
	}
	// Still locked just before the hour, free after it; the next wrong
	// codes start a new count under the next lock.
	c.advance(lockFor - time.Second)
	if !g.Locked(maxWrong, lockFor, c.now()) {
		t.Fatal("unlocked before the lock time")
	}
	c.advance(2 * time.Second)
	if g.Locked(maxWrong, lockFor, c.now()) {
		t.Fatal("still locked after the lock time")
	}
	count("u1/phone/100", "u1/phone/101", "u1/phone/102")
	if g, _ = s.SyncLog.Presence(ctx, "v1"); g.Lock != 1 || g.Wrong != 3 || g.Locked(maxWrong, lockFor, c.now()) {
		t.Fatalf("after the lock ran out and 3 more wrong codes: %+v", g)
	}
	// An old record sent again is not counted in the new count either.
	count(both[0])
	if g2, _ := s.SyncLog.Presence(ctx, "v1"); g2.Wrong != 3 {
		t.Fatalf("an old record counted again: %+v", g2)
	}
}

// A device's records of one operation, under any seq, and no other
// device's or user's.
func TestSyncLogDeviceOps(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	first := syncRec("u1", "phone", 1, "v1", c.now())
	marker := syncRec("u1", "phone", 2, "", c.now())
	marker.OpID, marker.Status = first.OpID, "duplicate"
	tablet := syncRec("u1", "tablet", 1, "v1", c.now())
	tablet.OpID = first.OpID
	other := syncRec("u2", "phone", 1, "v1", c.now())
	other.OpID = first.OpID
	if _, err := s.SyncLog.InsertOps(ctx, []*schemas.SyncRecord{first, marker, tablet, other, syncRec("u1", "phone", 3, "v1", c.now())}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SyncLog.DeviceOps(ctx, "u1", "phone", []string{first.OpID, schemas.NewIDAt(c.now())})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "u1/phone/1,u1/phone/2" {
		t.Fatalf("DeviceOps = %v", ids)
	}
	// Ids far apart, with many records between them: looked up one by one.
	var many []*schemas.SyncRecord
	for i := range 150 {
		many = append(many, syncRec("u1", "phone", int64(10+i), "v1", c.now().Add(time.Duration(i+1)*time.Second)))
	}
	if _, err := s.SyncLog.InsertOps(ctx, many); err != nil {
		t.Fatal(err)
	}
	got, err = s.SyncLog.DeviceOps(ctx, "u1", "phone", []string{many[149].OpID, first.OpID, many[149].OpID})
	if err != nil || len(got) != 3 {
		t.Fatalf("DeviceOps of ids far apart: %d records, %v", len(got), err)
	}
}
