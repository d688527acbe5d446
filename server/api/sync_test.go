package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// phone is a worker's device talking to the server.
type phone struct {
	w      *world
	token  string
	device string
	seq    int64
	clock  time.Duration // the phone's clock minus the server's
}

// newSyncWorld is a world whose clock stands after the visits ended, as
// when a phone comes back online: tokens are fresh for that time.
func newSyncWorld(t *testing.T) *world {
	w := newWorld(t)
	w.f.clock.Add(w.v1.ScheduledStart.Add(5 * time.Hour).Sub(w.f.clock.Now()))
	w.admin = w.f.login("admin.o", "office").AccessToken
	w.s1 = w.f.login("sup.one", "office").AccessToken
	w.wk1 = w.f.login("wk.one", "office-pc").AccessToken
	w.cu1 = w.f.login("cu.one", "phone").AccessToken
	return w
}

func (w *world) phone(login, device string) *phone {
	return &phone{w: w, token: w.f.login(login, device).AccessToken, device: device}
}

type opSpec struct {
	kind, visit string
	at          time.Time
	payload     any
}

func (p *phone) ops(specs ...opSpec) []map[string]any {
	var out []map[string]any
	for _, s := range specs {
		p.seq++
		out = append(out, map[string]any{"seq": p.seq, "opId": schemas.NewIDAt(p.w.f.clock.Now().Add(p.clock)), "kind": s.kind, "visitId": s.visit,
			"at": s.at.Add(p.clock), "payload": s.payload})
	}
	return out
}

func (p *phone) push(ops []map[string]any) (*fsync.PushResponse, *result) {
	body := map[string]any{"deviceId": p.device, "schemaVersion": 1, "appVersion": "1.4.2",
		"deviceClock": p.w.f.clock.Now().Add(p.clock), "ops": ops}
	r := p.w.f.do("POST", "/v1/sync/push", body, p.token)
	var resp fsync.PushResponse
	if r.status == 200 {
		r.decode(&resp)
		for _, x := range resp.Results {
			codes, ok := fsync.ResultCodes[x.Status]
			if !ok || (x.Code != "" || codes != nil) && !slices.Contains(codes, x.Code) {
				p.w.f.t.Errorf("op %d: status %q with code %q is outside the closed sets", x.Seq, x.Status, x.Code)
			}
		}
	}
	return &resp, r
}

func (p *phone) mustPush(ops []map[string]any) *fsync.PushResponse {
	p.w.f.t.Helper()
	resp, r := p.push(ops)
	r.want(200)
	return resp
}

func (p *phone) pull(cursor string) *fsync.PullResponse {
	var resp fsync.PullResponse
	p.w.f.do("GET", "/v1/sync/pull?cursor="+cursor, nil, p.token).want(200).decode(&resp)
	return &resp
}

func statuses(resp *fsync.PushResponse) string {
	var out []string
	for _, r := range resp.Results {
		s := r.Status
		if r.Code != "" {
			s += ":" + r.Code
		}
		if r.Rule != "" {
			s += ":" + r.Rule
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func (w *world) visit(id string) *schemas.Visit {
	v, err := w.f.db.Visits.Get(context.Background(), id)
	if err != nil {
		w.f.t.Fatal(err)
	}
	return v
}

var near = map[string]any{"lat": 31.21, "lng": 121.46, "accuracyM": 8}

func allKinds(v string, at time.Time) []opSpec {
	eta := at.Add(-10 * time.Minute)
	return []opSpec{
		{fsync.KindRunningLate, v, at.Add(-30 * time.Minute), map[string]any{"eta": eta}},
		{fsync.KindCheckIn, v, at, map[string]any{"location": near}},
		{fsync.KindProgress, v, at.Add(30 * time.Minute), map[string]any{"itemId": "kitchen", "done": true, "text": "灶台已清洁"}},
		{fsync.KindNote, v, at.Add(40 * time.Minute), map[string]any{"text": "客户要求下次带吸尘器"}},
		{fsync.KindIncident, v, at.Add(50 * time.Minute), map[string]any{"category": "property_damage", "severity": "high", "text": "打碎一个杯子"}},
		{fsync.KindCheckOut, v, at.Add(3 * time.Hour), map[string]any{"location": near}},
		{fsync.KindSignOff, v, at.Add(3*time.Hour + time.Minute), map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}},
			"rating": map[string]any{"attitude": 5, "quality": 5, "efficiency": 4, "price": 4}}},
	}
}

// TestPushEveryKindOnce: every kind applies once; the same batch again
// (a lost response) is all duplicates and changes nothing.
func TestPushEveryKindOnce(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	ops := p.ops(allKinds(w.v1.ID, w.v1.ScheduledStart)...)
	resp := p.mustPush(ops)
	if got := statuses(resp); got != "applied,applied,applied,applied,applied,applied,applied" {
		t.Fatalf("first push: %s", got)
	}
	if resp.NextSeq != 8 || resp.WriteCheckpoint == "" || resp.Gap != nil {
		t.Fatalf("response %+v", resp)
	}
	v := w.visit(w.v1.ID)
	if v.Status != schemas.VisitSignedOff || v.Field.Ops != 7 || len(v.Field.Incidents) != 1 || v.Field.CheckIn == nil || v.Field.SignOff == nil {
		t.Fatalf("visit after push: status %s field %+v", v.Status, v.Field)
	}
	for _, it := range v.Checklist {
		if it.ID == "kitchen" && !it.Done {
			t.Fatal("checklist not updated")
		}
	}
	again := p.mustPush(ops)
	for _, r := range again.Results {
		if r.Status != fsync.StatusDuplicate || r.Code != fsync.StatusApplied {
			t.Fatalf("retry: %s", statuses(again))
		}
	}
	if v2 := w.visit(w.v1.ID); v2.Version != v.Version || !reflect.DeepEqual(v2.Field, v.Field) {
		t.Fatalf("retry changed the visit: version %d -> %d", v.Version, v2.Version)
	}
	var incidents int64
	incs, _ := w.f.db.Cases.ListIncidents(context.Background(), store.IncidentQuery{VisitID: w.v1.ID})
	if incidents = int64(len(incs.Items)); incidents != 1 {
		t.Fatalf("%d incidents recorded, want 1", incidents)
	}
	// Each retried alone, too, and mixed with a new one.
	for i := range ops {
		r := p.mustPush(ops[i : i+1])
		if r.Results[0].Status != fsync.StatusDuplicate {
			t.Fatalf("single retry of %s: %s", ops[i]["kind"], statuses(r))
		}
	}
	next := p.ops(opSpec{fsync.KindNote, w.v1.ID, w.v1.ScheduledStart.Add(4 * time.Hour), map[string]any{"text": "补充"}})
	mixed := p.mustPush(append(append([]map[string]any{}, ops[5:]...), next...))
	if got := statuses(mixed); got != "duplicate:applied,duplicate:applied,applied" {
		t.Fatalf("mixed: %s", got)
	}
}

func TestPushGapsAndDuplicatesAcrossBatches(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	note := func(i int) opSpec {
		return opSpec{fsync.KindNote, w.v1.ID, at.Add(time.Duration(i) * time.Minute), map[string]any{"text": fmt.Sprint("note ", i)}}
	}
	ops := p.ops(note(1), note(2), note(3), note(4), note(5))
	// 1-2 arrive; 4-5 arrive before 3 (out of order): stopped at the gap.
	p.mustPush(ops[:2])
	resp := p.mustPush(ops[3:])
	if got := statuses(resp); got != "skipped:gap,skipped:after_gap" || resp.Gap == nil || resp.Gap.Expected != 3 || resp.NextSeq != 3 {
		t.Fatalf("gap: %s %+v next %d", got, resp.Gap, resp.NextSeq)
	}
	var devs struct {
		Items []fsync.Device `json:"items"`
	}
	w.f.do("GET", "/v1/sync/devices", nil, w.s1).want(200).decode(&devs)
	if len(devs.Items) != 1 || devs.Items[0].PendingGap == nil || devs.Items[0].LastSeq != 2 || devs.Items[0].AppVersion != "1.4.2" {
		t.Fatalf("device health %+v", devs.Items)
	}
	// Then 2-5 (2 again) fill it.
	resp = p.mustPush(ops[1:])
	if got := statuses(resp); got != "duplicate:applied,applied,applied,applied" {
		t.Fatalf("fill: %s", got)
	}
	if n := len(w.visit(w.v1.ID).Field.Notes); n != 5 {
		t.Fatalf("%d notes, want 5", n)
	}
	// A seq taken by a different operation is not applied, nor dropped:
	// the phone renumbers it from nextSeq.
	reused := p.ops(note(9))
	reused[0]["seq"] = 2
	if resp := p.mustPush(reused); statuses(resp) != "skipped:seq_taken" || resp.NextSeq != 6 {
		t.Fatalf("reused seq: %s, next %d", statuses(resp), resp.NextSeq)
	}
}

func TestOneRejectedOpDoesNotBlockOthers(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	ops := p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": near}},
		opSpec{fsync.KindProgress, w.v1.ID, at.Add(time.Minute), map[string]any{"itemId": "no_such_item", "done": true}},
		opSpec{fsync.KindCheckIn, w.v2.ID, at, map[string]any{"location": near}}, // another worker's visit
		opSpec{fsync.KindNote, w.f.newID(), at, map[string]any{"text": "x"}},     // no such visit
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": ""}},          // invalid
		opSpec{"teleport", w.v1.ID, at, map[string]any{}},
		opSpec{fsync.KindProgress, w.v1.ID, at.Add(2 * time.Minute), map[string]any{"itemId": "floors", "done": true}},
	)
	before2 := w.visit(w.v2.ID)
	resp := p.mustPush(ops)
	want := "applied,rejected:unknown_item,rejected:not_yours,rejected:unknown_visit,rejected:invalid,rejected:unknown_kind,applied"
	if got := statuses(resp); got != want {
		t.Fatalf("results %s\nwant    %s", got, want)
	}
	if after2 := w.visit(w.v2.ID); after2.Version != before2.Version || after2.Field.Ops != 0 {
		t.Fatal("another worker's visit was written")
	}
	// A rejected op is final: sending it again repeats the rejection.
	again := p.mustPush(ops[2:3])
	if again.Results[0].Status != fsync.StatusDuplicate || again.Results[0].Code != fsync.RejectNotYours {
		t.Fatalf("retry of rejected: %s", statuses(again))
	}
	if resp.NextSeq != 8 {
		t.Fatalf("rejected ops must still advance the sequence: next %d", resp.NextSeq)
	}
}

// TestOfflineWhileOfficeChanged: the office reassigned one visit and
// cancelled another while the phone was offline; the phone's facts are
// kept, the visits flagged for review, supervisors alerted.
func TestOfflineWhileOfficeChanged(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	ctx := context.Background()
	v3, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: w.v1.ScheduledStart.Add(24 * time.Hour), WorkerID: w.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	w3, err := f.office.CreateWorker(ctx, sysAdmin, workerInput("陈玉梅", "team-1", "+8613800000003"))
	if err != nil {
		t.Fatal(err)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+v3.ID+"/cancel", map[string]any{"reason": "customer ill"}, w.s1).want(200)

	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near}},
		opSpec{fsync.KindCheckIn, v3.ID, v3.ScheduledStart, map[string]any{"location": near}},
	))
	if got := statuses(resp); got != "conflict:"+fsync.RuleByPreviousAssignee+",conflict:"+fsync.RuleCheckInOnCancelled {
		t.Fatalf("results %s", got)
	}
	a, b := w.visit(w.v1.ID), w.visit(v3.ID)
	if a.Field.CheckIn == nil || a.Field.CheckIn.WorkerID != w.w1.ID || !a.NeedsReview || a.WorkerID != w3.ID {
		t.Fatalf("reassigned visit: %+v", a)
	}
	if b.Status != schemas.VisitCancelled || b.Field.CheckIn == nil || !b.NeedsReview {
		t.Fatalf("cancelled visit: status %s %+v", b.Status, b.Field)
	}
	var reviews struct {
		Items []schemas.Visit `json:"items"`
	}
	f.do("GET", "/v1/reviews", nil, w.s1).want(200).decode(&reviews)
	if len(reviews.Items) != 2 {
		t.Fatalf("%d visits to review, want 2", len(reviews.Items))
	}
	feed, _ := f.db.Cases.ListAlerts(ctx, store.AlertQuery{Team: "team-1"})
	if alerts := len(feed.Items); alerts < 2 {
		t.Fatalf("%d alerts, want at least 2", alerts)
	}
	// The supervisor resolves one; a worker cannot.
	f.do("POST", "/v1/visits/"+v3.ID+"/review", map[string]any{"note": "worker came before the cancellation reached her; pay the visit"}, w.wk1).wantError(403, schemas.EFORBIDDEN)
	f.do("POST", "/v1/visits/"+v3.ID+"/review", map[string]any{"note": ""}, w.s1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/visits/"+v3.ID+"/review", map[string]any{"note": "worker came before the cancellation reached her; pay the visit"}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+v3.ID+"/review", map[string]any{"note": "again"}, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("GET", "/v1/reviews", nil, w.s1).want(200).decode(&reviews)
	if len(reviews.Items) != 1 {
		t.Fatalf("%d visits to review after resolving one, want 1", len(reviews.Items))
	}
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/visit/"+v3.ID, nil, w.admin).want(200).decode(&trail)
	if last := trail.Items[len(trail.Items)-1]; last.Action != "resolve_review" || last.ActorID == "" {
		t.Fatalf("resolution not audited: %+v", last)
	}

	// The phone learns the visit went to someone else, and that the other was cancelled.
	pull := p.pull("")
	for _, vv := range pull.Visits {
		b, _ := json.Marshal(vv)
		if strings.Contains(string(b), w.v1.ID) || strings.Contains(string(b), v3.ID) {
			t.Fatalf("snapshot still holds a visit that left the phone's scope: %s", b)
		}
	}
}

// TestSignOffsRace: two devices sign off at once; the first stands and the
// other is kept as a conflict.
func TestSignOffsRace(t *testing.T) {
	storetest.NeedsIsolation(t)
	w := newSyncWorld(t)
	p1 := w.phone("wk.one", "phone-1")
	p2 := w.phone("wk.one", "tablet-1")
	at := w.v1.ScheduledStart.Add(3 * time.Hour)
	sign := func(p *phone, dt time.Duration, accepted bool) []map[string]any {
		return p.ops(opSpec{fsync.KindSignOff, w.v1.ID, at.Add(dt), map[string]any{"signerName": "林先生",
			"items": []map[string]any{{"itemId": "kitchen", "accepted": accepted, "reason": "not clean"}}}})
	}
	o1, o2 := sign(p1, 0, true), sign(p2, time.Second, false)
	var wg sync.WaitGroup
	var r1, r2 *fsync.PushResponse
	wg.Add(2)
	go func() { defer wg.Done(); r1, _ = p1.push(o1) }()
	go func() { defer wg.Done(); r2, _ = p2.push(o2) }()
	wg.Wait()
	v := w.visit(w.v1.ID)
	if v.Field.SignOff == nil || v.Field.SignOff.OpID != o1[0]["opId"] || v.Status != schemas.VisitSignedOff {
		t.Fatalf("sign-off %+v status %s", v.Field.SignOff, v.Status)
	}
	if !v.NeedsReview || len(v.Field.Conflicts) != 1 || v.Field.Conflicts[0].Rule != fsync.RuleSignOffFinal || v.Field.Conflicts[0].OpID != o2[0]["opId"] {
		t.Fatalf("conflicts %+v", v.Field.Conflicts)
	}
	// Whichever push came second was told about the conflict (or, if it
	// came first, the fold later decided against it).
	_ = r1
	_ = r2
}

// TestPushOrderIndependence pushes the same operations of three phones in
// random batchings, orders, retries and duplicates; every run ends with the
// same field state.
func TestPushOrderIndependence(t *testing.T) {
	var want *schemas.FieldState
	rng := rand.New(rand.NewPCG(7, 11))
	for run := 0; run < 4; run++ {
		w := newSyncWorld(t)
		at := w.v1.ScheduledStart
		var phones []*phone
		var batches [][]map[string]any
		for i, dev := range []string{"phone-a", "phone-b", "phone-c"} {
			p := w.phone("wk.one", dev)
			phones = append(phones, p)
			done := i%2 == 0
			var specs []opSpec
			for j := 0; j < 6; j++ {
				t0 := at.Add(time.Duration(j*7+i) * time.Minute)
				switch j % 3 {
				case 0:
					specs = append(specs, opSpec{fsync.KindProgress, w.v1.ID, t0, map[string]any{"itemId": []string{"kitchen", "floors"}[j%2], "done": done}})
				case 1:
					specs = append(specs, opSpec{fsync.KindCheckIn, w.v1.ID, t0, map[string]any{"location": near}})
				case 2:
					specs = append(specs, opSpec{fsync.KindNote, w.v1.ID, t0, map[string]any{"text": dev}})
				}
			}
			ops := p.ops(specs...)
			// Fixed batches per phone so corrected times do not depend on the run.
			batches = append(batches, ops)
		}
		type delivery struct {
			p   *phone
			ops []map[string]any
		}
		var plan []delivery
		for i, p := range phones {
			cut := 1 + rng.IntN(5)
			plan = append(plan, delivery{p, batches[i][:cut]}, delivery{p, batches[i][cut:]}, delivery{p, batches[i][:cut]}) // with a retry
		}
		rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
		for round := 0; round < 3; round++ { // gaps make some deliveries skip; repeat until all land
			for _, d := range plan {
				d.p.mustPush(d.ops)
			}
		}
		v := w.visit(w.v1.ID)
		if v.Field.Ops != 18 {
			t.Fatalf("run %d: %d ops applied, want 18", run, v.Field.Ops)
		}
		fs := v.Field
		if want == nil {
			want = &fs
			continue
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(fs)
		// Op ids differ per run; compare the shape that matters.
		if summary(want) != summary(&fs) {
			t.Fatalf("run %d: state differs\n%s\n%s", run, a, b)
		}
	}
}

func officeAct(kind string, start time.Time) office.VisitAction {
	return office.VisitAction{Kind: kind, ScheduledStart: start, ScheduledEnd: start.Add(time.Hour)}
}

func summary(fs *schemas.FieldState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in:%s out:%v notes:%d conflicts:%d/", fs.FactStatus, fs.CheckIn.DeviceID, fs.CheckOut != nil, len(fs.Notes), len(fs.Conflicts))
	for _, p := range fs.Progress {
		fmt.Fprintf(&b, "%s=%v by %s x%d;", p.ItemID, p.Done, p.DeviceID, p.Changes)
	}
	for _, c := range fs.Conflicts {
		fmt.Fprintf(&b, "%s;", c.Rule)
	}
	return b.String()
}

func TestPushEnvelopeErrors(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	base := func() map[string]any {
		return map[string]any{"deviceId": "phone-1", "schemaVersion": 1, "deviceClock": f.clock.Now(), "ops": []any{}}
	}
	old := base()
	old["schemaVersion"] = 0
	e := f.do("POST", "/v1/sync/push", old, p.token).wantError(426, schemas.EUPGRADE)
	if e.Details["minSchemaVersion"] != float64(fsync.MinSchemaVersion) {
		t.Fatalf("426 without the minimum version: %+v", e.Details)
	}
	other := base()
	other["deviceId"] = "someone-elses-phone"
	f.do("POST", "/v1/sync/push", other, p.token).wantError(400, schemas.EINVALID)
	noClock := base()
	delete(noClock, "deviceClock")
	f.do("POST", "/v1/sync/push", noClock, p.token).wantError(400, schemas.EINVALID)
	many := base()
	var ops []map[string]any
	for i := 0; i < 101; i++ { // the fixture allows 100
		ops = append(ops, map[string]any{"seq": i + 1, "opId": f.newID(), "kind": "note", "visitId": w.v1.ID, "at": f.clock.Now(), "payload": map[string]any{"text": "x"}})
	}
	many["ops"] = ops
	e = f.do("POST", "/v1/sync/push", many, p.token).wantError(413, schemas.ETOOLARGE)
	if e.Details["maxOps"] != float64(100) {
		t.Fatalf("413 without the limit: %+v", e.Details)
	}
	op := base()
	op["ops"] = []any{map[string]any{"seq": 1, "opId": f.newID(), "kind": "note", "visitId": w.v1.ID, "at": f.clock.Now(), "payload": map[string]any{"text": "x", "$where": "1"}}}
	f.do("POST", "/v1/sync/push", op, p.token).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/sync/push", base(), w.s1).wantError(403, schemas.EFORBIDDEN)
	f.do("GET", "/v1/sync/pull", nil, w.cu1).wantError(403, schemas.EFORBIDDEN)
	// Nothing was applied by any of these.
	if v := w.visit(w.v1.ID); v.Field.Ops != 0 {
		t.Fatalf("envelope errors applied %d ops", v.Field.Ops)
	}
}

// TestClockSkewAndPresence: times are corrected by the batch's skew and
// flagged; a valid customer presence code confirms the visit, a wrong one
// is recorded and flagged without failing anything.
func TestClockSkewAndPresence(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	p.clock = 10 * time.Minute // the phone runs 10 minutes fast
	at := w.v1.ScheduledStart
	var secret struct {
		Secret string `json:"secret"`
		Code   string `json:"code"`
		Period int    `json:"period"`
	}
	f.do("GET", "/v1/visits/"+w.v1.ID+"/presence", nil, w.cu1).want(200).decode(&secret)
	f.do("GET", "/v1/visits/"+w.v2.ID+"/presence", nil, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/visits/"+w.v1.ID+"/presence", nil, w.wk1).wantError(403, schemas.EFORBIDDEN)
	if secret.Secret == "" || secret.Period != 300 {
		t.Fatalf("secret %+v", secret)
	}
	code := f.presence.Code(w.v1.ID, at)
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": near, "presenceCode": code}},
		opSpec{fsync.KindCheckOut, w.v1.ID, at.Add(3 * time.Hour), map[string]any{"location": near, "presenceCode": wrong}},
	))
	// The skewed clock is a flag, not a conflict; the wrong code is a rule.
	if got := statuses(resp); got != "applied,conflict:"+fsync.RulePresenceInvalid {
		t.Fatalf("results %s", got)
	}
	if resp.SkewMs != (10 * time.Minute).Milliseconds() {
		t.Fatalf("skew %d", resp.SkewMs)
	}
	v := w.visit(w.v1.ID)
	if !v.Field.CustomerConfirmed {
		t.Fatalf("valid presence code did not confirm the visit: %+v", v.Field.Exceptions)
	}
	if !v.Field.CheckIn.At.Equal(at) || !v.Field.CheckIn.DeviceAt.Equal(at.Add(10*time.Minute)) {
		t.Fatalf("check-in at %s (device %s), want corrected %s", v.Field.CheckIn.At, v.Field.CheckIn.DeviceAt, at)
	}
	codes := map[string]bool{}
	for _, e := range v.Field.Exceptions {
		codes[e.Code] = true
	}
	if !codes[fsync.RuleClockSkew] || !codes[fsync.RulePresenceInvalid] || !v.NeedsReview {
		t.Fatalf("exceptions %+v", v.Field.Exceptions)
	}
}

// TestPullScopeRemovalsAndResync: a first pull is a snapshot; later pulls
// carry only changes, removals when a visit leaves the phone, and nothing
// (cheaply) when nothing changed; an expired cursor resyncs.
func TestPullScopeRemovalsAndResync(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	first := p.pull("")
	if !first.Resync || len(first.Visits) != 1 || len(first.ServiceTypes) != 1 {
		t.Fatalf("snapshot: resync %v, %d visits, %d services", first.Resync, len(first.Visits), len(first.ServiceTypes))
	}
	b, _ := json.Marshal(first.Visits[0])
	// The household, never its phone (they talk through the visit's messages).
	if !strings.Contains(string(b), "花生") || strings.Contains(string(b), w.c1.Phone[3:]) || strings.Contains(string(b), w.c2.Phone[3:]) {
		t.Fatalf("snapshot visit without its household (tomorrow is inside the window), or with a phone: %s", b)
	}
	idle := p.pull(first.Cursor)
	if idle.Resync || len(idle.Visits) != 0 || len(idle.Removed) != 0 || idle.Cursor != first.Cursor || len(idle.ServiceTypes) != 0 {
		t.Fatalf("idle pull %+v", idle)
	}
	// Reschedule within the window: the visit comes again.
	later := w.v1.ScheduledStart.Add(2 * time.Hour)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"scheduledStart": later, "scheduledEnd": later.Add(time.Hour)}, w.s1).want(200)
	ch := p.pull(first.Cursor)
	if len(ch.Visits) != 1 || len(ch.Removed) != 0 {
		t.Fatalf("after reschedule: %d visits %v removed", len(ch.Visits), ch.Removed)
	}
	// The phone's own push is visible at its write checkpoint.
	resp := p.mustPush(p.ops(opSpec{fsync.KindNote, w.v1.ID, later, map[string]any{"text": "x"}}))
	if cp, _ := fsync.ParseCursor(resp.WriteCheckpoint); cp.Seq == 0 {
		t.Fatalf("write checkpoint %q", resp.WriteCheckpoint)
	}
	own := p.pull(ch.Cursor)
	if len(own.Visits) != 1 {
		t.Fatalf("own write not in the next pull")
	}
	// Reassigned away: an explicit removal, not a wipe.
	ctx := context.Background()
	w3, _ := f.office.CreateWorker(ctx, sysAdmin, workerInput("陈玉梅", "team-1", "+8613800000003"))
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(200)
	gone := p.pull(own.Cursor)
	if len(gone.Removed) != 1 || gone.Removed[0].VisitID != w.v1.ID || gone.Removed[0].Reason != "reassigned" {
		t.Fatalf("removal %+v", gone.Removed)
	}
	// A catalog change reaches the phone.
	upd := serviceInput("daily_cleaning")
	upd.Name = "日常保洁（新）"
	body := map[string]any{}
	raw, _ := json.Marshal(upd)
	_ = json.Unmarshal(raw, &body)
	body["version"] = 1
	f.clock.Add(time.Minute)
	f.do("PUT", "/v1/service-types/"+w.st.ID, body, w.admin).want(200)
	cat := p.pull(gone.Cursor)
	if len(cat.ServiceTypes) != 1 || cat.ServiceTypes[0].Name != upd.Name {
		t.Fatalf("catalog change: %+v", cat.ServiceTypes)
	}
	// 31 days on, the log was pruned past the cursor: resync, not an error.
	f.clock.Add(31 * 24 * time.Hour)
	p.token = f.login("wk.one", "phone-1").AccessToken
	w.s1 = f.login("sup.one", "office").AccessToken
	f.do("POST", "/v1/visits/"+w.v2.ID+"/cancel", map[string]any{"reason": "x"}, f.login("admin.o", "office").AccessToken).want(200) // keep the log growing
	if _, err := f.db.Changes.Prune(ctx, f.clock.Now().Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	re := p.pull(first.Cursor)
	if !re.Resync || re.ResyncReason != "cursor_expired" {
		t.Fatalf("expired cursor: resync %v %q", re.Resync, re.ResyncReason)
	}
	if bad := p.pull("garbage"); !bad.Resync || bad.ResyncReason != "unreadable_cursor" {
		t.Fatalf("garbage cursor: %+v", bad)
	}
}

// TestConcurrentWritersAndPullers: while office writers change visits and
// a phone pushes, several phones pull in a loop; once the writers stop,
// every puller has seen every visit at its final version. Each visit is
// changed once by the office, so a skipped change would leave it unseen.
func TestConcurrentWritersAndPullers(t *testing.T) {
	storetest.NeedsIsolation(t)
	w := newSyncWorld(t)
	f := w.f
	ctx := context.Background()
	base := f.clock.Now().Add(2 * time.Hour).Truncate(time.Hour)
	var ids []string
	for i := 0; i < 24; i++ {
		v, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
			ScheduledStart: base.Add(time.Duration(i) * 4 * time.Hour), WorkerID: w.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	type puller struct {
		p      *phone
		cursor string
		seen   map[string]int64
	}
	var pullers []*puller
	for i := 0; i < 4; i++ {
		p := w.phone("wk.one", fmt.Sprintf("puller-%d", i))
		pl := &puller{p: p, seen: map[string]int64{}}
		pl.cursor = p.pull("").Cursor
		pullers = append(pullers, pl)
	}
	pullOnce := func(pl *puller) bool {
		var resp fsync.PullResponse
		r := f.do("GET", "/v1/sync/pull?cursor="+pl.cursor, nil, pl.p.token)
		if r.status != 200 {
			t.Errorf("pull: %d %s", r.status, r.body)
			return false
		}
		r.decode(&resp)
		for _, vv := range resp.Visits {
			var v struct {
				ID      string `json:"id"`
				Version int64  `json:"version"`
			}
			b, _ := json.Marshal(vv)
			_ = json.Unmarshal(b, &v)
			if v.Version > pl.seen[v.ID] {
				pl.seen[v.ID] = v.Version
			}
		}
		moved := resp.Cursor != pl.cursor
		pl.cursor = resp.Cursor
		return moved || resp.HasMore
	}

	var writers sync.WaitGroup
	stop := make(chan struct{})
	for wi := 0; wi < 6; wi++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := wi; i < len(ids); i += 6 {
				later := base.Add(time.Duration(i)*4*time.Hour + 30*time.Minute)
				if _, err := f.office.ActOnVisit(ctx, &schemas.Actor{UserID: "sup", Role: schemas.RoleSupervisor, Team: "team-1"}, ids[i],
					officeAct("reschedule", later)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	writers.Add(1)
	go func() { // the phone writes too
		defer writers.Done()
		p := w.phone("wk.one", "writer-phone")
		for i := 0; i < 5; i++ {
			p.mustPush(p.ops(opSpec{fsync.KindNote, ids[i], f.clock.Now(), map[string]any{"text": "n"}}))
		}
	}()
	var pulling sync.WaitGroup
	for _, pl := range pullers {
		pulling.Add(1)
		go func() {
			defer pulling.Done()
			for {
				select {
				case <-stop:
					return
				default:
					pullOnce(pl)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	pulling.Wait()
	final := map[string]int64{}
	for _, id := range ids {
		final[id] = w.visit(id).Version
	}
	for i, pl := range pullers {
		for n := 0; pullOnce(pl) && n < 50; n++ {
		}
		for id, v := range final {
			if pl.seen[id] != v {
				t.Errorf("puller %d saw visit %s at version %d, final is %d", i, id, pl.seen[id], v)
			}
		}
	}
}

// readmeRules reads the README's conflict table: each rule it documents,
// and whether it needs review.
func readmeRules(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "| rule | when | what stands | review |"):
			in = true
		case in && !strings.HasPrefix(line, "|"):
			in = false
		case in && !strings.HasPrefix(line, "|---"):
			cols := strings.Split(line, "|")
			review := strings.HasPrefix(strings.TrimSpace(cols[4]), "yes")
			for _, part := range strings.Split(cols[1], "`") {
				if p := strings.TrimSpace(part); p != "" && p != "/" {
					rules[p] = review
				}
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("no conflict table in the README")
	}
	return rules
}

// TestResultNamesEveryRule: for every rule in the README's conflict table,
// an operation that raises it answers `conflict` naming that rule, the
// visit records the rule on that operation (for review exactly when the
// table says so), and a retry repeats the answer.
func TestResultNamesEveryRule(t *testing.T) {
	far := map[string]any{"lat": 31.30, "lng": 121.46, "accuracyM": 8}
	signOff := func(accepted bool, quality int) map[string]any {
		return map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": accepted, "reason": "灶台还有油污"}, {"itemId": "floors", "accepted": true}},
			"rating": map[string]any{"attitude": 5, "quality": quality, "efficiency": 4, "price": 4}}
	}
	in := func(w *world, dt time.Duration) opSpec {
		return opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart.Add(dt), map[string]any{"location": near}}
	}
	out := func(w *world, dt time.Duration) opSpec {
		return opSpec{fsync.KindCheckOut, w.v1.ID, w.v1.ScheduledStart.Add(dt), map[string]any{"location": near}}
	}
	sign := func(w *world, dt time.Duration, accepted bool, quality int) opSpec {
		return opSpec{fsync.KindSignOff, w.v1.ID, w.v1.ScheduledStart.Add(dt), signOff(accepted, quality)}
	}
	// Each case makes the office's side and any earlier facts, and returns
	// the phone and the batch whose last operation raises the rule.
	cases := map[string]func(w *world) (*phone, []map[string]any){
		fsync.RuleCheckInOnCancelled: func(w *world) (*phone, []map[string]any) {
			w.f.do("POST", "/v1/visits/"+w.v1.ID+"/cancel", map[string]any{"reason": "客户临时外出"}, w.s1).want(200)
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0))
		},
		fsync.RuleByPreviousAssignee: func(w *world) (*phone, []map[string]any) {
			w3, err := w.f.office.CreateWorker(context.Background(), sysAdmin, workerInput("陈玉梅", "team-1", "+8613800000003"))
			if err != nil {
				t.Fatal(err)
			}
			w.f.do("POST", "/v1/visits/"+w.v1.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(200)
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0))
		},
		fsync.RuleAfterNoShow: func(w *world) (*phone, []map[string]any) {
			refreshTokensAfter(t, w, w.v1.ScheduledStart.Add(40*time.Minute))
			w.f.do("POST", "/v1/visits/"+w.v1.ID+"/no-show", map[string]any{"party": "worker", "reason": "服务师未到"}, w.s1).want(200)
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 50*time.Minute))
		},
		fsync.RuleRescheduledOffline: func(w *world) (*phone, []map[string]any) {
			// The case: moved to the next day while the phone was offline.
			next := w.v1.ScheduledStart.Add(24 * time.Hour)
			w.f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"scheduledStart": next, "scheduledEnd": next.Add(3 * time.Hour)}, w.s1).want(200)
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0))
		},
		fsync.RuleOutsideWindow: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, -3*time.Hour))
		},
		fsync.RuleFarFromAddress: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": far}})
		},
		fsync.RuleManual: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"method": "manual", "reason": "地下室没有信号"}})
		},
		fsync.RuleSecondCheckIn: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			p.mustPush(p.ops(in(w, 0)))
			return p, p.ops(in(w, 5*time.Minute))
		},
		fsync.RuleSecondCheckOut: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), out(w, 3*time.Hour), out(w, 3*time.Hour+5*time.Minute))
		},
		fsync.RuleCheckOutFirst: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(out(w, 3*time.Hour))
		},
		fsync.RuleSameItem: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			p.mustPush(p.ops(opSpec{fsync.KindProgress, w.v1.ID, w.v1.ScheduledStart.Add(30 * time.Minute), map[string]any{"itemId": "kitchen", "done": true}}))
			tablet := w.phone("wk.one", "tablet-1")
			return tablet, tablet.ops(opSpec{fsync.KindProgress, w.v1.ID, w.v1.ScheduledStart.Add(40 * time.Minute), map[string]any{"itemId": "kitchen", "done": false}})
		},
		fsync.RuleSignOffFinal: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), out(w, 3*time.Hour), sign(w, 3*time.Hour+time.Minute, true, 5), sign(w, 3*time.Hour+2*time.Minute, true, 4))
		},
		fsync.RuleSignOffEarly: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), sign(w, 2*time.Hour, true, 5))
		},
		fsync.RuleDisputed: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), out(w, 3*time.Hour), sign(w, 3*time.Hour+time.Minute, false, 4))
		},
		fsync.RuleCustomerLowRating: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), out(w, 3*time.Hour), sign(w, 3*time.Hour+time.Minute, true, 2))
		},
		fsync.RulePresenceInvalid: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			wrong := "000000"
			if wrong == w.f.presence.Code(w.v1.ID, w.v1.ScheduledStart) {
				wrong = "111111"
			}
			return p, p.ops(opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near, "presenceCode": wrong}})
		},
		fsync.RuleAbsentAfterCheckIn: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			return p, p.ops(in(w, 0), opSpec{fsync.KindCustomerAbsent, w.v1.ID, w.v1.ScheduledStart.Add(20 * time.Minute), map[string]any{"location": near, "waitedMinutes": 20, "photos": []string{doorPhoto}}})
		},
		fsync.RuleSecondAbsence: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			door := func(dt time.Duration) opSpec {
				return opSpec{fsync.KindCustomerAbsent, w.v1.ID, w.v1.ScheduledStart.Add(dt), map[string]any{"location": near, "waitedMinutes": 10, "photos": []string{doorPhoto}}}
			}
			return p, p.ops(door(10*time.Minute), door(20*time.Minute))
		},
		fsync.RulePresenceReused: func(w *world) (*phone, []map[string]any) {
			p := w.phone("wk.one", "phone-1")
			code := w.f.presence.Code(w.v1.ID, w.v1.ScheduledStart)
			return p, p.ops(opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near, "presenceCode": code}},
				opSpec{fsync.KindCheckOut, w.v1.ID, w.v1.ScheduledStart.Add(time.Minute), map[string]any{"location": near, "presenceCode": code}})
		},
	}
	cases[fsync.RuleScopeRefusedItem] = func(w *world) (*phone, []map[string]any) {
		p := w.phone("wk.one", "phone-1")
		ops := p.ops(opSpec{fsync.KindScope, w.v1.ID, w.v1.ScheduledStart.Add(10 * time.Minute), map[string]any{"add": []map[string]any{{"title": "擦窗户"}}, "reason": "顺便"}})
		p.mustPush(ops)
		changeID := ops[0]["opId"].(string)
		w.f.do("POST", "/v1/visits/"+w.v1.ID+"/scope/"+changeID, map[string]any{"decision": "refuse"}, w.cu1).want(200)
		w.f.clock.Add(time.Minute)
		return p, p.ops(opSpec{fsync.KindProgress, w.v1.ID, w.f.clock.Now(), map[string]any{"itemId": schemas.ScopeItemID(changeID, 0), "done": true}})
	}
	cases[fsync.RulePresenceLocked] = func(w *world) (*phone, []map[string]any) {
		p := w.phone("wk.one", "phone-1")
		var specs []opSpec
		for i := 0; len(specs) < 5; i++ {
			if c := fmt.Sprintf("%06d", i); c != w.f.presence.Code(w.v1.ID, w.v1.ScheduledStart) {
				specs = append(specs, opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near, "presenceCode": c}})
			}
		}
		p.mustPush(p.ops(specs...))
		// Five wrong codes: the right one is not even checked.
		return p, p.ops(opSpec{fsync.KindCheckOut, w.v1.ID, w.v1.ScheduledStart.Add(time.Minute), map[string]any{"location": near, "presenceCode": w.f.presence.Code(w.v1.ID, w.v1.ScheduledStart)}})
	}
	table := readmeRules(t)
	for rule := range table {
		if cases[rule] == nil {
			t.Errorf("the README's conflict table has %s, and this test no case for it", rule)
		}
	}
	for rule, run := range cases {
		t.Run(rule, func(t *testing.T) {
			review, documented := table[rule]
			if !documented {
				t.Fatalf("%s is not in the README's conflict table", rule)
			}
			w := newSyncWorld(t)
			p, ops := run(w)
			resp := p.mustPush(ops)
			last := resp.Results[len(resp.Results)-1]
			if last.Status != fsync.StatusConflict || last.Rule != rule || !slices.Contains(last.Rules, rule) {
				t.Fatalf("result %+v, want conflict naming %s (all: %s)", last, rule, statuses(resp))
			}
			opID := ops[len(ops)-1]["opId"]
			v := w.visit(w.v1.ID)
			recorded, reviewed := false, false
			for _, c := range v.Field.Conflicts {
				if c.Rule == rule && c.OpID == opID {
					recorded, reviewed = true, c.Review
				}
			}
			for _, x := range v.Field.Exceptions {
				if x.Code == rule && x.OpID == opID {
					recorded, reviewed = true, x.Review
				}
			}
			if !recorded || reviewed != review || v.NeedsReview != review {
				t.Fatalf("visit records %s: %v, for review %v (visit %v), README says review %v\nconflicts %+v\nexceptions %+v",
					rule, recorded, reviewed, v.NeedsReview, review, v.Field.Conflicts, v.Field.Exceptions)
			}
			again := p.mustPush(ops[len(ops)-1:])
			if r := again.Results[0]; r.Status != fsync.StatusDuplicate || r.Code != fsync.StatusConflict || r.Rule != rule {
				t.Fatalf("retry: %+v, want duplicate of the conflict %s", r, rule)
			}
		})
	}
}

// TestOfflineBacklogInSmallBatches: a phone back after a long offline day pushes a
// backlog of 2,000 operations on its visit, batch after batch as fast as
// it can (the fixture allows 100 per batch); every one is applied.
func TestOfflineBacklogInSmallBatches(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	specs := []opSpec{{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": near}}}
	for i := 1; len(specs) < 1999; i++ {
		t := at.Add(time.Duration(i) * 5 * time.Second)
		switch {
		case i%10 == 0:
			specs = append(specs, opSpec{fsync.KindNote, w.v1.ID, t, map[string]any{"text": "客户说明天家里有客人，请把客厅再擦一遍"}})
		default:
			specs = append(specs, opSpec{fsync.KindProgress, w.v1.ID, t, map[string]any{"itemId": []string{"kitchen", "floors"}[i%2], "done": i%3 != 0}})
		}
	}
	specs = append(specs, opSpec{fsync.KindCheckOut, w.v1.ID, at.Add(3 * time.Hour), map[string]any{"location": near}})
	ops := p.ops(specs...)
	pushes := 0
	for from := 0; from < len(ops); {
		resp := p.mustPush(ops[from:min(from+100, len(ops))])
		pushes++
		for _, r := range resp.Results {
			if r.Status == fsync.StatusRejected {
				t.Fatalf("op %d rejected: %+v", r.Seq, r)
			}
		}
		from = int(resp.NextSeq) - 1
		if pushes > 40 {
			t.Fatalf("the backlog did not drain in %d pushes: next seq %d", pushes, resp.NextSeq)
		}
	}
	if v := w.visit(w.v1.ID); v.Field.Ops != 2000 || v.Status != schemas.VisitCheckedOut {
		t.Fatalf("%d operations folded, status %s", v.Field.Ops, v.Status)
	}
}
