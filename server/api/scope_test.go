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
	f.do("POST", path, agree, w.s1).wantError(403, schemas.EFORBIDDEN)
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
