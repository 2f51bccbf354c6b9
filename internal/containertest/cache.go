package containertest

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// cacheDir returns, creating it, the directory that keeps root file system
// tarballs across test runs: $XDG_CACHE_HOME/phenix-test, or
// ~/.cache/phenix-test.
func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory: %v", err)
	}
	dir := filepath.Join(base, "phenix-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// lockFile takes an exclusive flock on path, creating the file, so that
// concurrent test processes (go test ./... runs packages in parallel) build
// an image one at a time. It calls waiting once if another process holds the
// lock, then blocks. The returned function releases the lock.
func lockFile(path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	err = flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		waiting()
		err = flock(fd, unix.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %v", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// flock is unix.Flock, retried when a signal interrupts it.
func flock(fd, how int) error {
	for {
		if err := unix.Flock(fd, how); err != unix.EINTR {
			return err
		}
	}
}
