package promise

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// owner is a numeric owner for a file; -1 leaves a side unchanged.
type owner struct{ uid, gid int }

var keepOwner = owner{-1, -1}

// tempName returns a name for a temporary file beside path. Names start with
// ".phenix-" so that an interrupted run leaves recognisable debris only.
func tempName(path string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(filepath.Dir(path), ".phenix-"+filepath.Base(path)+"-"+hex.EncodeToString(b[:]))
}

// writeAtomic writes the content read from r to path through a temporary
// file in the same directory that is renamed into place, so that readers
// see the old file or the new one, never a part. perm is in Unix form
// (07777 bits).
func writeAtomic(path string, r io.Reader, perm os.FileMode, own owner) error {
	tmp := tempName(path)
	// open(2) directly: os.OpenFile also registers the file with the
	// network poller, five system calls that a regular file never needs.
	fd, err := openRaw(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", &fs.PathError{Op: "open", Path: tmp, Err: err})
	}
	f := os.NewFile(uintptr(fd), tmp)
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if own != keepOwner {
		if err := f.Chown(own.uid, own.gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	// Chmod after chown: chown clears setuid and setgid bits.
	if err := f.Chmod(goMode(perm)); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	ok = true
	return nil
}

// writeAtomicBytes is writeAtomic for content in memory.
func writeAtomicBytes(path string, data []byte, perm os.FileMode, own owner) error {
	return writeAtomic(path, bytes.NewReader(data), perm, own)
}
