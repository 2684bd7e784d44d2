//go:build !linux

package real

import "syscall"

// childProcAttr: no parent-death signal outside Linux; Stop and the
// callers' cleanups end the processes.
func childProcAttr() *syscall.SysProcAttr { return nil }
