package real

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one child process at a time, restartable: what a local
// zoosim server and an Apache ZooKeeper server share. Its methods are
// safe from any goroutine.
type process struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// runningLocked reports whether a process runs; p.mu is held.
func (p *process) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start runs the command made by mk, its output appended to the file at
// log, unless a process runs already. mk's errors and Start's are
// returned as they are, for the caller to wrap.
func (p *process) start(log string, mk func() *exec.Cmd) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		return nil
	}
	logf, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := mk()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.err = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Running reports whether the process runs (a stopped one does).
func (p *process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

// Signal sends sig to the process if it runs.
func (p *process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(sig)
	}
}

// Kill SIGKILLs the process (a stopped one too) and waits up to a minute
// for it to be gone.
func (p *process) Kill() {
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGKILL)
	p.Wait(time.Minute)
}

// Wait waits up to d for the process to exit and reports whether it has
// (true also when it never ran).
func (p *process) Wait(d time.Duration) bool {
	exited := p.Exited()
	if exited == nil {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-exited:
		return true
	case <-t.C:
		return false
	}
}

// Exited returns a channel closed when the current process exits (nil if
// none was started).
func (p *process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// ExitErr is the last process's exit error (nil while it runs or after a
// clean exit; a process killed by a signal reports it).
func (p *process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Pid is the process id of the running process (0 if none runs).
func (p *process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
