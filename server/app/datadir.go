package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkDataDir makes the data directory if it is missing and checks that
// this process can write in it, so that a directory it cannot write (a
// bind mount owned by another user, as a host folder mounted on the
// image's /data) stops the start with what to do, rather than failing
// later on the store's first write.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataDirError(dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return dataDirError(dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

func dataDirError(dir string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("data directory %s (%sDATA_DIR): %w", dir, EnvPrefix, err)
	}
	// The directory, or its nearest existing parent when it is missing.
	at := dir
	fi, serr := os.Stat(at)
	for serr != nil && filepath.Dir(at) != at {
		at = filepath.Dir(at)
		fi, serr = os.Stat(at)
	}
	uid, gid := os.Getuid(), os.Getgid()
	owner := "another user"
	if o, ok := ownerUID(fi); serr == nil && ok {
		owner = fmt.Sprintf("uid %d", o)
	}
	return fmt.Errorf("data directory %s (%sDATA_DIR) is not writable by this process, which runs as uid %d (gid %d): %s is owned by %s. "+
		"Give it to this user (on the host: chown -R %d:%d %s), or run the server as its owner (docker run --user UID:GID), or use a named volume: %w",
		dir, EnvPrefix, uid, gid, at, owner, uid, gid, at, err)
}
