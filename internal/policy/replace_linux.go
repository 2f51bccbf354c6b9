package policy

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// replaceDir puts directory tmp in the place of dir in one step: it
// exchanges the two and removes the old one, now at tmp.
func replaceDir(tmp, dir string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return os.RemoveAll(tmp)
	case errors.Is(err, unix.ENOENT):
		return os.Rename(tmp, dir) // nothing to replace
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return replaceDirByRenames(tmp, dir) // a file system without exchange
	}
	return &os.LinkError{Op: "exchange", Old: tmp, New: dir, Err: err}
}
