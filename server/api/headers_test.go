package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"fieldsync/schemas"
)

// TestSecurityHeaders: every response says nosniff, including errors and
// those made before any middleware ran (an oversize body); every API
// response under /v1 says no-store, personal data and tokens alike.
func TestSecurityHeaders(t *testing.T) {
	w := newWorld(t)
	f := w.f
	for _, c := range []struct {
		method, path string
		body         any
		token        string
		status       int
		noStore      bool
	}{
		{"GET", "/healthz", nil, "", 200, false},
		{"GET", "/openapi.json", nil, "", 200, false},
		{"GET", "/nowhere", nil, "", 404, false},
		{"POST", "/v1/auth/login", map[string]any{"login": "cu.one", "password": testPassword, "deviceId": "p"}, "", 200, true},
		{"POST", "/v1/auth/login", `{`, "", 400, true},
		{"GET", "/v1/me", nil, w.cu1, 200, true},
		{"GET", "/v1/me", nil, "", 401, true},
		{"GET", "/v1/visits", nil, w.wk1, 200, true},
		{"GET", "/v1/visits/" + w.v1.ID, nil, w.cu1, 200, true},
		{"GET", "/v1/customers/" + w.c1.ID, nil, w.cu1, 200, true},
		{"GET", "/v1/customers/" + w.c2.ID, nil, w.cu1, 404, true},
		{"GET", "/v1/users", nil, w.cu1, 403, true},
		{"GET", "/v1/alerts", nil, w.s1, 200, true},
	} {
		r := f.do(c.method, c.path, c.body, c.token).want(c.status)
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q", c.method, c.path, got)
		}
		if got := r.header.Get("Cache-Control"); c.noStore != (got == "no-store") {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, got)
		}
	}
	// An error Fiber raises while reading the request, before middleware.
	base := f.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := strings.Repeat("a", bodyLimit+1)
	go func() {
		_, _ = fmt.Fprintf(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	(&result{t: t, status: resp.StatusCode, header: resp.Header, body: b}).wantError(413, schemas.ETOOLARGE)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("413 before middleware without nosniff: %v", resp.Header)
	}
}
