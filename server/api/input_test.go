package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
)

// TestBadBodies: malformed or hostile bodies get a 4xx with the error shape
// on every endpoint that takes one, and change nothing stored.
func TestBadBodies(t *testing.T) {
	f := newFixture(t)
	f.user("admin.b", schemas.RoleAdmin)
	w := f.user("worker.h", schemas.RoleWorker)
	at := f.login("admin.b", "office").AccessToken

	type tc struct {
		name, body, ctype string
		status            int
		code              string
	}
	common := []tc{
		{"not json content type", `{}`, "text/plain", 415, schemas.EMEDIATYPE},
		{"empty body", ``, "application/json", 400, schemas.EINVALID},
		{"malformed", `{"login":`, "application/json", 400, schemas.EINVALID},
		{"array", `[1,2]`, "application/json", 400, schemas.EINVALID},
		{"string", `"x"`, "application/json", 400, schemas.EINVALID},
		{"trailing data", `{} {}`, "application/json", 400, schemas.EINVALID},
		{"unknown field", `{"isAdmin":true}`, "application/json", 400, schemas.EINVALID},
		{"operator key", `{"$where":"1"}`, "application/json", 400, schemas.EINVALID},
		{"nested operator key", `{"name":{"$gt":""}}`, "application/json", 400, schemas.EINVALID},
		{"operator key in array", `{"x":[{"$set":{"role":"admin"}}]}`, "application/json", 400, schemas.EINVALID},
		{"deep nesting", strings.Repeat("[", 100) + strings.Repeat("]", 100), "application/json", 400, schemas.EINVALID},
	}
	endpoints := []struct {
		method, path, token string
		extra               []tc
	}{
		{"POST", "/v1/auth/login", "", []tc{
			{"login wrong type", `{"login":1,"password":"x","deviceId":"d"}`, "application/json", 400, schemas.EINVALID},
			{"missing password", `{"login":"admin.b","deviceId":"d"}`, "application/json", 400, schemas.EINVALID},
			{"missing device", `{"login":"admin.b","password":"x"}`, "application/json", 400, schemas.EINVALID},
			{"device with spaces", `{"login":"admin.b","password":"x","deviceId":"a b"}`, "application/json", 400, schemas.EINVALID},
			{"null", `null`, "application/json", 400, schemas.EINVALID},
		}},
		{"POST", "/v1/auth/refresh", "", []tc{
			{"token wrong type", `{"refreshToken":["a"]}`, "application/json", 400, schemas.EINVALID},
			{"missing token", `{}`, "application/json", 400, schemas.EINVALID},
			{"missing device", `{"refreshToken":"0123456789abcdefghijklmnop"}`, "application/json", 400, schemas.EINVALID},
		}},
		{"POST", "/v1/users", at, []tc{
			{"role unknown", `{"login":"new.one","password":"long enough pw","name":"N","role":"root"}`, "application/json", 400, schemas.EINVALID},
			{"short password", `{"login":"new.one","password":"short","name":"N","role":"worker"}`, "application/json", 400, schemas.EINVALID},
			{"bad login", `{"login":"a b","password":"long enough pw","name":"N","role":"worker"}`, "application/json", 400, schemas.EINVALID},
			{"missing name", `{"login":"new.one","password":"long enough pw","role":"worker"}`, "application/json", 400, schemas.EINVALID},
			{"duplicate login", `{"login":"worker.h","password":"long enough pw","name":"N","role":"worker"}`, "application/json", 409, schemas.ECONFLICT},
		}},
		{"PATCH", "/v1/users/" + w.ID, at, []tc{
			{"disabled wrong type", `{"disabled":"yes"}`, "application/json", 400, schemas.EINVALID},
			{"nothing to update", `{}`, "application/json", 400, schemas.EINVALID},
			{"control chars in name", `{"name":"a\u0000b"}`, "application/json", 400, schemas.EINVALID},
			{"role is not patchable", `{"role":"admin"}`, "application/json", 400, schemas.EINVALID},
		}},
	}
	for _, ep := range endpoints {
		for _, c := range append(append([]tc{}, common...), ep.extra...) {
			t.Run(ep.method+" "+ep.path[:min(len(ep.path), 16)]+"/"+c.name, func(t *testing.T) {
				f.t = t
				f.do(ep.method, ep.path, c.body, ep.token, "Content-Type", c.ctype).wantError(c.status, c.code)
			})
		}
	}
	f.t = t
	// Nothing stored changed: the worker is as created and can still sign in.
	var got schemas.User
	f.do("GET", "/v1/users/"+w.ID, nil, at).want(200).decode(&got)
	if got.Role != schemas.RoleWorker || got.Disabled || got.Name != "worker.h" {
		t.Fatalf("worker changed by bad input: %+v", got)
	}
	f.login("worker.h", "phone")
}

// TestOversizeBody runs over a real listener: fasthttp enforces the body
// limit while reading the connection, before any handler.
func TestOversizeBody(t *testing.T) {
	f := newFixture(t)
	f.user("admin.e", schemas.RoleAdmin)
	w := f.user("worker.j", schemas.RoleWorker)
	at := f.login("admin.e", "office").AccessToken
	base := f.listen()
	oversize := `{"name":"` + strings.Repeat("a", bodyLimit) + `"}`
	for _, ep := range []struct{ method, path, token string }{
		{"POST", "/v1/auth/login", ""}, {"POST", "/v1/auth/refresh", ""},
		{"POST", "/v1/users", at}, {"PATCH", "/v1/users/" + w.ID, at},
	} {
		// A raw connection: the server answers 413 and closes before the
		// body is through, which an http.Client reports as a write error.
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", ep.method, ep.path, len(oversize))
		if ep.token != "" {
			head += "Authorization: Bearer " + ep.token + "\r\n"
		}
		go func() { _, _ = conn.Write([]byte(head + "\r\n" + oversize)) }()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", ep.method, ep.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		r := &result{t: t, status: resp.StatusCode, header: resp.Header, body: b}
		r.wantError(413, schemas.ETOOLARGE)
	}
	var got schemas.User
	f.do("GET", "/v1/users/"+w.ID, nil, at).want(200).decode(&got)
	if got.Name != "worker.j" {
		t.Fatalf("oversize PATCH changed the user: %+v", got)
	}
}

func TestRolesAndIDs(t *testing.T) {
	f := newFixture(t)
	f.user("admin.c", schemas.RoleAdmin)
	w := f.user("worker.i", schemas.RoleWorker)
	f.user("supervisor.a", schemas.RoleSupervisor)
	f.user("customer.a", schemas.RoleCustomer)
	at := f.login("admin.c", "office").AccessToken

	for _, login := range []string{"worker.i", "supervisor.a", "customer.a"} {
		tok := f.login(login, "phone").AccessToken
		f.do("GET", "/v1/users", nil, tok).wantError(403, schemas.EFORBIDDEN)
		f.do("GET", "/v1/users/"+w.ID, nil, tok).wantError(403, schemas.EFORBIDDEN)
		f.do("POST", "/v1/users", map[string]any{"login": "x.y.z", "password": "long enough pw", "name": "X", "role": "admin"}, tok).wantError(403, schemas.EFORBIDDEN)
		f.do("PATCH", "/v1/users/"+w.ID, map[string]any{"disabled": true}, tok).wantError(403, schemas.EFORBIDDEN)
	}
	f.do("GET", "/v1/users", nil, "").wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/users/"+schemas.NewID(), nil, at).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/users/not-an-id", nil, at).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/users/"+w.ID, nil, at).want(200)
	f.do("DELETE", "/v1/users/"+w.ID, nil, at).wantError(405, schemas.EMETHOD)
	f.do("GET", "/v1/nothing", nil, at).wantError(404, schemas.ENOTFOUND)
}

func TestListUsersPages(t *testing.T) {
	f := newFixture(t)
	f.user("admin.d", schemas.RoleAdmin)
	for _, l := range []string{"w.one", "w.two", "w.three", "w.four", "w.five"} {
		f.user(l, schemas.RoleWorker)
	}
	at := f.login("admin.d", "office").AccessToken
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var page struct {
			Items      []schemas.User `json:"items"`
			NextCursor string         `json:"nextCursor"`
		}
		f.do("GET", "/v1/users?role=worker&limit=2&after="+cursor, nil, at).want(200).decode(&page)
		for _, u := range page.Items {
			seen = append(seen, u.Login)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	sort.Strings(seen)
	if strings.Join(seen, ",") != "w.five,w.four,w.one,w.three,w.two" {
		t.Fatalf("pages gave %v", seen)
	}
	f.do("GET", "/v1/users?limit=0", nil, at).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/users?limit=abc", nil, at).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/users?role=root", nil, at).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/users?after=$gt", nil, at).wantError(400, schemas.EINVALID)
}

// TestOpenAPIMatchesRoutes: the document lists exactly the routes Fiber
// serves, and every operation documents its responses.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	f.do("GET", "/openapi.json", nil, "").want(200).decode(&doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if m == "head" {
				continue // compared with what Fiber serves, where HEAD is automatic
			}
			documented[strings.ToUpper(m)+" "+p] = true
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, p)
			}
		}
	}
	served := map[string]bool{}
	for _, r := range f.api.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" {
			continue // Fiber adds HEAD for every GET
		}
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[r.Method+" "+p] = true
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("served but not documented: %s", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("documented but not served: %s", k)
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes served: %v", len(served), served)
	}
	b, _ := json.Marshal(doc)
	if strings.Contains(string(b), "passwordHash") {
		t.Fatal("document exposes passwordHash")
	}
}

// TestPanicIsInternalError: a panicking handler answers 500 in the error
// shape without the panic's text, and the server keeps serving.
func TestPanicIsInternalError(t *testing.T) {
	f := newFixture(t)
	f.api.App().Get("/test-panic", func(*fiber.Ctx) error { panic("secret detail") })
	r := f.do("GET", "/test-panic", nil, "")
	r.wantError(500, schemas.EINTERNAL)
	if strings.Contains(string(r.body), "secret") {
		t.Fatalf("panic text leaked: %s", r.body)
	}
	f.do("GET", "/healthz", nil, "").want(200)
}
