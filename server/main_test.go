package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fieldsync/server/app"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// env is an environment (as os.Environ) of the variables in m.
func env(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
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

func TestRunRefusesBadConfig(t *testing.T) {
	var out bytes.Buffer
	if code := run(t.Context(), nil, env(map[string]string{"PORT": "x"}), io.Discard, &out); code != 2 {
		t.Fatalf("run with bad config = %d, want 2", code)
	}
	if !strings.Contains(out.String(), "PORT") {
		t.Fatalf("run did not explain: %s", out.String())
	}
}

// TestRunStopsCleanlyOnSignal: run serves until its context ends (SIGTERM
// in main), then drains and exits 0.
func TestRunStopsCleanlyOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, env(map[string]string{"PORT": "0", "DATA_DIR": t.TempDir()}), io.Discard, &logs)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "fieldsync listening") {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in log:\n%s", logs.String())
	}
}

// TestBinaryHasNoFerretDB: FerretDB is only the tests' stand-in for
// MongoDB; the program that ships links SQLite and the MongoDB driver, not
// it (nor the database drivers it brought).
func TestBinaryHasNoFerretDB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), "fieldsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, mod := range []string{"github.com/FerretDB/", "github.com/go-sql-driver/mysql", "github.com/jackc/pgx", "SAP/go-hdb"} {
		if strings.Contains(string(out), mod) {
			t.Errorf("the binary links %s", mod)
		}
	}
	if !strings.Contains(string(out), "modernc.org/sqlite") {
		t.Errorf("the binary does not link modernc.org/sqlite:\n%s", out)
	}
}

// TestBackupWhileServing: `fieldsync backup FILE` copies the store while
// the server runs on it, and the copy, put in a data directory of its own
// with the data key, serves the same accounts.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PORT": "0", "DATA_DIR": dir, "ADMIN_LOGIN": "boss", "ADMIN_PASSWORD": "boss password 1"}
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, env(vars), io.Discard, &logs) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "fieldsync listening") {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	file := filepath.Join(t.TempDir(), "copy.db")
	var out bytes.Buffer
	if code := run(t.Context(), []string{"backup", file}, env(vars), io.Discard, &out); code != 0 {
		t.Fatalf("backup = %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "data.key")) {
		t.Errorf("backup does not name the data key to keep:\n%s", out.String())
	}
	if code := run(t.Context(), []string{"backup", file}, env(vars), io.Discard, &out); code != 1 {
		t.Errorf("a backup over an existing file = %d, want 1", code)
	}

	// Restore: the copy and the key in a new data directory.
	restored := t.TempDir()
	copyFile(t, file, filepath.Join(restored, "fieldsync.db"))
	copyFile(t, filepath.Join(dir, "data.key"), filepath.Join(restored, "data.key"))
	copyFile(t, filepath.Join(dir, "jwt.key"), filepath.Join(restored, "jwt.key"))
	cfg, err := app.LoadConfig(func(k string) string { return map[string]string{"PORT": "0", "DATA_DIR": restored}[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := app.Start(t.Context(), cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatalf("start on the restored copy: %v", err)
	}
	defer srv.Shutdown(10 * time.Second)
	u, err := srv.Store.Accounts.UserByLogin(t.Context(), "boss")
	if err != nil || u.Role != "admin" {
		t.Fatalf("the admin in the restored copy: %+v, %v", u, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRunOpenAPI: `fieldsync openapi` prints the document and opens no
// store (DATA_DIR points nowhere writable).
func TestRunOpenAPI(t *testing.T) {
	var out, errs bytes.Buffer
	vars := env(map[string]string{"DATA_DIR": "/nonexistent/fieldsync", "PORT": "x"})
	if code := run(t.Context(), []string{"openapi"}, vars, &out, &errs); code != 0 {
		t.Fatalf("openapi = %d: %s", code, errs.String())
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths["/v1/sync/push"] == nil {
		t.Fatalf("not the document: openapi=%q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
