package promise

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The hot path of a converged run is checking files that are already
// right, so it talks to the kernel directly: os.Open costs five extra
// system calls per file (fcntl and epoll registration for the poller),
// which on a virtual machine dominates a run of a thousand promises.

// readNoFollow returns the info of p without following a final symlink
// and, when read is true and p is a regular file, its content. A missing
// path gives an error that matches fs.ErrNotExist. It costs four system
// calls: open, fstat, read, close.
func readNoFollow(p string, read bool) (fs.FileInfo, []byte, error) {
	fd, err := openRaw(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if errors.Is(err, syscall.ELOOP) {
		fi, err := os.Lstat(p) // a symlink: describe the link itself
		return fi, nil, err
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer syscall.Close(fd)
	fi := &rawInfo{name: filepath.Base(p)}
	if err := syscall.Fstat(fd, &fi.st); err != nil {
		return nil, nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	if !read || fi.st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fi, nil, nil
	}
	buf := make([]byte, fi.st.Size+1) // one more byte to see the end at once
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, nil, &fs.PathError{Op: "read", Path: p, Err: err}
		}
		n += m
		// A read that stops at the size fstat gave is the end: skip the
		// extra read(2) that would return 0. A file that grew meanwhile is
		// seen as it was at fstat, and the next run sees the rest.
		if m == 0 || int64(n) == fi.st.Size {
			return fi, buf[:n], nil
		}
		if n == len(buf) { // the file grew while we read it
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}

// openRaw is open(2) with O_CLOEXEC, retried on EINTR.
func openRaw(p string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(p, flags|syscall.O_CLOEXEC, perm)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

// rawInfo is an fs.FileInfo built from fstat, as os.Stat builds its own.
type rawInfo struct {
	name string
	st   syscall.Stat_t
}

var _ fs.FileInfo = (*rawInfo)(nil)

func (fi *rawInfo) Name() string       { return fi.name }
func (fi *rawInfo) Size() int64        { return fi.st.Size }
func (fi *rawInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *rawInfo) Sys() any           { return &fi.st }
func (fi *rawInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }

func (fi *rawInfo) Mode() fs.FileMode {
	m := goMode(fs.FileMode(fi.st.Mode & 0o7777))
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	return m
}
