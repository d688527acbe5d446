package app

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fieldsync/store/storetest"
)

// TestEmbeddedStoreListensOnNoPort: the embedded store is SQLite in the
// process, with no authentication of its own, so it must be reachable
// through nothing but the file: with the server up on it, the only TCP
// port the process listens on is the HTTP one, no socket file exists under
// the data directory, and the store's files are the owner's alone.
func TestEmbeddedStoreListensOnNoPort(t *testing.T) {
	before, err := storetest.ListeningTCPPorts()
	if errors.Is(err, storetest.ErrNoProcNet) {
		t.Skip("needs /proc/net (Linux)")
	}
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cfg := testConfig(t, t.TempDir(), nil)
	srv, err := Start(t.Context(), cfg, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(10 * time.Second)
	_, p, _ := net.SplitHostPort(srv.Addr())
	httpPort, _ := strconv.Atoi(p)

	// Ports open before the start (an earlier test's) are not the server's.
	after, err := storetest.ListeningTCPPorts()
	if err != nil {
		t.Fatal(err)
	}
	opened := slices.DeleteFunc(after, func(p int) bool { return slices.Contains(before, p) })
	if !slices.Equal(opened, []int{httpPort}) {
		t.Errorf("the server listens on TCP ports %v, want only HTTP's %d", opened, httpPort)
	}

	if !srv.Store.Embedded() {
		t.Fatal("not on the embedded store")
	}
	dir := cfg.DataDir
	for _, name := range []string{"fieldsync.db", "fieldsync.db-wal", "fieldsync.db-shm", "data.key"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v (%v); want mode 600, the owner's alone", name, fi.Mode().Perm(), err)
		}
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSocket != 0 {
			t.Errorf("%s is a socket", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "mongodb://") {
		t.Errorf("log names a store address: %s", logs.String())
	}
}
