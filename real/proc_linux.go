package real

import "syscall"

// childProcAttr makes a server process die with the process that started
// it (a test binary or `zoosim ensemble` that is killed leaves nothing
// behind).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
