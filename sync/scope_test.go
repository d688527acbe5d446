package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

func scopeEngine(db *store.Store) *fsync.Engine {
	return fsync.New(db, clock0, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, testPresence)
}

// scopeOp is an operation min minutes into the visit.
func scopeOp(v *schemas.Visit, seq int64, min int, kind, payload string) fsync.Op {
	return fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: kind, VisitID: v.ID, At: v.ScheduledStart.Add(time.Duration(min) * time.Minute),
		Payload: json.RawMessage(payload)}
}

func scopeBatch(ops ...fsync.Op) *fsync.Batch {
	return &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0, Ops: ops}
}

func householdOf(v *schemas.Visit) *schemas.Actor {
	return &schemas.Actor{UserID: "household-" + v.CustomerID, Role: schemas.RoleCustomer, CustomerID: v.CustomerID, DeviceID: "app"}
}

func checklistIDs(v *schemas.Visit) string {
	var ids []string
	for _, it := range v.EffectiveChecklist() {
		ids = append(ids, fmt.Sprintf("%s:%v", it.ID, it.Done))
	}
	return strings.Join(ids, ",")
}

func statusesOf(resp *fsync.PushResponse) string {
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

// TestScopeAgreedByCodeOffline: a phone offline sends in one push the
// check-in, a change agreed by the household's code (add ironing, drop
// floors), progress on the added item, the check-out and a sign-off over
// the effective checklist: everything applies, the change is agreed by
// code, and the checklist is the office's less floors plus ironing.
func TestScopeAgreedByCodeOffline(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	change := scopeOp(v, 2, 20, fsync.KindScope, fmt.Sprintf(`{"add":[{"title":"熨衣服","minutes":30}],"drop":["floors"],"reason":"客户要求","presenceCode":%q}`,
		testPresence.Code(v.ID, v.ScheduledStart.Add(20*time.Minute))))
	ironing := schemas.ScopeItemID(change.OpID, 0)
	resp := pushOK(t, e, a, scopeBatch(
		scopeOp(v, 1, 0, fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`),
		change,
		scopeOp(v, 3, 60, fsync.KindProgress, `{"itemId":"`+ironing+`","done":true}`),
		scopeOp(v, 4, 61, fsync.KindProgress, `{"itemId":"kitchen","done":true}`),
		scopeOp(v, 5, 150, fsync.KindCheckOut, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`),
		scopeOp(v, 6, 151, fsync.KindSignOff, `{"signerName":"林","items":[{"itemId":"kitchen","accepted":true},{"itemId":"`+ironing+`","accepted":true}]}`),
	))
	if got := statusesOf(resp); got != "applied,applied,applied,applied,applied,applied" {
		t.Fatalf("push: %s", got)
	}
	_, got := fieldJSON(t, db, v.ID)
	cs := got.Field.ScopeChanges
	if len(cs) != 1 || cs[0].State != schemas.ScopeAgreed || cs[0].How != schemas.ConsentCode || cs[0].ChangeID != change.OpID ||
		cs[0].WorkerID != a.WorkerID || cs[0].AnsweredAt == nil || cs[0].Add[0].Minutes != 30 || cs[0].Reason != "客户要求" {
		t.Fatalf("scope changes: %+v", cs)
	}
	if ids := checklistIDs(got); ids != "kitchen:true,"+ironing+":true" {
		t.Fatalf("effective checklist %s", ids)
	}
	if got.Status != schemas.VisitSignedOff {
		t.Fatalf("status %s", got.Status)
	}
	// A sign-off naming the dropped item is about another checklist.
	resp = pushOK(t, e, a, scopeBatch(scopeOp(v, 7, 152, fsync.KindSignOff, `{"signerName":"林","items":[{"itemId":"floors","accepted":true}]}`)))
	if got := statusesOf(resp); got != "rejected:unknown_item" {
		t.Fatalf("sign-off of a dropped item: %s", got)
	}
}

// TestScopeAskedInTheApp: without a code the change is pending and its
// items are known (progress on them applies); the household agrees in
// its app, the same answer again answers the same, and a refusal after
// it is a conflict. The answer is a record: folding again from all the
// records (a late operation sorting before it) gives the same state.
func TestScopeAskedInTheApp(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	ctx := context.Background()
	change := scopeOp(v, 1, 20, fsync.KindScope, `{"add":[{"title":"擦窗户"},{"title":"整理衣柜","minutes":60}],"reason":"客户临时增加"}`)
	windows := schemas.ScopeItemID(change.OpID, 0)
	resp := pushOK(t, e, a, scopeBatch(change, scopeOp(v, 2, 30, fsync.KindProgress, `{"itemId":"`+windows+`","done":true}`)))
	if got := statusesOf(resp); got != "applied,applied" {
		t.Fatalf("push: %s", got)
	}
	_, got := fieldJSON(t, db, v.ID)
	if cs := got.Field.ScopeChanges; len(cs) != 1 || cs[0].State != schemas.ScopePending || cs[0].How != "" {
		t.Fatalf("before the answer: %+v", cs)
	}
	if ids := checklistIDs(got); ids != "kitchen:false,floors:false" {
		t.Fatalf("a pending change is in the checklist: %s", ids)
	}
	cu := householdOf(v)
	for range 2 { // the app sends it again: the same answer
		after, err := e.AnswerScope(ctx, cu, v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionAgree})
		if err != nil {
			t.Fatal(err)
		}
		if c := after.Field.ScopeChanges[0]; c.State != schemas.ScopeAgreed || c.How != schemas.ConsentApp || c.AnsweredBy != cu.UserID || !c.AnsweredAt.Equal(now0) {
			t.Fatalf("after agreeing: %+v", c)
		}
	}
	_, got = fieldJSON(t, db, v.ID)
	if ids := checklistIDs(got); ids != "kitchen:false,floors:false,"+windows+":true,"+schemas.ScopeItemID(change.OpID, 1)+":false" {
		t.Fatalf("effective checklist %s", ids)
	}
	// Without a code, a sign-off in the change's own push may not name its
	// items: the household had not agreed yet.
	other := scopeOp(v, 3, 50, fsync.KindScope, `{"add":[{"title":"x"}],"reason":"r"}`)
	resp = pushOK(t, e, a, scopeBatch(other, scopeOp(v, 4, 51, fsync.KindSignOff, `{"signerName":"林","items":[{"itemId":"`+schemas.ScopeItemID(other.OpID, 0)+`","accepted":true}]}`)))
	if got := statusesOf(resp); got != "applied,rejected:unknown_item" {
		t.Fatalf("sign-off of an item not agreed: %s", got)
	}
	if got.Field.Ops != 3 {
		t.Fatalf("%d operations folded, want 3 (the answer once)", got.Field.Ops)
	}
	if _, err := e.AnswerScope(ctx, cu, v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionRefuse}); schemas.ErrorCode(err) != schemas.ECONFLICT {
		t.Fatalf("refuse after agree: %v, want conflict", err)
	}
	// A late operation sorting before the answer: the visit is folded
	// again from every record, the answer with them.
	before, _ := fieldJSON(t, db, v.ID)
	pushOK(t, e, a, scopeBatch(scopeOp(v, 5, 40, fsync.KindNote, `{"text":"late"}`)))
	_, got = fieldJSON(t, db, v.ID)
	if c := got.Field.ScopeChanges[0]; c.State != schemas.ScopeAgreed || len(got.Field.Notes) != 1 {
		t.Fatalf("after folding again: %+v (before %s)", got.Field.ScopeChanges, before)
	}
}

// TestScopeRefusedFlagsProgress: progress on an item of a change the
// household refused is kept and flagged for review (one alert); the
// refused item is not on the checklist, so a sign-off may not name it.
func TestScopeRefusedFlagsProgress(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	ctx := context.Background()
	change := scopeOp(v, 1, 20, fsync.KindScope, `{"add":[{"title":"擦窗户"}],"reason":"顺便"}`)
	item := schemas.ScopeItemID(change.OpID, 0)
	pushOK(t, e, a, scopeBatch(change, scopeOp(v, 2, 30, fsync.KindProgress, `{"itemId":"`+item+`","done":true}`)))
	after, err := e.AnswerScope(ctx, householdOf(v), v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionRefuse})
	if err != nil {
		t.Fatal(err)
	}
	if c := after.Field.ScopeChanges[0]; c.State != schemas.ScopeRefused || c.How != schemas.ConsentApp {
		t.Fatalf("after refusing: %+v", c)
	}
	flagged := func(v *schemas.Visit) int {
		n := 0
		for _, x := range v.Field.Exceptions {
			if x.Code == fsync.RuleScopeRefusedItem && x.Review {
				n++
			}
		}
		return n
	}
	if n := flagged(after); n != 1 || !after.NeedsReview || len(after.Field.Progress) != 1 {
		t.Fatalf("%d flags, review %v, progress %+v", n, after.NeedsReview, after.Field.Progress)
	}
	if n := alertCount(t, db, v.ID, fsync.RuleScopeRefusedItem); n != 1 {
		t.Fatalf("%d scope_refused_item alerts, want 1", n)
	}
	// More progress on it (at the time of the answer: after it, as the
	// phone's clock cannot be ahead of the server's): kept, flagged; a
	// sign-off naming it: rejected.
	resp := pushOK(t, e, a, scopeBatch(
		scopeOp(v, 3, 240, fsync.KindProgress, `{"itemId":"`+item+`","done":false}`),
		scopeOp(v, 4, 240, fsync.KindSignOff, `{"signerName":"林","items":[{"itemId":"`+item+`","accepted":true}]}`),
	))
	if got := statusesOf(resp); got != "conflict:"+fsync.RuleScopeRefusedItem+",rejected:unknown_item" {
		t.Fatalf("push: %s", got)
	}
	_, got := fieldJSON(t, db, v.ID)
	if n := flagged(got); n != 2 || got.Field.Progress[0].Done {
		t.Fatalf("%d flags, progress %+v", n, got.Field.Progress)
	}
	if _, err := e.AnswerScope(ctx, householdOf(v), v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionAgree}); schemas.ErrorCode(err) != schemas.ECONFLICT {
		t.Fatalf("agree after refuse: %v, want conflict", err)
	}
}

// TestScopeWrongOrReusedCode: a wrong code leaves the change pending and
// raises presence_code_invalid; the code the check-in used in the same
// time step is no consent either (presence_code_reused), pending too.
func TestScopeWrongOrReusedCode(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	code := testPresence.Code(v.ID, v.ScheduledStart)
	resp := pushOK(t, e, a, scopeBatch(
		scopeOp(v, 1, 0, fsync.KindCheckIn, fmt.Sprintf(`{"location":{"lat":31.2,"lng":121.45,"accuracyM":5},"presenceCode":%q}`, code)),
		scopeOp(v, 2, 1, fsync.KindScope, fmt.Sprintf(`{"drop":["floors"],"reason":"地板刚装修","presenceCode":%q}`, code)),
		scopeOp(v, 3, 2, fsync.KindScope, fmt.Sprintf(`{"drop":["kitchen"],"reason":"不需要","presenceCode":%q}`, wrongCodes(v, 1)[0])),
	))
	if got := statusesOf(resp); got != "applied,conflict:"+fsync.RulePresenceReused+",conflict:"+fsync.RulePresenceInvalid {
		t.Fatalf("push: %s", got)
	}
	_, got := fieldJSON(t, db, v.ID)
	for _, c := range got.Field.ScopeChanges {
		if c.State != schemas.ScopePending {
			t.Errorf("change %s: %s, want pending", c.Drop, c.State)
		}
	}
	if ids := checklistIDs(got); ids != "kitchen:false,floors:false" {
		t.Fatalf("effective checklist %s", ids)
	}
}

// TestScopeBadInput: each bad change is rejected with its code and
// changes nothing.
func TestScopeBadInput(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	long := strings.Repeat("长", fsync.MaxScopeTitle+1)
	eleven := strings.TrimSuffix(strings.Repeat(`{"title":"x"},`, fsync.MaxScopeAdd+1), ",")
	for i, c := range []struct{ payload, code string }{
		{`{"reason":"nothing"}`, fsync.RejectInvalid},
		{`{"add":[],"drop":[],"reason":"nothing"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x"}]}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x"}],"reason":"   "}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x"}],"reason":"` + strings.Repeat("r", fsync.MaxScopeReason+1) + `"}`, fsync.RejectInvalid},
		{`{"add":[` + eleven + `],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"` + long + `"}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":" "}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x","minutes":481}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x","minutes":-1}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x","$where":"1"}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"add":[{"title":"x","minutes":"30"}],"reason":"r"}`, fsync.RejectInvalid},
		{`{"drop":["kitchen","kitchen"],"reason":"r"}`, fsync.RejectInvalid},
		{`{"drop":["garage"],"reason":"r"}`, fsync.RejectUnknownItem},
	} {
		r := pushOK(t, e, a, scopeBatch(scopeOp(v, int64(i+1), i, fsync.KindScope, c.payload))).Results[0]
		if r.Status != fsync.StatusRejected || r.Code != c.code {
			t.Errorf("%s: %s/%s, want rejected/%s", c.payload, r.Status, r.Code, c.code)
		}
	}
	// Progress on an item no change proposed is still unknown.
	if r := pushOK(t, e, a, scopeBatch(scopeOp(v, 15, 20, fsync.KindProgress, `{"itemId":"`+schemas.ScopeItemID(schemas.NewID(), 0)+`","done":true}`))).Results[0]; r.Code != fsync.RejectUnknownItem {
		t.Errorf("progress on an item never proposed: %+v", r)
	}
	if _, got := fieldJSON(t, db, v.ID); len(got.Field.ScopeChanges) != 0 || got.Field.Ops != 0 {
		t.Fatalf("recorded %+v", got.Field)
	}
}

// TestScopeAnswerBadInput: only the visit's household answers, with
// agree or refuse, a change the visit has.
func TestScopeAnswerBadInput(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	ctx := context.Background()
	change := scopeOp(v, 1, 20, fsync.KindScope, `{"add":[{"title":"擦窗户"}],"reason":"顺便"}`)
	pushOK(t, e, a, scopeBatch(change))
	other := householdOf(v)
	other.CustomerID = schemas.NewID()
	for _, c := range []struct {
		name     string
		who      *schemas.Actor
		change   string
		decision string
		code     string
	}{
		{"another household", other, change.OpID, fsync.DecisionAgree, schemas.ENOTFOUND},
		{"the worker", a, change.OpID, fsync.DecisionAgree, schemas.EFORBIDDEN},
		{"an unknown change", householdOf(v), schemas.NewID(), fsync.DecisionAgree, schemas.ENOTFOUND},
		{"no decision", householdOf(v), change.OpID, "", schemas.EINVALID},
		{"another word", householdOf(v), change.OpID, "yes", schemas.EINVALID},
	} {
		if _, err := e.AnswerScope(ctx, c.who, v.ID, c.change, fsync.ScopeAnswer{Decision: c.decision}); schemas.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, got := fieldJSON(t, db, v.ID); got.Field.ScopeChanges[0].State != schemas.ScopePending || got.Field.Ops != 1 {
		t.Fatalf("after bad answers: %+v", got.Field.ScopeChanges)
	}
	// Once signed off (over the checklist without the change), the change
	// can no longer be answered.
	pushOK(t, e, a, scopeBatch(scopeOp(v, 2, 150, fsync.KindCheckOut, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`),
		scopeOp(v, 3, 151, fsync.KindSignOff, `{"signerName":"林","items":[{"itemId":"kitchen","accepted":true}]}`)))
	if _, err := e.AnswerScope(ctx, householdOf(v), v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionAgree}); schemas.ErrorCode(err) != schemas.ECONFLICT {
		t.Errorf("an answer after the sign-off: %v, want conflict", err)
	}
	if _, got := fieldJSON(t, db, v.ID); got.Field.ScopeChanges[0].State != schemas.ScopePending {
		t.Fatalf("after the sign-off: %+v", got.Field.ScopeChanges)
	}
	if !slices.Contains(fsync.Kinds, fsync.KindScope) || slices.Contains(fsync.Kinds, fsync.KindScopeAnswer) {
		t.Fatal("changeScope is a phone's kind; scopeAnswer is not")
	}
}

// TestScopeFoldIsPure: the fold of a change, progress on its item and two
// racing answers (refuse, then agree) is the same in any arrival order:
// the first answer in fold order stands, the second is a scope_answered
// conflict, and the progress made before the refusal is flagged.
func TestScopeFoldIsPure(t *testing.T) {
	v := &schemas.Visit{ID: schemas.NewID(), WorkerID: "w1", ScheduledStart: now0.Add(-time.Hour), ScheduledEnd: now0.Add(time.Hour),
		OfficeStatus: schemas.VisitScheduled, Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}}}
	change := &fsync.Record{ID: "u/phone/1", WorkerID: "w1", DeviceID: "phone", Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindScope, EffAt: now0.Add(-50 * time.Minute),
		Payload: fsync.Payload{Add: []schemas.ScopeItem{{Title: "擦窗户"}}, Reason: "顺便"}}
	item := schemas.ScopeItemID(change.OpID, 0)
	done := true
	progress := &fsync.Record{ID: "u/phone/2", WorkerID: "w1", DeviceID: "phone", Seq: 2, OpID: schemas.NewID(), Kind: fsync.KindProgress, EffAt: now0.Add(-40 * time.Minute),
		Payload: fsync.Payload{ItemID: item, Done: &done}}
	answer := func(id, decision string, at time.Time) *fsync.Record {
		return &fsync.Record{ID: "customer/" + id, UserID: "household", WorkerID: "w1", DeviceID: "customer:app", OpID: id, Kind: fsync.KindScopeAnswer, EffAt: at,
			Source: fsync.SourceCustomerApp, Payload: fsync.Payload{ChangeID: change.OpID, Decision: decision}}
	}
	refuse, agree := answer(schemas.NewID(), fsync.DecisionRefuse, now0.Add(-30*time.Minute)), answer(schemas.NewID(), fsync.DecisionAgree, now0.Add(-29*time.Minute))
	var first string
	for _, order := range [][]*fsync.Record{{change, progress, refuse, agree}, {agree, refuse, progress, change}, {refuse, change, agree, progress, refuse}} {
		fs, out := fsync.Fold(v, order, fsync.DefaultRules)
		b, _ := json.Marshal(fs)
		if first == "" {
			first = string(b)
		} else if string(b) != first {
			t.Fatalf("another order, another state:\n%s\n%s", b, first)
		}
		if c := fs.ScopeChanges[0]; c.State != schemas.ScopeRefused || c.How != schemas.ConsentApp || c.AnsweredBy != "household" {
			t.Fatalf("change %+v", c)
		}
		if o := out[agree.OpID]; o.Status != fsync.StatusConflict || o.Rule != fsync.RuleScopeAnswered {
			t.Fatalf("the later answer: %+v", o)
		}
		if o := out[refuse.OpID]; o.Rule != fsync.RuleScopeRefusedItem {
			t.Fatalf("the refusal of an item with progress: %+v", o)
		}
		fv := *v
		fv.Field = fs
		if ids := checklistIDs(&fv); ids != "kitchen:false" {
			t.Fatalf("effective checklist %s", ids)
		}
	}
}

// TestScopeAnswerInTheChangesSecond: the household answers in the same
// second the phone's change was made (online, pushed at once). The fold
// orders to the second, then by device, and "customer:app" sorts before
// "phone-1": the answer must still fold after its change and stand.
func TestScopeAnswerInTheChangesSecond(t *testing.T) {
	db, v, a := setup(t)
	e := scopeEngine(db)
	change := fsync.Op{Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindScope, VisitID: v.ID, At: now0,
		Payload: json.RawMessage(`{"add":[{"title":"擦窗户"}],"reason":"客户临时增加"}`)}
	if got := statusesOf(pushOK(t, e, a, scopeBatch(change))); got != "applied" {
		t.Fatalf("push: %s", got)
	}
	after, err := e.AnswerScope(context.Background(), householdOf(v), v.ID, change.OpID, fsync.ScopeAnswer{Decision: fsync.DecisionAgree})
	if err != nil {
		t.Fatalf("answer in the change's second: %v", err)
	}
	if c := after.Field.ScopeChanges[0]; c.State != schemas.ScopeAgreed {
		t.Fatalf("after agreeing: %+v", c)
	}
	// Folded again from every record (a late operation sorting first).
	pushOK(t, e, a, scopeBatch(scopeOp(v, 2, 10, fsync.KindNote, `{"text":"late"}`)))
	if _, got := fieldJSON(t, db, v.ID); got.Field.ScopeChanges[0].State != schemas.ScopeAgreed {
		t.Fatalf("after folding again: %+v", got.Field.ScopeChanges)
	}
}

// TestScopeRacingAnswersInOneSecond: the household's app sends agree and
// refuse within one second (two members, or a double tap): the records
// tie on time, device and seq (the app's carry none). The fold must still
// not depend on the order they arrived in: the same answer stands either
// way, and the same state as folded on from a checkpoint.
func TestScopeRacingAnswersInOneSecond(t *testing.T) {
	v := &schemas.Visit{ID: schemas.NewID(), WorkerID: "w1", ScheduledStart: now0.Add(-time.Hour), ScheduledEnd: now0.Add(time.Hour),
		OfficeStatus: schemas.VisitScheduled, Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}}}
	change := &fsync.Record{ID: "u/phone/1", WorkerID: "w1", DeviceID: "phone", Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindScope, EffAt: now0.Add(-50 * time.Minute),
		Payload: fsync.Payload{Add: []schemas.ScopeItem{{Title: "擦窗户"}}, Reason: "顺便"}}
	answer := func(decision string) *fsync.Record {
		id := schemas.NewID()
		return &fsync.Record{ID: "customer/household/scope/" + id, UserID: "household", WorkerID: "w1", DeviceID: "customer:app", OpID: id, Kind: fsync.KindScopeAnswer,
			EffAt: now0, Source: fsync.SourceCustomerApp, Payload: fsync.Payload{ChangeID: change.OpID, Decision: decision}}
	}
	refuse, agree := answer(fsync.DecisionRefuse), answer(fsync.DecisionAgree)
	a, _ := fsync.Fold(v, []*fsync.Record{change, refuse, agree}, fsync.DefaultRules)
	b, _ := fsync.Fold(v, []*fsync.Record{change, agree, refuse}, fsync.DefaultRules)
	if a.ScopeChanges[0].State != b.ScopeChanges[0].State {
		t.Fatalf("arrival order decided the answer: %s one way, %s the other", a.ScopeChanges[0].State, b.ScopeChanges[0].State)
	}
}

// TestScopeTextMasksNumbers: what the household reads of a change (the
// added titles, the reason) passes no phone number, as messages do; the
// record keeps what the worker wrote.
func TestScopeTextMasksNumbers(t *testing.T) {
	v := &schemas.Visit{ID: schemas.NewID(), WorkerID: "w1", ScheduledStart: now0.Add(-time.Hour), ScheduledEnd: now0.Add(time.Hour),
		OfficeStatus: schemas.VisitScheduled, Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}}}
	change := &fsync.Record{ID: "u/phone/1", WorkerID: "w1", DeviceID: "phone", Seq: 1, OpID: schemas.NewID(), Kind: fsync.KindScope, EffAt: now0.Add(-50 * time.Minute),
		Payload: fsync.Payload{Add: []schemas.ScopeItem{{Title: "擦窗户 加我 138 0013 8000"}}, Reason: "以后直接打13800138000预约"}}
	fs, _ := fsync.Fold(v, []*fsync.Record{change}, fsync.DefaultRules)
	c := fs.ScopeChanges[0]
	for _, s := range []string{c.Add[0].Title, c.Reason} {
		if strings.Contains(strings.ReplaceAll(s, " ", ""), "13800138000") || !strings.Contains(s, "*") {
			t.Errorf("shown %q", s)
		}
	}
	if change.Payload.Reason != "以后直接打13800138000预约" {
		t.Errorf("the record changed: %q", change.Payload.Reason)
	}
}
