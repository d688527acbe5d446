package store_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fieldsync/server/store"
	"fieldsync/server/store/storetest"
)

func openEmbedded(t *testing.T, dataDir string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), store.Options{DBName: "socket_test", DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o, want %o", path, got, want)
	}
}

// TestStoreSocket: the embedded store listens on a Unix socket in
// DATA_DIR/socket, 0600 in 0700 (narrowed if the directory was wider),
// over a socket a crash left behind, and on no TCP port.
func TestStoreSocket(t *testing.T) {
	dir := t.TempDir()
	sockDir := filepath.Join(dir, "socket")
	if err := os.MkdirAll(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sockDir, "ferretdb.sock"), nil, 0o644); err != nil { // left by a crash
		t.Fatal(err)
	}
	db := openEmbedded(t, dir)
	defer db.Close(t.Context())
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := db.Socket(); got != filepath.Join(sockDir, "ferretdb.sock") {
		t.Errorf("socket %q, want it in %s", got, sockDir)
	}
	wantMode(t, db.Socket(), 0o600)
	wantMode(t, sockDir, 0o700)
	// This binary runs two embedded stores (this one and the shared one)
	// and no HTTP server.
	storetest.Shared(t)
	ports, err := storetest.ListeningTCPPorts()
	if errors.Is(err, storetest.ErrNoProcNet) {
		t.Log("no /proc/net: TCP ports not checked")
	} else if err != nil || len(ports) > 0 {
		t.Errorf("listening TCP ports %v (%v), want none", ports, err)
	}
}

// TestStoreSocketFallsBackWhenDataDirIsLong: a socket path has at most 103
// bytes on every Unix; past that the socket goes to a fresh private
// directory under the temporary directory, removed on Close.
func TestStoreSocketFallsBackWhenDataDirIsLong(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	db := openEmbedded(t, dir)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	sock := db.Socket()
	if len(sock) > 103 || strings.HasPrefix(sock, dir) {
		t.Errorf("socket %q (%d bytes) for DATA_DIR %s", sock, len(sock), dir)
	}
	wantMode(t, sock, 0o600)
	wantMode(t, filepath.Dir(sock), 0o700)
	if err := db.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("socket dir %s left after Close (%v)", filepath.Dir(sock), err)
	}
}
