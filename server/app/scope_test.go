package app

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// as decodes a JSON answer into v.
func as[T any](t *testing.T, m map[string]any) *T {
	t.Helper()
	b, _ := json.Marshal(m)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return &v
}

// householdCode is the code the household's app shows at t, made as an
// authenticator app makes it from GET /v1/visits/:id/presence.
func householdCode(t *testing.T, secret string, period int, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/int64(period)))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// TestScopeChangeAgreedWithTheHousehold, through the running server and
// the local FCM endpoint: the worker adds an item without a code; the
// household is asked on its phone (no text of the worker's), agrees in
// its app; the worker's pull shows the item, progress on it applies and
// the household signs off over the checklist as agreed. A change with the
// household's code is agreed at once and asks nothing; a refused one
// flags the progress made on it for review.
func TestScopeChangeAgreedWithTheHousehold(t *testing.T) {
	f := newTellFixture(t, "")
	ctx, sys := t.Context(), office.System
	base := "http://" + f.srv.Addr()
	now := f.clk.Now()
	if _, err := f.srv.Relay.RunOnce(ctx); err != nil { // the relay starts at the tail
		t.Fatal(err)
	}
	visit := func(start time.Time, w *schemas.Worker) *schemas.Visit {
		v, err := f.srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
			ScheduledStart: start, WorkerID: w.ID})
		if err != nil {
			t.Fatal(err)
		}
		return &v.Visit
	}
	v := visit(now.Add(-30*time.Minute), f.w1) // 16:30 in Shanghai
	_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "cu.1", "password": "customer password", "deviceId": "tablet"})
	cu := out["accessToken"].(string)
	// phone signs a worker in on a phone of their own and pushes from it.
	phone := func(login string, w *schemas.Worker) (token string, push func(ops ...map[string]any) []fsync.Result) {
		if _, err := f.srv.Auth.CreateUser(ctx, schemas.NewUser{Login: login, Password: "worker password", Name: login, Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"}); err != nil {
			t.Fatal(err)
		}
		_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": login, "password": "worker password", "deviceId": "wphone"})
		token = out["accessToken"].(string)
		seq := 0
		return token, func(ops ...map[string]any) []fsync.Result {
			t.Helper()
			for _, o := range ops {
				seq++
				o["seq"] = seq
			}
			st, out := call(t, "POST", base+"/v1/sync/push", token, map[string]any{"deviceId": "wphone", "schemaVersion": fsync.SchemaVersion, "deviceClock": f.clk.Now(), "ops": ops})
			if st != 200 {
				t.Fatalf("push: %d %v", st, out)
			}
			return as[fsync.PushResponse](t, out).Results
		}
	}
	wk, push := phone("wk.1", f.w1)
	op := func(kind string, v *schemas.Visit, at time.Time, payload map[string]any) map[string]any {
		return map[string]any{"opId": schemas.NewIDAt(f.clk.Now()), "kind": kind, "visitId": v.ID, "at": at, "payload": payload}
	}
	near := map[string]any{"lat": 31.2, "lng": 121.45, "accuracyM": 5}
	asked := func() []map[string]any {
		t.Helper()
		if _, err := f.srv.Relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		return f.sent("scope_change_requested")
	}

	// Without a code: pending, and the household is asked.
	change := op(fsync.KindScope, v, now.Add(-2*time.Minute), map[string]any{"add": []map[string]any{{"title": "熨衣服", "minutes": 30}}, "reason": "客户要求加熨衣服"})
	if rs := push(op(fsync.KindCheckIn, v, now.Add(-20*time.Minute), map[string]any{"location": near}), change); rs[0].Status != fsync.StatusApplied || rs[1].Status != fsync.StatusApplied {
		t.Fatalf("push: %+v", rs)
	}
	changeID := change["opId"].(string)
	item := schemas.ScopeItemID(changeID, 0)
	if _, err := f.srv.Relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.told("scope_change_requested", "11月24日 16:30")
	if d := m["data"].(map[string]any); d["visitId"] != v.ID || d["changeId"] != changeID || strings.Contains(fmt.Sprint(m), "熨衣服") || strings.Contains(fmt.Sprint(m), "客户要求") {
		t.Fatalf("the request: %+v", m)
	}
	st, out := call(t, "GET", base+"/v1/visits/"+v.ID, cu, nil)
	if cv := as[office.CustomerVisit](t, out); st != 200 || len(cv.Field.ScopeChanges) != 1 || cv.Field.ScopeChanges[0].State != schemas.ScopePending {
		t.Fatalf("the household's view before answering: %d %+v", st, out)
	}

	// The household agrees; the worker's pull shows the item.
	st, out = call(t, "POST", base+"/v1/visits/"+v.ID+"/scope/"+changeID, cu, map[string]any{"decision": "agree"})
	cv := as[office.CustomerVisit](t, out)
	if st != 200 || cv.Field.ScopeChanges[0].State != schemas.ScopeAgreed || cv.Field.ScopeChanges[0].How != schemas.ConsentApp {
		t.Fatalf("agree: %d %+v", st, out)
	}
	_, out = call(t, "GET", base+"/v1/sync/pull", wk, nil)
	var pulled *office.WorkerVisit
	for _, x := range as[struct {
		Visits []office.WorkerVisit `json:"visits"`
	}](t, out).Visits {
		if x.ID == v.ID {
			pulled = &x
		}
	}
	if pulled == nil || !slices.ContainsFunc(pulled.Checklist, func(it schemas.VisitChecklistItem) bool { return it.ID == item && it.Text == "熨衣服" }) ||
		len(pulled.Field.ScopeChanges) != 1 || pulled.Field.ScopeChanges[0].State != schemas.ScopeAgreed {
		t.Fatalf("the worker's pull: %+v", pulled)
	}
	rs := push(op(fsync.KindProgress, v, now.Add(-time.Minute), map[string]any{"itemId": item, "done": true}),
		op(fsync.KindProgress, v, now.Add(-time.Minute), map[string]any{"itemId": "kitchen", "done": true}),
		op(fsync.KindCheckOut, v, now, map[string]any{"location": near}))
	for _, r := range rs {
		if r.Status != fsync.StatusApplied {
			t.Fatalf("progress and check-out: %+v", rs)
		}
	}
	f.clk.Add(time.Minute)
	st, out = call(t, "POST", base+"/v1/visits/"+v.ID+"/signoff", cu, map[string]any{"opId": schemas.NewIDAt(f.clk.Now()), "signerName": "林",
		"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": item, "accepted": true}}})
	if st != 200 || out["status"] != fsync.StatusApplied {
		t.Fatalf("sign-off over the agreed checklist: %d %v", st, out)
	}

	// With the household's code: agreed at once, nobody asked.
	v2 := visit(f.clk.Now().Add(-10*time.Minute), f.w2)
	_, push = phone("wk.2", f.w2)
	_, out = call(t, "GET", base+"/v1/visits/"+v2.ID+"/presence", cu, nil)
	at := f.clk.Now().Add(-time.Minute)
	code := householdCode(t, out["secret"].(string), int(out["period"].(float64)), at)
	byCode := op(fsync.KindScope, v2, at, map[string]any{"drop": []string{"kitchen"}, "add": []map[string]any{{"title": "擦冰箱"}}, "reason": "厨房刚装修", "presenceCode": code})
	if rs := push(byCode); rs[0].Status != fsync.StatusApplied {
		t.Fatalf("with a code: %+v", rs)
	}
	got, err := f.srv.Store.Visits.Get(ctx, v2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Field.ScopeChanges[0]; c.State != schemas.ScopeAgreed || c.How != schemas.ConsentCode {
		t.Fatalf("with a code: %+v", c)
	}
	if ids := got.EffectiveChecklist(); len(ids) != 1 || ids[0].ID != schemas.ScopeItemID(byCode["opId"].(string), 0) {
		t.Fatalf("checklist with a code: %+v", ids)
	}
	if n := len(asked()); n != 1 {
		t.Fatalf("%d requests sent, want the first change's only", n)
	}

	// Refused: the progress made meanwhile is kept and flagged.
	refused := op(fsync.KindScope, v2, at, map[string]any{"add": []map[string]any{{"title": "擦窗户"}}, "reason": "顺便"})
	wItem := schemas.ScopeItemID(refused["opId"].(string), 0)
	push(refused, op(fsync.KindProgress, v2, at, map[string]any{"itemId": wItem, "done": true}))
	if n := len(asked()); n != 2 {
		t.Fatalf("%d requests sent, want 2", n)
	}
	st, out = call(t, "POST", base+"/v1/visits/"+v2.ID+"/scope/"+refused["opId"].(string), cu, map[string]any{"decision": "refuse"})
	if st != 200 || len(as[office.CustomerVisit](t, out).Field.ScopeChanges) != 1 {
		t.Fatalf("refuse: %d %v (the household sees the change its code agreed to, not the refused one)", st, out)
	}
	if got, err = f.srv.Store.Visits.Get(ctx, v2.ID); err != nil {
		t.Fatal(err)
	}
	if !got.NeedsReview || !slices.ContainsFunc(got.Field.Exceptions, func(x schemas.Exception) bool { return x.Code == fsync.RuleScopeRefusedItem && x.Review }) ||
		!slices.ContainsFunc(got.Field.Progress, func(p schemas.ItemProgress) bool { return p.ItemID == wItem }) {
		t.Fatalf("after the refusal: review %v, exceptions %+v, progress %+v", got.NeedsReview, got.Field.Exceptions, got.Field.Progress)
	}
	st, out = call(t, "POST", base+"/v1/visits/"+v2.ID+"/scope/"+refused["opId"].(string), cu, map[string]any{"decision": "agree"})
	if st != 409 {
		t.Fatalf("agree after refuse: %d %v", st, out)
	}
}
