//go:build !linux

package real

import "os"

// fdatasync falls back to fsync(2) where fdatasync(2) is not available.
func fdatasync(f *os.File) error { return f.Sync() }
