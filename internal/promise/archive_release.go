package promise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
)

// This file exports the archive promise's reading, checking and
// extraction for callers that are not promises: the agent delivers
// releases with them. The same rules hold (see archive_safe.go), with two
// differences: the format is sniffed from the content rather than the
// name, and an absolute symlink is always refused, since a release is
// extracted into a directory that is then renamed.

// ArchiveFormat returns "tar", "tar.gz" or "zip" by sniffing the content
// of the file at path (gzip magic, zip magic "PK\x03\x04" or an empty zip,
// ustar at offset 257 or a valid first tar header), or an error saying it
// is none of them.
func ArchiveFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [512]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	b := head[:n]
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return formatTarGz, nil
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return formatZip, nil
	case n == 512 && (bytes.HasPrefix(b[257:], []byte("ustar")) || tarChecksumOK(b)):
		return formatTar, nil
	}
	return "", fmt.Errorf("%s is not a tar, tar.gz or zip archive", filepath.Base(path))
}

// tarChecksumOK reports whether b, a 512-byte block, is a tar header with
// a name and a valid checksum (an old-style tar without the ustar magic).
func tarChecksumOK(b []byte) bool {
	if b[0] == 0 {
		return false
	}
	field := bytes.Trim(b[148:156], " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	if err != nil {
		return false
	}
	var sum int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// InspectArchive checks the whole archive at path (format as ArchiveFormat
// says) as the archive promise does, after dropping strip leading path
// components from every entry name (entries with fewer components are
// skipped, like tar --strip-components). It returns the number of entries
// that would be extracted, or an error naming the first unsafe entry
// (absolute path, .. escaping, symlink escaping, device, duplicate…).
func InspectArchive(path, format string, strip int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	_, entries, err := inspectArchive(f, format, strip)
	return len(entries), err
}

// inspectArchive reads and checks the archive f: raw are its entries in
// archive order, entries what checkArchive returns.
func inspectArchive(f *os.File, format string, strip int) (raw, entries []archiveEntry, err error) {
	switch format {
	case formatTar, formatTarGz, formatZip:
	default:
		return nil, nil, fmt.Errorf("unknown archive format %q: expected tar, tar.gz or zip", format)
	}
	if strip < 0 {
		return nil, nil, fmt.Errorf("strip %d: expected 0 or more", strip)
	}
	if raw, err = scanArchiveStrip(f, format, strip); err != nil {
		return nil, nil, err
	}
	// No destination on disk, and a host path no absolute target can
	// start with (a NUL byte is refused first): every absolute symlink is
	// outside.
	entries, err = checkArchive("\x00", "", raw)
	return raw, entries, err
}

// ExtractArchive extracts the archive at path into dest, which must not
// exist: into a temporary directory beside it first, then renamed to dest,
// so dest appears whole or not at all. dest's missing parents are created
// (mode 0755). owner and group ("" for none, names resolved with the
// system's /etc/passwd and /etc/group) apply to every entry extracted, not
// to dest itself, which gets mode 0755, as the archive promise does. It
// checks the archive first with InspectArchive and writes nothing when it
// is unsafe.
func ExtractArchive(ctx context.Context, path, format, dest string, strip int, owner, group string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("extract into %s: it already exists", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	want, err := wantOwner(nil, owner, group)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	raw, entries, err := inspectArchive(f, format, strip)
	if err != nil {
		return fmt.Errorf("archive %s refused, nothing extracted: %w", filepath.Base(path), err)
	}
	if err := makeParents(dest); err != nil {
		return err
	}
	tmp := tempName(dest)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := extractArchive(ctx, f, format, strip, tmp, raw, want); err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(path), err)
	}
	if err := settle(ctx, tmp, dest, entries, want); err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(path), err)
	}
	done = true
	return nil
}

// settle gives the directories extracted into tmp their modes and owner,
// then renames tmp to dest.
func settle(ctx context.Context, tmp, dest string, entries []archiveEntry, want owner) error {
	if err := settleDirs(tmp, entries, want); err != nil {
		return err
	}
	if err := os.Chmod(tmp, defaultDirMode); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("extract into %s: it appeared during the extraction", dest)
	}
	return os.Rename(tmp, dest)
}

// ExtractStream is ExtractArchive for a tar or tar.gz archive read once,
// from r, as it arrives: a download is extracted while it is received,
// not written to a file first and read twice. The archive cannot be
// checked as a whole before anything is written, so each entry is checked
// as it comes against those before it — never written below an entry
// that is not a directory, never twice, a hardlink only to an earlier
// file — which keeps every write inside a temporary directory beside
// dest; then the whole archive is checked as InspectArchive does (links
// that would resolve outside, through links that came later). dest is
// made, by a rename, only when every check passed: an unsafe or broken
// archive leaves nothing. It returns the number of entries extracted.
// The caller verifies the stream's checksum, if it has one, before using
// dest.
func ExtractStream(ctx context.Context, r io.Reader, format, dest string, strip int, owner, group string) (int, error) {
	if format != formatTar && format != formatTarGz {
		return 0, fmt.Errorf("extract a stream: expected a tar or tar.gz archive, not %q", format)
	}
	if strip < 0 {
		return 0, fmt.Errorf("strip %d: expected 0 or more", strip)
	}
	if _, err := os.Lstat(dest); err == nil {
		return 0, fmt.Errorf("extract into %s: it already exists", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	want, err := wantOwner(nil, owner, group)
	if err != nil {
		return 0, err
	}
	if err := makeParents(dest); err != nil {
		return 0, err
	}
	tmp := tempName(dest)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	var raw []archiveEntry
	seen := map[string]entryKind{}
	err = walkStream(r, format, strip, func(e archiveEntry, rd io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkStreamEntry(seen, e); err != nil {
			return err
		}
		raw = append(raw, e)
		return writeArchiveEntry(tmp, e, rd, want)
	})
	if errors.Is(err, ErrUnsafeArchive) {
		return 0, fmt.Errorf("refused, nothing extracted: %w", err)
	}
	if err != nil {
		return 0, fmt.Errorf("nothing extracted: %w", err)
	}
	entries, err := checkArchive("\x00", "", raw)
	if err != nil {
		return 0, fmt.Errorf("refused, nothing extracted: %w", err)
	}
	if len(entries) == 0 {
		return 0, errors.New("refused, nothing extracted: no entries")
	}
	if err := settle(ctx, tmp, dest, entries, want); err != nil {
		return 0, err
	}
	done = true
	return len(entries), nil
}

// checkStreamEntry checks entry e against the entries seen before it
// (name → kind), and records it: what must hold for writing it to stay
// inside the extraction directory.
func checkStreamEntry(seen map[string]entryKind, e archiveEntry) error {
	for dir := path.Dir(e.name); dir != "."; dir = path.Dir(dir) {
		if k, ok := seen[dir]; ok && k != entryDir {
			return unsafeEntry(e.name, "lies below %s, which is not a directory in the archive", dir)
		}
	}
	if k, ok := seen[e.name]; ok && (k != entryDir || e.kind != entryDir) {
		return unsafeEntry(e.name, "appears twice in the archive")
	}
	if e.kind == entryHardlink && seen[e.link] != entryFile {
		return unsafeEntry(e.name, "is a hardlink to %s, which is not a regular file earlier in the archive", e.link)
	}
	seen[e.name] = e.kind
	return nil
}
