package app

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// engineConfig is testConfig on the engine the suite runs on: with
// FIELDSYNC_TEST_STORE=mongo, a MongoDB database of the test's own (the
// data directory still holds the generated keys).
func engineConfig(t *testing.T, dataDir string, extra map[string]string) Config {
	t.Helper()
	m := map[string]string{}
	if uri, _ := storetest.URI(t); uri != "" {
		m["FIELDSYNC_MONGODB_URI"] = uri
		m["FIELDSYNC_MONGODB_DB"] = fmt.Sprintf("app%d_%d", os.Getpid(), time.Now().UnixNano())
	}
	for k, v := range extra {
		m[k] = v
	}
	return testConfig(t, dataDir, m)
}

func otherKey() string {
	return base64.StdEncoding.EncodeToString([]byte("an entirely different data key!!"))
}

// TestStartRefusesMissingOrWrongDataKey: the first start generates
// data.key and says so loudly; a later start whose key file is gone, or
// that is given another key, is refused with what to do, and leaves the
// data as it was: with the right key it starts and reads the customer.
func TestStartRefusesMissingOrWrongDataKey(t *testing.T) {
	dir := t.TempDir()
	cfg := engineConfig(t, dir, map[string]string{"FIELDSYNC_ADMIN_PASSWORD": "boss password 1"})
	var logs syncBuffer
	srv, err := Start(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Store.Embedded() == storetest.Mongo() {
		t.Fatalf("not on the suite's engine (embedded: %v)", srv.Store.Embedded())
	}
	keyFile := filepath.Join(dir, "data.key")
	if !strings.Contains(logs.String(), "NEW DATA KEY") || !strings.Contains(logs.String(), keyFile) {
		t.Errorf("the generated key is not announced with its file:\n%s", logs.String())
	}
	cu := &schemas.Customer{ID: schemas.NewIDAt(fixedNow()), CustomerInput: schemas.CustomerInput{Name: "C", Phone: "+8613912345678", Team: "team-1"}, Version: 1, CreatedAt: fixedNow(), UpdatedAt: fixedNow()}
	if err := srv.Store.Office.InsertCustomer(t.Context(), cu); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(10 * time.Second)
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	// The key file is gone: refused, and the key made meanwhile set aside.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	_, err = Start(t.Context(), cfg, slog.New(slog.DiscardHandler), fixedNow)
	if err == nil || !strings.Contains(err.Error(), "no data key at "+keyFile) || !strings.Contains(err.Error(), "Put the old data.key back") {
		t.Fatalf("start without the key file: %v", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("a refused start left a key at %s: %v", keyFile, err)
	}
	if _, err := os.Stat(keyFile + ".unused"); err != nil {
		t.Fatalf("the key made by the refused start: %v", err)
	}

	// Another key: refused, naming where the key is read from.
	wrong := engineConfig(t, dir, map[string]string{"FIELDSYNC_DATA_KEY": otherKey()})
	wrong.MongoDB = cfg.MongoDB
	_, err = Start(t.Context(), wrong, slog.New(slog.DiscardHandler), fixedNow)
	if err == nil || !strings.Contains(err.Error(), "wrong data key") || !strings.Contains(err.Error(), "FIELDSYNC_DATA_KEY variable") {
		t.Fatalf("start with another key: %v", err)
	}

	// The right key, put back: it starts, quietly, and the phone opens.
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	logs = syncBuffer{}
	srv, err = Start(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), fixedNow)
	if err != nil {
		t.Fatalf("start with the key back: %v", err)
	}
	defer srv.Shutdown(10 * time.Second)
	if strings.Contains(logs.String(), "NEW DATA KEY") {
		t.Errorf("a start with its key announced a new one:\n%s", logs.String())
	}
	got, err := srv.Store.Office.Customer(t.Context(), cu.ID)
	if err != nil || got.Phone != cu.Phone {
		t.Fatalf("the customer with the right key: %+v, %v", got, err)
	}
}

// TestResetAdminPassword: on a serving store (either engine), the reset
// sets a new password (generated, or given), enables the account, ends its
// sessions and is in the audit trail; an unknown login is refused, naming
// the admins.
func TestResetAdminPassword(t *testing.T) {
	cfg := engineConfig(t, t.TempDir(), map[string]string{"FIELDSYNC_ADMIN_LOGIN": "boss", "FIELDSYNC_ADMIN_PASSWORD": "boss password 1"})
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(10 * time.Second)
	base := "http://" + srv.Addr()
	login := func(pw string) (int, string) {
		st, tok := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "boss", "password": pw, "deviceId": "pc"})
		access, _ := tok["accessToken"].(string)
		return st, access
	}
	st, access := login("boss password 1")
	if st != 200 {
		t.Fatalf("login = %d", st)
	}
	boss, _ := srv.Store.Accounts.UserByLogin(t.Context(), "boss")
	disabled := true
	if _, err := srv.Auth.UpdateUser(t.Context(), boss.ID, schemas.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}

	name, pw, err := ResetAdminPassword(t.Context(), cfg, Reset{By: "tester on box"}, fixedNow)
	if err != nil || name != "boss" || len(pw) < 15 {
		t.Fatalf("reset = %q %q, %v", name, pw, err)
	}
	if st, _ := login("boss password 1"); st != 401 {
		t.Errorf("the old password after the reset: %d, want 401", st)
	}
	if st, _ := login(pw); st != 200 {
		t.Errorf("the new password on the disabled account: %d, want 200 (the reset enables it)", st)
	}
	if st, _ := call(t, "GET", base+"/v1/users/"+boss.ID, access, nil); st != 401 {
		t.Errorf("a session from before the reset: %d, want 401", st)
	}
	trail, err := srv.Store.Audit.Trail(t.Context(), schemas.EntityUser, boss.ID, 0, 10)
	if err != nil || len(trail) != 1 || trail[0].Action != "reset_password" || !strings.Contains(trail[0].Note, "tester on box") || len(trail[0].Changes) != 2 {
		t.Fatalf("audit trail: %+v, %v", trail, err)
	}
	if !trail[0].At.Equal(fixedNow().UTC()) {
		t.Errorf("audited at %s, not by the clock", trail[0].At)
	}

	if _, _, err := ResetAdminPassword(t.Context(), cfg, Reset{Login: "boss", Password: "chosen password 2"}, fixedNow); err != nil {
		t.Fatal(err)
	}
	if st, _ := login("chosen password 2"); st != 200 {
		t.Errorf("the given password: %d", st)
	}
	if _, _, err := ResetAdminPassword(t.Context(), cfg, Reset{Login: "boss", Password: "short"}, fixedNow); schemas.ErrorCode(err) != schemas.EINVALID {
		t.Errorf("a short password: %v", err)
	}
	_, _, err = ResetAdminPassword(t.Context(), cfg, Reset{Login: "nobody"}, fixedNow)
	if err == nil || !strings.Contains(err.Error(), "nobody") || !strings.Contains(err.Error(), "admins: boss") {
		t.Errorf("an unknown login: %v", err)
	}
}
