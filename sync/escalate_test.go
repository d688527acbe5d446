package sync_test

import (
	"context"
	"encoding/json"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// told records what the engine told households.
type told struct {
	mu gosync.Mutex
	ns []schemas.CustomerNotice
}

func (t *told) Tell(_ context.Context, n schemas.CustomerNotice) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ns = append(t.ns, n)
	return nil
}

func escalateOp(v *schemas.Visit, seq int64, payload string) fsync.Op {
	return fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: fsync.KindEscalate, VisitID: v.ID,
		At: now0.Add(-3*time.Hour - time.Duration(10-seq)*time.Minute), Payload: json.RawMessage(payload)}
}

// TestEscalateOpensCasePromisedByReceipt: an urgent escalation from a phone
// whose clock is three hours behind opens one escalation (a retry opens
// none more) promised by the server's receipt plus the urgent time, not
// the phone's; the visit lists it; the team gets one high alert and the
// household is told the promised time in its zone, without the text.
func TestEscalateOpensCasePromisedByReceipt(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	n, tl := &notified{}, &told{}
	e.SetNotifier(n)
	e.SetTeller(tl)
	e.SetEscalationTimes(90*time.Minute, 0)
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0.Add(-3 * time.Hour),
		Ops: []fsync.Op{escalateOp(v, 1, `{"topic":"scope_dispute","urgency":"urgent","text":"客户要求额外清洗地毯，不在订单内"}`)}}
	for range 2 {
		if r := pushOK(t, e, a, b).Results[0]; r.Status != fsync.StatusApplied && r.Status != fsync.StatusDuplicate {
			t.Fatalf("escalate: %+v", r)
		}
	}
	id := fsync.EscalationID(b.Ops[0].OpID)
	esc, err := db.Cases.Escalation(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := now0.Add(90 * time.Minute); !esc.PromisedBy.Equal(want) || !esc.ReceivedAt.Equal(now0) {
		t.Fatalf("promised by %s (received %s), want %s: the server's receipt, not the phone's clock", esc.PromisedBy, esc.ReceivedAt, want)
	}
	if esc.Status != schemas.EscalationOpen || esc.Team != v.Team || esc.WorkerID != v.WorkerID || esc.Topic != "scope_dispute" || esc.Version != 1 {
		t.Fatalf("escalation: %+v", esc)
	}
	_, got := fieldJSON(t, db, v.ID)
	if len(got.Field.Escalations) != 1 || got.Field.Escalations[0] != id {
		t.Fatalf("field escalations %v, want [%s]", got.Field.Escalations, id)
	}
	alerts := visitAlerts(t, db, v.ID, fsync.AlertEscalation)
	if len(alerts) != 1 || alerts[0].Priority != "high" || len(n.ids) != 1 || !strings.Contains(alerts[0].Detail, id) {
		t.Fatalf("alerts %+v, notified %d: want one high escalation alert naming %s", alerts, len(n.ids), id)
	}
	keys := map[string]bool{}
	for _, x := range tl.ns {
		keys[x.Key] = true
		if x.Kind != "escalation_received" || !x.At.Equal(esc.PromisedBy) || x.TimeZone != "Asia/Shanghai" || x.CustomerID != v.CustomerID {
			t.Fatalf("notice %+v", x)
		}
		if strings.Contains(strings.Join([]string{x.Data["escalationId"], x.Data["promisedBy"]}, " "), "地毯") || len(x.Data) != 2 {
			t.Fatalf("the notice carries more than the id and the time: %+v", x.Data)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("told under keys %v, want one key (the outbox makes a retry a no-op)", keys)
	}
}

// TestEscalateNormalDefault: a normal escalation is promised within the
// default 4h; the urgency sets the alert's priority.
func TestEscalateNormalDefault(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0,
		Ops: []fsync.Op{escalateOp(v, 1, `{"topic":"equipment","urgency":"normal","text":"吸尘器坏了"}`)}}
	pushOK(t, e, a, b)
	esc, err := db.Cases.Escalation(t.Context(), fsync.EscalationID(b.Ops[0].OpID))
	if err != nil {
		t.Fatal(err)
	}
	if !esc.PromisedBy.Equal(now0.Add(fsync.DefaultEscalationNormal)) {
		t.Fatalf("promised by %s, want now + 4h", esc.PromisedBy)
	}
	if as := visitAlerts(t, db, v.ID, fsync.AlertEscalation); len(as) != 1 || as[0].Priority != "normal" {
		t.Fatalf("alerts %+v", as)
	}
}

// TestEscalateBadInput: each bad escalation is rejected invalid and opens
// nothing; the good one after them applies.
func TestEscalateBadInput(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	long := strings.Repeat("长", 2001)
	bad := []string{
		`{}`,
		`{"topic":"weather","urgency":"normal","text":"x"}`,
		`{"topic":"other","urgency":"asap","text":"x"}`,
		`{"topic":"other","urgency":"normal"}`,
		`{"topic":"other","urgency":"normal","text":"   "}`,
		`{"topic":"other","urgency":"normal","text":"` + long + `"}`,
		`{"topic":"other","urgency":"normal","text":"x","photos":["not-a-hash"]}`,
		`{"topic":1,"urgency":"normal","text":"x"}`,
		`{"$set":{"status":"resolved"},"topic":"other","urgency":"normal","text":"x"}`,
	}
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0}
	for i, p := range bad {
		b.Ops = append(b.Ops, escalateOp(v, int64(i+1), p))
	}
	b.Ops = append(b.Ops, escalateOp(v, int64(len(bad)+1), `{"topic":"access_problem","urgency":"urgent","text":"门禁打不开"}`))
	resp := pushOK(t, e, a, b)
	for i := range bad {
		if r := resp.Results[i]; r.Status != fsync.StatusRejected || r.Code != fsync.RejectInvalid {
			t.Errorf("payload %d: %s/%s %s, want rejected/invalid", i+1, r.Status, r.Code, r.Message)
		}
	}
	if r := resp.Results[len(bad)]; r.Status != fsync.StatusApplied {
		t.Fatalf("the good escalation: %+v", r)
	}
	_, got := fieldJSON(t, db, v.ID)
	if len(got.Field.Escalations) != 1 {
		t.Fatalf("field escalations %v, want the good one only", got.Field.Escalations)
	}
}

// TestEscalateFoldOrderFree: the fold lists a visit's escalations in the
// fold's order whatever order they arrived in.
func TestEscalateFoldOrderFree(t *testing.T) {
	v := &schemas.Visit{ID: schemas.NewID(), WorkerID: "w", ScheduledStart: now0, ScheduledEnd: now0.Add(time.Hour)}
	mk := func(op string, at time.Time) *fsync.Record {
		return &fsync.Record{ID: op, OpID: op, Kind: fsync.KindEscalate, VisitID: v.ID, WorkerID: "w", DeviceID: "d", EffAt: at,
			Payload: fsync.Payload{Topic: "other", Urgency: "normal", Text: "x"}}
	}
	r1, r2 := mk(schemas.NewID(), now0), mk(schemas.NewID(), now0.Add(time.Minute))
	a, _ := fsync.Fold(v, []*fsync.Record{r1, r2}, fsync.DefaultRules)
	b, _ := fsync.Fold(v, []*fsync.Record{r2, r1}, fsync.DefaultRules)
	want := []string{fsync.EscalationID(r1.OpID), fsync.EscalationID(r2.OpID)}
	if strings.Join(a.Escalations, ",") != strings.Join(want, ",") || strings.Join(b.Escalations, ",") != strings.Join(want, ",") {
		t.Fatalf("escalations %v and %v, want %v", a.Escalations, b.Escalations, want)
	}
}

// TestEscalateOnAChangedVisit: an offline phone's escalation about a
// visit since cancelled, or reassigned away from its worker, still opens
// the escalation and alerts the team, but the household is not told that
// its problem will be handled: its visit is cancelled, or that worker is
// no longer coming (the relay tells a cancelled visit's household none of
// the phone's facts either).
func TestEscalateOnAChangedVisit(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(v *schemas.Visit) error
	}{
		{"cancelled", func(v *schemas.Visit) error { return v.Cancel("moved away") }},
		{"reassigned", func(v *schemas.Visit) error { return v.Reassign(schemas.NewID(), "") }},
	} {
		db, v, a := setup(t)
		got, err := db.Visits.Get(t.Context(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.edit(got); err != nil {
			t.Fatal(err)
		}
		mustReplace(t, db, got)
		e := engine(db)
		tl := &told{}
		e.SetTeller(tl)
		b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0,
			Ops: []fsync.Op{escalateOp(v, 1, `{"topic":"access_problem","urgency":"urgent","text":"门禁打不开"}`)}}
		if r := pushOK(t, e, a, b).Results[0]; r.Status == fsync.StatusRejected {
			t.Fatalf("%s: %+v", c.name, r)
		}
		if _, err := db.Cases.Escalation(t.Context(), fsync.EscalationID(b.Ops[0].OpID)); err != nil {
			t.Fatalf("%s: no escalation: %v", c.name, err)
		}
		if len(visitAlerts(t, db, v.ID, fsync.AlertEscalation)) != 1 {
			t.Fatalf("%s: the team is not alerted", c.name)
		}
		if len(tl.ns) != 0 {
			t.Fatalf("%s: the household is told %+v", c.name, tl.ns)
		}
	}
}
