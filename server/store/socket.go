package store

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// The embedded FerretDB has no authentication, so it listens on no network
// port: only on a Unix socket that only the server's user may reach (the
// socket 0600 in a 0700 directory). Any local process could otherwise read
// the password hashes or make itself an admin.

// maxSocketPath is the longest socket path every Unix takes: sun_path is
// 104 bytes on macOS and the BSDs (108 on Linux), with a closing NUL.
const maxSocketPath = 103

const socketName = "ferretdb.sock" // the driver takes a host ending in "sock" for a socket

// socketPath returns where the embedded store listens: DATA_DIR/socket/,
// or, when that path is too long for a socket, a directory of its own under
// the temporary directory (or /tmp), which cleanup removes.
func socketPath(dataDir string) (path string, cleanup func(), err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", nil, fmt.Errorf("data dir: %w", err)
	}
	dir := filepath.Join(abs, "socket")
	if len(filepath.Join(dir, socketName)) <= maxSocketPath {
		if err := privateDir(dir); err != nil {
			return "", nil, err
		}
		path = filepath.Join(dir, socketName)
		// A socket left by a crash: the data dir lock says no other
		// process of ours is using it.
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return "", nil, fmt.Errorf("remove stale store socket: %w", err)
		}
		return path, func() {}, nil
	}
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		// MkdirTemp makes a fresh directory, 0700, with a name no one
		// could have prepared.
		tmp, err := os.MkdirTemp(parent, "fieldsync-")
		if err != nil {
			continue
		}
		if path = filepath.Join(tmp, socketName); len(path) <= maxSocketPath {
			return path, func() { _ = os.RemoveAll(tmp) }, nil
		}
		_ = os.RemoveAll(tmp)
	}
	return "", nil, fmt.Errorf("no directory short enough for the store socket (DATA_DIR %s is too long)", abs)
}

// privateDir creates dir, or narrows an existing one, to the server's user.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket dir %s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	return nil
}

// socketURI is the driver's URI for a Unix socket: the path, escaped, as
// the host.
func socketURI(path string) string { return "mongodb://" + url.QueryEscape(path) + "/" }
