//go:build unix

package pushgate

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock on f (flock, which SQLite's own
// fcntl locks do not touch), failing at once with ErrLocked if it is held.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}

func unlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
