//go:build unix

package app

import (
	"os"
	"syscall"
)

// ownerUID is the uid owning the file.
func ownerUID(fi os.FileInfo) (int, bool) {
	if fi == nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
