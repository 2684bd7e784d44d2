package raft

import (
	"fmt"

	etcdraft "go.etcd.io/raft/v3"
)

// quietLogger discards raft's log lines (its default logger is global and
// writes to stderr) and turns its panics and fatal errors into panics that
// name raft, which the harness reports as a failing seed.
type quietLogger struct{ id uint64 }

var _ etcdraft.Logger = quietLogger{}

func (quietLogger) Debug(...any)            {}
func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Info(...any)             {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Warning(...any)          {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Error(...any)            {}
func (quietLogger) Errorf(string, ...any)   {}

func (l quietLogger) Fatal(v ...any)                 { l.Panic(v...) }
func (l quietLogger) Fatalf(format string, v ...any) { l.Panicf(format, v...) }
func (l quietLogger) Panic(v ...any) {
	panic(fmt.Sprintf("raft: invariant violated on server %d: %s", l.id, fmt.Sprint(v...)))
}
func (l quietLogger) Panicf(format string, v ...any) {
	panic(fmt.Sprintf("raft: invariant violated on server %d: %s", l.id, fmt.Sprintf(format, v...)))
}
