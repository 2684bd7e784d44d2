package real

import (
	"os"
	"syscall"
)

// fdatasync makes a file's data (and the metadata needed to read it back,
// such as its size) durable, without its timestamps: what ZooKeeper's
// FileChannel.force(false) does.
func fdatasync(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
