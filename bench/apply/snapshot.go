package main

import (
	"fmt"
	"os"
	"slices"
	"syscall"
)

// stamp identifies one version of a file: a rewrite changes its inode or
// mtime, a chmod or chown its ctime.
type stamp struct {
	ino          uint64
	mtime, ctime syscall.Timespec
}

// snapshot maps the paths of a workload to their stamps.
type snapshot map[string]stamp

func takeSnapshot(w workload) (snapshot, error) {
	s := make(snapshot, w.n)
	for _, f := range w.files() {
		fi, err := os.Lstat(f.path)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil, fmt.Errorf("snapshot %s: no stat_t", f.path)
		}
		s[f.path] = stamp{ino: st.Ino, mtime: st.Mtim, ctime: st.Ctim}
	}
	return s, nil
}

// touched returns the paths whose stamp differs in after, sorted.
func (s snapshot) touched(after snapshot) []string {
	var paths []string
	for p, st := range s {
		if after[p] != st {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}
