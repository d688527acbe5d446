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

	"fieldsync/server/store/storetest"
)

// TestEmbeddedStoreListensOnNoPort: the embedded FerretDB has no
// authentication, so a loopback port would let any local process read the
// password hashes and make itself an admin. With the server up on the
// embedded store, the only TCP port the process listens on is the HTTP
// one; the store's Unix socket is 0600 in a 0700 directory, and the log
// names no address to connect to.
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
	srv, err := Start(t.Context(), testConfig(t, t.TempDir(), nil), log, time.Now)
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

	sock := srv.Store.Socket()
	if sock == "" {
		t.Fatal("embedded store has no socket")
	}
	for path, want := range map[string]os.FileMode{sock: 0o600, filepath.Dir(sock): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o, want %o", path, got, want)
		}
	}
	if fi, _ := os.Stat(sock); fi == nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a socket", sock)
	}
	for _, addr := range []string{"mongodb://", "127.0.0.1:", sock} {
		if strings.Contains(logs.String(), addr) {
			t.Errorf("log names the store's address (%q): %s", addr, logs.String())
		}
	}
}
