package store_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStoreSocketRefusesOtherUsers: another local user cannot connect to
// the embedded store, and it is the socket's modes that stop them (with
// the modes widened, the same probe gets in). Runs as root on Linux, where
// it can start the probe as nobody.
func TestStoreSocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root on Linux to probe as another user")
	}
	// Traversable by anyone, so only the store's own modes stand in the way.
	dir, err := os.MkdirTemp("", "fieldsync-probe-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := openEmbedded(t, dir)
	defer db.Close(t.Context())
	probe := func() string {
		t.Helper()
		cmd := exec.Command("/proc/self/exe", "-test.run=^TestSocketProbe$", "-test.v")
		cmd.Env = append(os.Environ(), "FIELDSYNC_SOCKET_PROBE="+db.Socket())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe as nobody: %v: %s", err, out)
		}
		return string(out)
	}
	if out := probe(); !strings.Contains(out, "probe: refused") || !strings.Contains(out, "permission denied") {
		t.Errorf("another user's probe: %s", out)
	}
	// Control: widened, the same probe connects.
	if err := os.Chmod(filepath.Dir(db.Socket()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db.Socket(), 0o666); err != nil {
		t.Fatal(err)
	}
	if out := probe(); !strings.Contains(out, "probe: connected") {
		t.Errorf("probe through widened modes: %s", out)
	}
}

// TestSocketProbe is the probe TestStoreSocketRefusesOtherUsers starts.
func TestSocketProbe(t *testing.T) {
	path := os.Getenv("FIELDSYNC_SOCKET_PROBE")
	if path == "" {
		t.Skip("started by TestStoreSocketRefusesOtherUsers")
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("probe: refused:", err)
		return
	}
	c.Close()
	fmt.Println("probe: connected")
}
