package storetest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoProcNet means the system has no /proc/net (not Linux).
var ErrNoProcNet = errors.New("no /proc/net/tcp")

// ListeningTCPPorts lists the TCP ports this process listens on, IPv4 and
// IPv6: its socket inodes (/proc/self/fd) matched against the LISTEN
// entries of /proc/net/tcp and /proc/net/tcp6.
func ListeningTCPPorts() ([]int, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, ErrNoProcNet
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			mine[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if os.IsNotExist(err) && table == "/proc/net/tcp6" {
			continue // no IPv6
		}
		if err != nil {
			return nil, ErrNoProcNet
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
			cols := strings.Fields(sc.Text())
			if len(cols) < 10 || cols[3] != "0A" || !mine[cols[9]] { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(cols[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: bad local address %q", table, cols[1])
			}
			ports = append(ports, int(port))
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
	}
	slices.Sort(ports)
	return ports, nil
}
