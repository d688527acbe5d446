package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/store"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a settable time source; tests move it instead of sleeping. It
// answers in the machine's zone, as time.Now does, so the suite run with
// TZ set catches a time formatted or compared in the local zone.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t.In(time.Local) }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const (
	testIssuer   = "fieldsync"
	testAudience = "fieldsync-api"
	testPassword = "correct horse battery"
	testGrace    = 30 * time.Second // REFRESH_GRACE
	bodyLimit    = 64 << 10
)

var testKey = auth.NewKey([]byte("test-secret-test-secret-test-secret!"))

type fixture struct {
	t        *testing.T
	db       *store.Store
	api      *api.API
	auth     *auth.Service
	office   *office.Service
	sync     *fsync.Engine
	presence *fsync.Presence
	clock    *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// Tuesday 17:00 in Shanghai; derive test times from f.clock, not dates.
	clk := &clock{t: storetest.Epoch}
	db := storetest.New(t, clk.Now)
	// Every fixture run is also a leak test: nothing it stored may carry
	// the real date (runs before the database is dropped).
	t.Cleanup(func() { storetest.CheckNoWallClock(t, db) })
	tokens := auth.NewTokens(testKey, nil, testIssuer, testAudience, 15*time.Minute, clk.Now)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	svc := auth.NewService(db.Accounts, tokens, auth.Config{RefreshTTL: 30 * 24 * time.Hour, RefreshGrace: testGrace, LoginPerAccount: 5, LoginPerIP: 1000}, clk.Now, log)
	off := office.New(db, clk.Now, log, 28*24*time.Hour)
	presence := fsync.NewPresence([][]byte{[]byte("presence-test-key-0123456789abcd")}, 5*time.Minute)
	eng := fsync.New(db, clk.Now, log, fsync.DefaultRules, fsync.Limits{MaxOps: 100, TimeBudget: 15 * time.Second}, presence)
	eng.SetReworkHook(off)
	eng.SetAcceptHook(off)
	eng.SetVisitChecker(func(ctx context.Context, a *schemas.Actor, visitID string) (bool, error) {
		_, err := off.Visit(ctx, a, visitID)
		if schemas.ErrorCode(err) == schemas.ENOTFOUND {
			return false, nil
		}
		return err == nil, err
	})
	a := api.New(api.Config{BodyLimit: bodyLimit, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, RequestTimeout: 20 * time.Second},
		api.Deps{Auth: svc, Office: off, Sync: eng, Presence: presence, Outbox: push.NewOutbox(db.Push), Targets: push.NewTargets(db.Push),
			Store: db, Log: log, Now: clk.Now})
	return &fixture{t: t, db: db, api: a, auth: svc, office: off, sync: eng, presence: presence, clock: clk}
}

// newID is an id made now on the fixture clock, as the office or a phone
// makes one (schemas.NewID would carry the real date into the store).
func (f *fixture) newID() string { return schemas.NewIDAt(f.clock.Now()) }

// user creates an account with testPassword.
func (f *fixture) user(login string, role schemas.Role) *schemas.User {
	f.t.Helper()
	u, err := f.auth.CreateUser(f.t.Context(), schemas.NewUser{Login: login, Password: testPassword, Name: login, Role: role})
	if err != nil {
		f.t.Fatalf("create user %s: %v", login, err)
	}
	return u
}

// login signs in and returns the token pair, failing the test otherwise.
func (f *fixture) login(login, device string) auth.TokenPair {
	f.t.Helper()
	var pair auth.TokenPair
	res := f.do("POST", "/v1/auth/login", map[string]any{"login": login, "password": testPassword, "deviceId": device}, "")
	res.want(200).decode(&pair)
	if pair.AccessToken == "" || pair.RefreshToken == "" {
		f.t.Fatalf("login %s: empty tokens: %s", login, res.body)
	}
	return pair
}

// listen serves the app on a loopback port until the test ends and
// returns its base URL.
func (f *fixture) listen() string {
	f.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	go func() { _ = f.api.App().Listener(ln) }()
	f.t.Cleanup(func() { _ = f.api.App().Shutdown() })
	return "http://" + ln.Addr().String()
}

type result struct {
	t      *testing.T
	status int
	header http.Header
	body   []byte
}

// do sends a request: body may be nil, a string (sent as is) or a value
// (sent as JSON).
func (f *fixture) do(method, path string, body any, token string, headers ...string) *result {
	f.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		raw = j
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.api.App().Test(req, -1)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	f.checkContract(method, path, req.Header, raw, resp.StatusCode, resp.Header, b)
	return &result{t: f.t, status: resp.StatusCode, header: resp.Header, body: b}
}

func (r *result) want(status int) *result {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func (r *result) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// wantError checks the status and that the body is the one error shape
// with the code; it returns the error for further checks.
func (r *result) wantError(status int, code string) api.ErrorDetail {
	r.t.Helper()
	r.want(status)
	var eb api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		r.t.Fatalf("error body %s is not the error shape: %v", r.body, err)
	}
	if eb.Error.Code != code {
		r.t.Fatalf("error code %q, want %q; body %s", eb.Error.Code, code, r.body)
	}
	if eb.Error.Message == "" || eb.Error.RequestID == "" {
		r.t.Fatalf("error without message or request id: %s", r.body)
	}
	return eb.Error
}
