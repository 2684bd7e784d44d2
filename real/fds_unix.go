//go:build unix

package real

import (
	"os"
	"syscall"
)

// openFiles counts the process's open file descriptors (where /proc has
// them).
func openFiles() (int, bool) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(entries), true
}

// maxFiles is the process's file descriptor limit.
func maxFiles() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return r.Cur, true
}
