package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/phenixhq/phenix/internal/promise"
)

// ErrBadArchive is wrapped by the errors of Put that refuse the upload
// itself, which the server answers with 400: larger than the limit, not a
// tar, tar.gz or zip archive, an unsafe entry, or no entry at all.
var ErrBadArchive = errors.New("bad archive")

// Store keeps artifacts under Dir: sha256/<first 2 hex>/<hex>, written
// once, read-only (0444). Uploads are written under Dir/tmp first. A Store
// is safe for concurrent use, by several processes too.
type Store struct{ Dir string }

// Info describes a stored artifact.
type Info struct {
	SHA256 string // 64 lower-case hexadecimal digits
	Size   int64  // bytes
	Format string // tar, tar.gz, zip
}

// copyBuffer is the size of the reads of Put.
const copyBuffer = 1 << 20

// Put streams r into a temporary file under Dir/tmp while hashing it, in
// one pass and never holding it in memory; refuses it when it is larger
// than max bytes (max <= 0: no limit), reading no more than max+1 bytes of
// r; checks that it is a tar, tar.gz or zip archive whose entries are all
// safe to extract once strip leading path components are dropped, and
// that at least one is left; and moves it into place, read-only. When the
// same content is stored already, the temporary file is removed and the
// stored one stays as it is. A refused upload gives an error wrapping
// ErrBadArchive that says why (the limit, or the entry and what is wrong
// with it) and stores nothing; r failing or ctx ending gives their error.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64, strip int) (Info, error) {
	if s.Dir == "" {
		return Info{}, errors.New("store artifact: the store has no directory")
	}
	tmpDir := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	tmp := f.Name()
	defer func() {
		f.Close()      // a second Close is harmless
		os.Remove(tmp) // after a link, the other name stays
	}()

	info, err := copyHashed(ctx, f, r, max)
	if err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	if info.Format, err = promise.ArchiveFormat(tmp); err != nil {
		// The message names the file: not the uploader's name for it.
		why := strings.ReplaceAll(err.Error(), filepath.Base(tmp), "the upload")
		return Info{}, fmt.Errorf("artifact sha256:%s: %w: %s", info.SHA256, ErrBadArchive, why)
	}
	n, err := promise.InspectArchive(tmp, info.Format, strip)
	if err != nil {
		return Info{}, fmt.Errorf("artifact sha256:%s: %w: %w", info.SHA256, ErrBadArchive, err)
	}
	if n == 0 {
		what := "no entry"
		if strip > 0 {
			what = fmt.Sprintf("no entry left once %d leading path components are stripped", strip)
		}
		return Info{}, fmt.Errorf("artifact sha256:%s: %w: the %s archive has %s", info.SHA256, ErrBadArchive, info.Format, what)
	}
	if err := os.Chmod(tmp, 0o444); err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	dest := s.path(info.SHA256)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return Info{}, fmt.Errorf("store artifact: %w", err)
	}
	if err := place(tmp, dest, info.Size); err != nil {
		return Info{}, fmt.Errorf("store artifact sha256:%s: %w", info.SHA256, err)
	}
	syncDir(filepath.Dir(dest))
	return info, nil
}

// copyHashed copies r to w, at most max+1 bytes of it (max > 0), hashing
// what it writes, and returns its SHA-256 and size. More than max bytes is
// an error wrapping ErrBadArchive.
func copyHashed(ctx context.Context, w io.Writer, r io.Reader, max int64) (Info, error) {
	h := sha256.New()
	var src io.Reader = ctxReader{ctx, r}
	if max > 0 {
		src = io.LimitReader(src, max+1)
	}
	buf := make([]byte, copyBuffer)
	var size int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			size += int64(n)
			if max > 0 && size > max {
				return Info{}, fmt.Errorf("%w: the upload is larger than the limit of %s", ErrBadArchive, formatSize(max))
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return Info{}, err
			}
			h.Write(buf[:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Info{}, fmt.Errorf("read the upload: %w", err)
		}
	}
	return Info{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
}

// place gives the file tmp, complete and read-only, the name dest unless
// dest exists already. A hard link never replaces a file, so concurrent
// puts of the same content leave one file, written once; on a file system
// without hard links, a rename does, and may replace the file with the
// same bytes. A dest of another size than size (a file damaged behind the
// store's back) is replaced.
func place(tmp, dest string, size int64) error {
	err := os.Link(tmp, dest)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
	default:
		// No hard links here: a rename, unless dest is there.
		if _, err := os.Lstat(dest); errors.Is(err, fs.ErrNotExist) {
			return os.Rename(tmp, dest)
		}
	}
	if st, err := os.Lstat(dest); err == nil && st.Mode().IsRegular() && st.Size() == size {
		return nil
	}
	return os.Rename(tmp, dest)
}

// syncDir makes the entries of dir durable, where the system allows.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// Open opens the artifact with sha256, which must be 64 lower-case
// hexadecimal digits; anything else is not looked up. An unknown or
// malformed sha256 gives an error wrapping fs.ErrNotExist.
func (s *Store) Open(sha256 string) (*os.File, error) {
	if !validSHA256(sha256) {
		return nil, fmt.Errorf("artifact %q: not a sha256 (64 lower-case hexadecimal digits): %w", sha256, fs.ErrNotExist)
	}
	f, err := os.Open(s.path(sha256))
	if err != nil {
		return nil, fmt.Errorf("artifact sha256:%s: %w", sha256, err)
	}
	return f, nil
}

// Path returns the file of the artifact with sha256 and whether it is
// stored; "" and false for a malformed sha256.
func (s *Store) Path(sha256 string) (string, bool) {
	if !validSHA256(sha256) {
		return "", false
	}
	p := s.path(sha256)
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular()
}

// path is the file of sha256, which is valid.
func (s *Store) path(sha256 string) string {
	return filepath.Join(s.Dir, "sha256", sha256[:2], sha256)
}

// validSHA256 reports whether s is 64 lower-case hexadecimal digits, which
// makes it a file name that cannot leave the store.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ctxReader fails its reads once ctx is done, so that an upload stops
// when its request does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// formatSize returns n bytes for a message: "2 GiB (2147483648 bytes)", or
// "100 bytes".
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			v := float64(n) / float64(u.size)
			if n%u.size == 0 {
				return fmt.Sprintf("%d %s (%d bytes)", n/u.size, u.name, n)
			}
			return fmt.Sprintf("%.1f %s (%d bytes)", v, u.name, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
