package api_test

import (
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// TestScopeChangeBadInput, through the API: malformed changes are
// rejected op by op with their codes; the household's answer route
// admits only the visit's household, a known change and agree or refuse;
// a refusal stands (the same answer again answers the same, an agreement
// after it is 409). The household no longer sees a change it refused;
// the worker and the office do.
func TestScopeChangeBadInput(t *testing.T) {
	w := newWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-s")
	at := f.clock.Now().Add(-time.Minute)
	add := func(items ...map[string]any) map[string]any {
		return map[string]any{"add": items, "reason": "客户要求"}
	}
	eleven := make([]map[string]any, fsync.MaxScopeAdd+1)
	for i := range eleven {
		eleven[i] = map[string]any{"title": "x"}
	}
	bad := []map[string]any{
		{"reason": "nothing to change"},
		{"add": []any{}, "drop": []any{}, "reason": "nothing"},
		{"add": []map[string]any{{"title": "擦窗户"}}},
		add(eleven...),
		add(map[string]any{"title": strings.Repeat("长", fsync.MaxScopeTitle+1)}),
		add(map[string]any{"title": "擦窗户", "minutes": fsync.MaxScopeMinutes + 1}),
		{"drop": []string{"garage"}, "reason": "没有车库"},
	}
	var specs []opSpec
	for _, b := range bad {
		specs = append(specs, opSpec{fsync.KindScope, w.v1.ID, at, b})
	}
	good := opSpec{fsync.KindScope, w.v1.ID, at, add(map[string]any{"title": "擦窗户", "minutes": 20})}
	ops := p.ops(append(specs, good)...)
	resp := p.mustPush(ops)
	if got := statuses(resp); got != strings.Repeat("rejected:invalid,", 6)+"rejected:unknown_item,applied" {
		t.Fatalf("push: %s", got)
	}
	changeID := ops[len(ops)-1]["opId"].(string)
	// A $ key anywhere refuses the whole push: nothing recorded.
	_, r := p.push(p.ops(opSpec{fsync.KindScope, w.v1.ID, at, add(map[string]any{"title": "擦窗户", "$inc": 1})}))
	r.wantError(400, schemas.EINVALID)
	path := "/v1/visits/" + w.v1.ID + "/scope/" + changeID
	agree, refuse := map[string]any{"decision": "agree"}, map[string]any{"decision": "refuse"}

	// Who may answer, and what.
	f.do("POST", path, agree, w.wk1).wantError(403, schemas.EFORBIDDEN)
	f.do("POST", path, agree, w.s1).wantError(400, schemas.EINVALID) // the office says who answered, and how
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "cu.two", Password: testPassword, Name: "cu.two", Role: schemas.RoleCustomer, CustomerID: w.c2.ID}); err != nil {
		t.Fatal(err)
	}
	cu2 := f.login("cu.two", "phone").AccessToken
	f.do("POST", path, agree, cu2).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v2.ID+"/scope/"+changeID, agree, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/scope/"+schemas.NewID(), agree, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/scope/not-a-change", agree, w.cu1).wantError(404, schemas.ENOTFOUND)
	for _, body := range []any{map[string]any{}, map[string]any{"decision": "maybe"}, map[string]any{"decision": 1},
		map[string]any{"decision": "agree", "$set": map[string]any{"state": "agreed"}}, map[string]any{"decision": "agree", "extra": true}} {
		f.do("POST", path, body, w.cu1).wantError(400, schemas.EINVALID)
	}
	var wv office.WorkerVisit
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.wk1).want(200).decode(&wv)
	if cs := wv.Field.ScopeChanges; len(cs) != 1 || cs[0].State != schemas.ScopePending {
		t.Fatalf("after the bad answers: %+v", cs)
	}

	// A refusal stands.
	var cv office.CustomerVisit
	f.do("POST", path, refuse, w.cu1).want(200).decode(&cv)
	f.do("POST", path, refuse, w.cu1).want(200)
	f.do("POST", path, agree, w.cu1).wantError(409, schemas.ECONFLICT)
	if len(cv.Field.ScopeChanges) != 0 || len(cv.Checklist) != len(w.v1.Checklist) {
		t.Fatalf("the household's view after refusing: %+v, checklist %+v", cv.Field.ScopeChanges, cv.Checklist)
	}
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.wk1).want(200).decode(&wv)
	if cs := wv.Field.ScopeChanges; len(cs) != 1 || cs[0].State != schemas.ScopeRefused || cs[0].How != schemas.ConsentApp {
		t.Fatalf("the worker's view after the refusal: %+v", cs)
	}
	// The worker never learns the household's account id.
	if cs := wv.Field.ScopeChanges; cs[0].AnsweredBy != "" {
		t.Fatalf("the worker's view names who answered: %q", cs[0].AnsweredBy)
	}
	var ov office.VisitView
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.s1).want(200).decode(&ov)
	if cs := ov.Field.ScopeChanges; len(cs) != 1 || cs[0].State != schemas.ScopeRefused || cs[0].AnsweredBy == "" {
		t.Fatalf("the office's view after the refusal: %+v", cs)
	}
}

// TestScopeConsentByPhone: a household without the app (no account, so no
// presence code either) answers by phone; the office records it with a
// note of who answered and how. Only the visit's team (and admins); the
// note is required and bounded; the change then stands as "office".
func TestScopeConsentByPhone(t *testing.T) {
	w := newWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-s")
	ops := p.ops(opSpec{fsync.KindScope, w.v1.ID, f.clock.Now().Add(-time.Minute), map[string]any{"add": []map[string]any{{"title": "擦窗户", "minutes": 20}}, "reason": "客户要求"}})
	if got := statuses(p.mustPush(ops)); got != "applied" {
		t.Fatalf("push: %s", got)
	}
	path := "/v1/visits/" + w.v1.ID + "/scope/" + ops[0]["opId"].(string)
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2", Password: testPassword, Name: "sup.two"}); err != nil {
		t.Fatal(err)
	}
	note := map[string]any{"decision": "agree", "note": "林先生来电同意，10:05"}
	f.do("POST", path, note, f.login("sup.two", "office").AccessToken).wantError(404, schemas.ENOTFOUND)
	f.do("POST", path, note, w.wk1).wantError(403, schemas.EFORBIDDEN)
	for _, body := range []map[string]any{{"decision": "agree"}, {"decision": "agree", "note": "  "}, {"decision": "agree", "note": strings.Repeat("长", 501)}} {
		f.do("POST", path, body, w.s1).wantError(400, schemas.EINVALID)
	}
	var ov office.VisitView
	f.do("POST", path, note, w.s1).want(200).decode(&ov)
	c := ov.Field.ScopeChanges
	if len(c) != 1 || c[0].State != schemas.ScopeAgreed || c[0].How != schemas.ConsentOffice || c[0].Note != note["note"] || c[0].AnsweredBy == "" {
		t.Fatalf("the office's view: %+v", c)
	}
	f.do("POST", path, note, w.s1).want(200)                                                          // the same answer again
	f.do("POST", path, map[string]any{"decision": "refuse"}, w.cu1).wantError(409, schemas.ECONFLICT) // one stands
	var wv office.WorkerVisit
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.wk1).want(200).decode(&wv)
	if len(wv.Checklist) != len(w.v1.Checklist)+1 || wv.Field.ScopeChanges[0].How != schemas.ConsentOffice || wv.Field.ScopeChanges[0].AnsweredBy != "" {
		t.Fatalf("the worker's view: checklist %d items, %+v", len(wv.Checklist), wv.Field.ScopeChanges)
	}
}

// TestScopeNoteToWorker: the household's remark with its answer reaches the
// worker with numbers masked, as its messages do; the office's note of who
// answered by phone is the office's own and does not reach the worker.
func TestScopeNoteToWorker(t *testing.T) {
	w := newWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-s")
	ops := p.ops(
		opSpec{fsync.KindScope, w.v1.ID, f.clock.Now().Add(-2 * time.Minute), map[string]any{"add": []map[string]any{{"title": "擦窗户", "minutes": 20}}, "reason": "客户要求"}},
		opSpec{fsync.KindScope, w.v1.ID, f.clock.Now().Add(-time.Minute), map[string]any{"add": []map[string]any{{"title": "擦冰箱", "minutes": 20}}, "reason": "客户要求"}})
	if got := statuses(p.mustPush(ops)); got != "applied,applied" {
		t.Fatalf("push: %s", got)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/scope/"+ops[0]["opId"].(string), map[string]any{"decision": "agree", "note": "有事打我 13812345678"}, w.cu1).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/scope/"+ops[1]["opId"].(string), map[string]any{"decision": "agree", "note": "林先生 13812345678 来电同意"}, w.s1).want(200)
	var wv office.WorkerVisit
	f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.wk1).want(200).decode(&wv)
	for _, c := range wv.Field.ScopeChanges {
		if strings.Contains(c.Note, "13812345678") || c.How == schemas.ConsentOffice && c.Note != "" {
			t.Fatalf("the worker's view: %+v", wv.Field.ScopeChanges)
		}
	}
}
