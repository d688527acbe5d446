package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

// fixedNow is the servers' clock in these tests: years from the real date,
// so a time taken from the wall clock stands out, and in the machine's zone
// as time.Now is.
func fixedNow() time.Time { return storetest.Epoch.In(time.Local) }

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func testConfig(t *testing.T, dataDir string, extra map[string]string) Config {
	t.Helper()
	m := map[string]string{"PORT": "0", "DATA_DIR": dataDir, "DRAIN_DELAY": "0"}
	for k, v := range extra {
		m[k] = v
	}
	cfg, err := LoadConfig(env(m))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestStartRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, map[string]string{"ADMIN_LOGIN": "boss", "ADMIN_PASSWORD": "boss password 1"})
	log := slog.New(slog.DiscardHandler)
	ctx := t.Context()

	srv, err := Start(ctx, cfg, log, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	if st, _ := call(t, "GET", base+"/readyz", "", nil); st != 200 {
		t.Fatalf("readyz = %d", st)
	}
	st, tok := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "boss", "password": "boss password 1", "deviceId": "pc"})
	if st != 200 {
		t.Fatalf("login = %d %v", st, tok)
	}
	access := tok["accessToken"].(string)
	st, created := call(t, "POST", base+"/v1/users", access, map[string]any{"login": "w.keep", "password": "worker password", "name": "W", "role": "worker"})
	if st != 201 {
		t.Fatalf("create = %d %v", st, created)
	}
	if err := srv.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Same DATA_DIR: the data, the signing key and the sessions survive.
	srv, err = Start(ctx, cfg, log, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(10 * time.Second)
	base = "http://" + srv.Addr()
	if st, _ := call(t, "GET", base+"/v1/users/"+created["id"].(string), access, nil); st != 200 {
		t.Fatalf("user after restart = %d", st)
	}
}

// TestTwoServersOnOneDataDir: the embedded store is SQLite, which locks
// its own file, and fieldsync is built for several instances on one store,
// so a second server on the same DATA_DIR (or `fieldsync backup` while one
// serves) is one more instance: both serve the same data.
func TestTwoServersOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, nil)
	log := slog.New(slog.DiscardHandler)
	srv, err := Start(t.Context(), cfg, log, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(10 * time.Second)
	s2, err := Start(t.Context(), cfg, log, fixedNow)
	if err != nil {
		t.Fatalf("a second server on the same DATA_DIR: %v", err)
	}
	defer s2.Shutdown(10 * time.Second)
	u := &schemas.User{ID: schemas.NewIDAt(fixedNow()), Login: "w.two", Name: "W", Role: schemas.RoleWorker, CreatedAt: fixedNow(), UpdatedAt: fixedNow()}
	if err := srv.Store.Accounts.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Store.Accounts.UserByLogin(t.Context(), "w.two"); err != nil || got.ID != u.ID {
		t.Fatalf("the other server reads %+v, %v", got, err)
	}
}

func TestGeneratedAdminPasswordShownOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, nil)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv, err := Start(t.Context(), cfg, log, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`one-time password.* login=admin password=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no one-time password in log:\n%s", logs.String())
	}
	st, _ := call(t, "POST", "http://"+srv.Addr()+"/v1/auth/login", "", map[string]any{"login": "admin", "password": m[1], "deviceId": "pc"})
	if st != 200 {
		t.Fatalf("login with the one-time password = %d", st)
	}
	if strings.Count(logs.String(), m[1]) != 1 {
		t.Fatal("password logged more than once")
	}
	srv.Shutdown(10 * time.Second)

	logs = syncBuffer{}
	srv, err = Start(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(10 * time.Second)
	if strings.Contains(logs.String(), "password=") {
		t.Fatalf("second start logged a password:\n%s", logs.String())
	}
}

func TestDemoSeedsOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, map[string]string{"DEMO": "1"})
	log := slog.New(slog.DiscardHandler)
	for range 2 {
		srv, err := Start(t.Context(), cfg, log, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		users, err := srv.Store.Accounts.ListUsers(t.Context(), store.UserFilter{Limit: 200})
		week, verr := srv.Store.Visits.List(t.Context(), store.VisitFilter{From: fixedNow(), To: fixedNow().Add(7 * 24 * time.Hour)})
		all, _ := srv.Store.Visits.List(t.Context(), store.VisitFilter{})
		storetest.CheckNoWallClock(t, srv.Store) // the demo data is stamped with the clock too
		srv.Shutdown(10 * time.Second)
		if verr != nil {
			t.Fatal(verr)
		}
		// 16 schedules of two visits a week; a week from now holds 32 give or
		// take the edges, and a restart generates nothing twice.
		if len(week) < 24 || len(all) > 16*2*5 {
			t.Fatalf("demo visits: %d in the next week, %d in all", len(week), len(all))
		}
		for _, u := range users {
			if u.Role == schemas.RoleWorker && u.WorkerID == "" || u.Role == schemas.RoleCustomer && u.CustomerID == "" {
				t.Fatalf("demo account %s is not linked to its record", u.Login)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		count := map[schemas.Role]int{}
		for _, u := range users {
			count[u.Role]++
		}
		// The first admin plus demo.admin, 2 supervisors, 8 workers, 20 customers.
		if count[schemas.RoleAdmin] != 2 || count[schemas.RoleSupervisor] != 2 || count[schemas.RoleWorker] != 8 || count[schemas.RoleCustomer] != 20 {
			t.Fatalf("demo accounts = %v", count)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := LoadConfig(env(map[string]string{
		"PORT": "http", "LOG_LEVEL": "loud", "ACCESS_TOKEN_TTL": "forever", "JWT_SECRET": "short",
		"DEMO": "maybe", "MONGODB_URI": "postgres://x", "BODY_LIMIT_BYTES": "-1", "WORK_DAYS": "1,9", "WORK_HOURS": "18:00-09:00",
		"REFRESH_GRACE": "-1s",
	}))
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, key := range []string{"PORT", "LOG_LEVEL", "ACCESS_TOKEN_TTL", "JWT_SECRET", "DEMO", "MONGODB_URI", "BODY_LIMIT_BYTES", "WORK_DAYS", "REFRESH_GRACE"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8080 || cfg.DataDir != "./data" || cfg.MongoDB != "fieldsync" || cfg.AccessTTL != 15*time.Minute || cfg.RefreshGrace != 30*time.Second {
		t.Fatalf("defaults = %+v", cfg)
	}
	secret := "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
	cfg, _ = LoadConfig(env(map[string]string{"JWT_SECRET": secret, "MONGODB_URI": "mongodb://u:pw@h/db"}))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "config", cfg)
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), ":pw@") {
		t.Fatalf("config log leaks a secret: %s", logs.String())
	}
}
