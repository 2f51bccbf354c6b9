package promise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
)

// extractArchive extracts the archive f into tmp, an empty directory,
// and fails if the archive no longer holds exactly the entries (raw, in
// archive order) that were checked. Files and links get their owner and
// mode here; directories get them once in place (see moveIntoPlace).
// strip leading components are dropped from every entry's name, as raw was
// scanned.
func extractArchive(ctx context.Context, f *os.File, format string, strip int, tmp string, raw []archiveEntry, own owner) error {
	i := 0
	err := walkArchiveStrip(f, format, strip, func(e archiveEntry, r io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i >= len(raw) || e != raw[i] {
			return errSourceChanged
		}
		i++
		return writeArchiveEntry(tmp, e, r, own)
	})
	if err == nil && i != len(raw) {
		err = errSourceChanged
	}
	return err
}

// writeArchiveEntry writes entry e, whose content r holds, under tmp.
// Files and links get their owner and mode here; directories get them once
// in place (see moveIntoPlace and settleDirs).
func writeArchiveEntry(tmp string, e archiveEntry, r io.Reader, own owner) error {
	p := filepath.Join(tmp, filepath.FromSlash(e.name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	switch e.kind {
	case entryDir:
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	case entryFile:
		if err := writeEntry(p, r); err != nil {
			return err
		}
	case entrySymlink:
		if err := os.Symlink(e.link, p); err != nil {
			return err
		}
	case entryHardlink:
		// Shares the inode, owner and mode of its target.
		return os.Link(filepath.Join(tmp, filepath.FromSlash(e.link)), p)
	}
	if own != keepOwner {
		if err := os.Lchown(p, own.uid, own.gid); err != nil {
			return err
		}
	}
	if e.kind == entryFile {
		return os.Chmod(p, e.perm) // after chown, which may clear bits
	}
	return nil
}

var errSourceChanged = errors.New("the source changed while it was being extracted")

// writeEntry writes the content of a regular file entry to a new file.
func writeEntry(p string, r io.Reader) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("read archive: %w", err)
	}
	return f.Close()
}

// moveIntoPlace moves the extracted entries (checked and sorted, see
// checkArchive) from tmp into dest, both local paths. A directory is made
// where there is none; anything else is renamed over what is in its place,
// so that each file changes at once. Conflicts that would stop the move
// halfway (a directory with content where the archive has a file) are
// found before anything moves.
func moveIntoPlace(tmp, dest string, entries []archiveEntry, own owner) error {
	for _, e := range entries {
		if e.kind == entryDir {
			continue
		}
		st, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(e.name)))
		if err != nil || !st.IsDir() {
			continue
		}
		if n, err := countDir(filepath.Join(dest, filepath.FromSlash(e.name))); err != nil || n > 0 {
			return fmt.Errorf("%s is a directory with content, where the archive has a file or a link", e.name)
		}
	}
	for _, e := range entries {
		dst := filepath.Join(dest, filepath.FromSlash(e.name))
		st, err := os.Lstat(dst)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if e.kind == entryDir {
			if exists && st.IsDir() {
				continue
			}
			if exists {
				// A file or a link where the archive has a directory:
				// replace it, as tar does, rather than write through it.
				if err := os.Remove(dst); err != nil {
					return err
				}
			}
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			continue
		}
		if exists && st.IsDir() {
			if err := os.Remove(dst); err != nil { // empty, checked above
				return err
			}
		}
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(e.name)), dst); err != nil {
			return err
		}
	}
	return settleDirs(dest, entries, own)
}

// settleDirs gives the directories among entries (checked and sorted), now
// under dest, their owner and mode, deepest first.
func settleDirs(dest string, entries []archiveEntry, own owner) error {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.kind != entryDir {
			continue
		}
		dst := filepath.Join(dest, filepath.FromSlash(e.name))
		if own != keepOwner {
			if err := os.Lchown(dst, own.uid, own.gid); err != nil {
				return err
			}
		}
		if err := os.Chmod(dst, e.perm); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes, deepest first, the entries an earlier extraction
// made (old, from its marker) that the archive no longer holds (keep).
// Directories are removed only when empty, and nothing is removed through
// a symlink.
func removeStale(dest string, old []string, keep map[string]bool) error {
	sort.Sort(sort.Reverse(sort.StringSlice(old)))
	for _, name := range old {
		if c, ok, err := cleanEntryName(name); err != nil || !ok || c != name || keep[name] {
			continue
		}
		if !realDirs(dest, path.Dir(name)) {
			continue
		}
		err := os.Remove(filepath.Join(dest, filepath.FromSlash(name)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("remove %s, no longer in the archive: %w", name, err)
		}
	}
	return nil
}

// realDirs reports whether dir (relative to dest, slash-separated) and each
// of its parents up to dest are directories, not symlinks.
func realDirs(dest, dir string) bool {
	for ; dir != "."; dir = path.Dir(dir) {
		st, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(dir)))
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// countDir returns the number of entries in the directory p.
func countDir(p string) (int, error) {
	ents, err := os.ReadDir(p)
	return len(ents), err
}
