package promise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	if err := settleDirs(tmp, entries, want); err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(path), err)
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
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	done = true
	return nil
}
