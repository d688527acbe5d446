package api_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// TestDuplicateAndCaseFoldedKeys: Go's decoder lets a repeated key win
// and takes "LOGIN" for "login"; both would sign "nobody" in as worker1.
// Both are 400 with a reason, at any depth.
func TestDuplicateAndCaseFoldedKeys(t *testing.T) {
	f := newFixture(t)
	f.user("worker1", schemas.RoleWorker)
	f.user("admin.k", schemas.RoleAdmin)
	admin := f.login("admin.k", "office").AccessToken
	pw := `"password":"` + testPassword + `","deviceId":"p"`
	for body, reason := range map[string]string{
		`{"login":"nobody","login":"worker1",` + pw + `}`: "duplicate_key",
		`{"login":"nobody","LOGIN":"worker1",` + pw + `}`: "case_mismatch",
		`{"Login":"worker1",` + pw + `}`:                  "case_mismatch",
		`{"login":"worker1",` + pw + `,"deviceId":"q"}`:   "duplicate_key",
	} {
		e := f.do("POST", "/v1/auth/login", body, "").wantError(400, schemas.EINVALID)
		if e.Details["reason"] != reason {
			t.Errorf("%s: reason %v, want %s", body, e.Details["reason"], reason)
		}
	}
	nested := `{"name":"客户","phone":"+8613900000009","addresses":[{"text":"上海市","location":{"lat":31.2,"lng":121.4},"Location":{"lat":1,"lng":1}}]}`
	if e := f.do("POST", "/v1/customers", nested, admin).wantError(400, schemas.EINVALID); e.Details["reason"] != "case_mismatch" || e.Details["field"] != "addresses[0].Location" {
		t.Errorf("nested case-folded key: %+v", e)
	}
	nested = `{"name":"客户","phone":"+8613900000009","household":{"elderly":true,"elderly":false},"addresses":[]}`
	if e := f.do("POST", "/v1/customers", nested, admin).wantError(400, schemas.EINVALID); e.Details["reason"] != "duplicate_key" || e.Details["field"] != "household.elderly" {
		t.Errorf("nested duplicate key: %+v", e)
	}
	f.do("POST", "/v1/auth/login", `{"login":"worker1",`+pw+`}`, "").want(200)
}

// TestOnlyJSONContentType: application/json, with charset=utf-8 at most;
// JSONP, JSON text sequences and other charsets are 415.
func TestOnlyJSONContentType(t *testing.T) {
	f := newFixture(t)
	f.user("worker.c", schemas.RoleWorker)
	body := map[string]any{"login": "worker.c", "password": testPassword, "deviceId": "p"}
	raw, _ := json.Marshal(body)
	for ct, want := range map[string]int{
		"application/json":                    200,
		"application/json; charset=utf-8":     200,
		"Application/JSON; Charset=\"UTF-8\"": 200,
		"application/jsonp":                   415,
		"application/json-seq":                415,
		"application/json5":                   415,
		"application/json; charset=latin1":    415,
		"application/json; profile=x":         415,
		"application/json;":                   200,
		"text/json":                           415,
		"application/x-json":                  415,
		"":                                    415,
	} {
		r := f.do("POST", "/v1/auth/login", string(raw), "", "Content-Type", ct)
		if want == 415 {
			r.wantError(415, schemas.EMEDIATYPE)
		} else if r.status != want {
			t.Errorf("Content-Type %q: %d, want %d (%s)", ct, r.status, want, r.body)
		}
	}
}

// TestLookAlikeLogins: logins are normalised (PRECIS UsernameCaseMapped) at
// creation and at sign-in, and other scripts' look-alike letters refused.
func TestLookAlikeLogins(t *testing.T) {
	f := newFixture(t)
	f.user("admin.l", schemas.RoleAdmin)
	f.user("worker1", schemas.RoleWorker)
	admin := f.login("admin.l", "office").AccessToken
	newUser := func(login string) *result {
		return f.do("POST", "/v1/users", map[string]any{"login": login, "password": "long enough pw", "name": "N", "role": "worker"}, admin)
	}
	newUser("ｗorker1").wantError(409, schemas.ECONFLICT) // fullwidth w: the same login
	newUser("WORKER1").wantError(409, schemas.ECONFLICT)
	for _, l := range []string{"wоrker1" /* Cyrillic о */, "ΑDMIN" /* Greek Α */, "ŵorker1", "wor\u200bker1", "wor ker1", "admin\u202e"} {
		if e := newUser(l).wantError(400, schemas.EINVALID); e.Details["field"] != "login" {
			t.Errorf("%q: %+v", l, e)
		}
	}
	var u schemas.User
	newUser("ｆｕｌｌ.Ｗｉｄｔｈ").want(201).decode(&u)
	if u.Login != "full.width" {
		t.Fatalf("stored login %q, want full.width", u.Login)
	}
	newUser("张桂兰").want(201)
	newUser("zhang.桂兰").want(201)
	// At sign-in the same normalisation: any width or case is the account.
	for _, l := range []string{"ＷＯＲＫＥＲ1", " Worker1 ", "worker１"} {
		var pair struct {
			AccessToken string `json:"accessToken"`
		}
		f.do("POST", "/v1/auth/login", map[string]any{"login": l, "password": testPassword, "deviceId": "p"}, "").want(200).decode(&pair)
		var me schemas.User
		f.do("GET", "/v1/me", nil, pair.AccessToken).want(200).decode(&me)
		if me.Login != "worker1" {
			t.Fatalf("%q signed in as %q", l, me.Login)
		}
	}
	f.do("POST", "/v1/auth/login", map[string]any{"login": "wоrker1", "password": testPassword, "deviceId": "p"}, "").wantError(401, schemas.EUNAUTHORIZED)
}

// textLeaf is a string field of a request body, found in the OpenAPI
// document: the JSON path to it and its JSON name.
type textLeaf struct {
	path []string // keys, and "[]" for array elements
	name string
}

func textLeaves(schema map[string]any, path []string, out *[]textLeaf) {
	switch schema["type"] {
	case "string":
		if schema["format"] == "date-time" {
			return // a time.Time: parsed, not text
		}
		*out = append(*out, textLeaf{path: path, name: lastKey(path)})
	case "array":
		items, _ := schema["items"].(map[string]any)
		textLeaves(items, append(append([]string{}, path...), "[]"), out)
	case "object":
		props, _ := schema["properties"].(map[string]any)
		for k, p := range props {
			textLeaves(p.(map[string]any), append(append([]string{}, path...), k), out)
		}
	}
}

func lastKey(path []string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] != "[]" {
			return path[i]
		}
	}
	return ""
}

// body is the smallest JSON body with v at the leaf's place, and the path
// an error names it by.
func (l textLeaf) body(v string) (any, string) {
	var out any = v
	for i := len(l.path) - 1; i >= 0; i-- {
		if l.path[i] == "[]" {
			out = []any{out}
		} else {
			out = map[string]any{l.path[i]: out}
		}
	}
	field := strings.Join(l.path, ".")
	field = strings.ReplaceAll(field, ".[]", "[0]")
	return out, field
}

// TestFreeTextRuleEveryInput walks every request body in the OpenAPI
// document: each string field has a class (schemas.ClassOf), and on every
// endpoint a NUL byte or one character over the class's length is a 400
// naming the field. Before, a sign-off item's reason took a NUL byte and
// 200,000 characters.
func TestFreeTextRuleEveryInput(t *testing.T) {
	w := newWorld(t)
	f := w.f
	tokens := []string{w.admin, w.s1, w.wk1, w.cu1}
	var doc map[string]any
	if err := json.Unmarshal(inlinedDocument(t), &doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	var keys []string
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	checked := map[string]bool{}
	n := 0
	for _, p := range keys {
		for method, op := range paths[p].(map[string]any) {
			rb, _ := op.(map[string]any)["requestBody"].(map[string]any)
			content, _ := rb["content"].(map[string]any)
			js, _ := content["application/json"].(map[string]any)
			if js == nil {
				continue
			}
			var leaves []textLeaf
			textLeaves(js["schema"].(map[string]any), nil, &leaves)
			url := strings.NewReplacer("{id}", schemas.NewID(), "{sha}", strings.Repeat("ab", 32), "{n}", "1").Replace(p)
			for _, l := range leaves {
				class, ok := schemas.ClassOf(l.name)
				if !ok {
					t.Errorf("%s %s: string field %q has no text class: add it to schemas.textClasses", method, p, strings.Join(l.path, "."))
					continue
				}
				if class == schemas.TextSecret {
					continue
				}
				for _, bad := range []struct{ value, reason string }{
					{"a\x00b", "control_character"},
					{strings.Repeat("字", class.MaxLen()+1), "too_long"},
				} {
					body, field := l.body(bad.value)
					var r *result
					for _, tok := range tokens {
						if r = f.do(strings.ToUpper(method), url, body, tok); r.status != 403 {
							break
						}
					}
					var eb struct {
						Error struct {
							Code    string         `json:"code"`
							Details map[string]any `json:"details"`
						} `json:"error"`
					}
					_ = json.Unmarshal(r.body, &eb)
					if r.status != 400 || eb.Error.Details["field"] != field || eb.Error.Details["reason"] != bad.reason {
						t.Errorf("%s %s with %s (%s, %s): %d %s", method, p, field, class, bad.reason, r.status, r.body)
					}
				}
				checked[class.String()] = true
				n++
			}
		}
	}
	t.Logf("%d string fields of request bodies checked", n)
	for _, c := range []string{"code", "name", "line", "reason", "note", "long"} {
		if !checked[c] {
			t.Errorf("no field of class %s checked", c)
		}
	}
}

// TestFreeTextInSyncPayloads: the same rule inside an operation's payload
// rejects that operation (the phone drops it), never the batch.
func TestFreeTextInSyncPayloads(t *testing.T) {
	w := newSyncWorld(t)
	withLimits(t, w) // the server's body limit: 200,000 characters fit
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	signOff := func(reason string) opSpec {
		return opSpec{fsync.KindSignOff, w.v1.ID, at.Add(3 * time.Hour), map[string]any{"signerName": "林先生",
			"items": []map[string]any{{"itemId": "kitchen", "accepted": false, "reason": reason}, {"itemId": "floors", "accepted": true}}}}
	}
	resp := p.mustPush(p.ops(
		signOff("a\x00b"),
		signOff(strings.Repeat("脏", 200_000)),
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "ok", "Text": "x"}},
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "  记录  "}},
	))
	if got := statuses(resp); got != "rejected:invalid,rejected:invalid,rejected:invalid,applied" {
		t.Fatalf("statuses %s: %+v", got, resp.Results)
	}
	for i, want := range []string{"items[0].reason must not contain control characters", "items[0].reason must be at most 1000 characters", "names are case-sensitive"} {
		if !strings.Contains(resp.Results[i].Message, want) {
			t.Errorf("op %d: %q, want it to say %q", i, resp.Results[i].Message, want)
		}
	}
	// A repeated key in one payload rejects that operation; the batch goes on.
	ops := p.ops(opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "x"}}, opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "y"}})
	ops[0]["payload"] = json.RawMessage(`{"text":"nobody","text":"x"}`)
	if got := statuses(p.mustPush(ops)); got != "rejected:invalid,applied" {
		t.Fatalf("duplicate key in a payload: %s", got)
	}
	if v := w.visit(w.v1.ID); len(v.Field.Notes) != 2 || v.Field.Notes[0].Text != "记录" {
		t.Fatalf("notes %+v, want two, the first trimmed", v.Field.Notes)
	}
}
