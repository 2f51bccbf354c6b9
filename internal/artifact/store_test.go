package artifact_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/phenixhq/phenix/internal/artifact"
)

// entry is one entry of a test archive: a file with body, a directory
// (name ending in /) or a symlink (link set).
type entry struct {
	name, body, link string
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGzOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(tarOf(t, entries...)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// release is the content of a typical release archive.
var release = []entry{
	{name: "app-1.0/"},
	{name: "app-1.0/bin/", body: ""},
	{name: "app-1.0/bin/server", body: "#!/bin/sh\necho hello\n"},
	{name: "app-1.0/current", link: "bin/server"},
	{name: "app-1.0/README", body: "read me"},
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkStored checks that the store holds exactly the files of content,
// read-only and named by their sha256, with no temporary file left.
func checkStored(t *testing.T, s *artifact.Store, content ...[]byte) {
	t.Helper()
	want := map[string][]byte{}
	for _, c := range content {
		want[sum(c)] = c
	}
	got := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(s.Dir, "sha256"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := filepath.Base(p)
		got[name] = true
		if filepath.Base(filepath.Dir(p)) != name[:2] {
			t.Errorf("%s is not in the directory of its first two digits", p)
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o444 {
			t.Errorf("%s has mode %v, want 0444", p, st.Mode().Perm())
		}
		if c, ok := want[name]; !ok {
			t.Errorf("the store holds an unexpected %s", p)
		} else if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, c) {
			t.Errorf("%s holds %d bytes, %v; want %d bytes", p, len(b), err, len(c))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("the store holds %d artifacts, want %d", len(got), len(want))
	}
	if tmp, err := os.ReadDir(filepath.Join(s.Dir, "tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("temporary files left: %v, %v", tmp, err)
	}
}

func TestPut(t *testing.T) {
	tarball, tgz, zipped := tarOf(t, release...), tarGzOf(t, release...), zipOf(t, entry{name: "index.html", body: "<p>hi</p>"}, entry{name: "static/app.js", body: "x"})
	s := &artifact.Store{Dir: filepath.Join(t.TempDir(), "artifacts")}
	for _, tt := range []struct {
		name    string
		body    []byte
		strip   int
		format  string
		stored  [][]byte // the store's content after it
		wantErr string   // a part of the message of an error wrapping ErrBadArchive
	}{
		{name: "tar", body: tarball, format: "tar", stored: [][]byte{tarball}},
		{name: "tar.gz with strip", body: tgz, strip: 1, format: "tar.gz", stored: [][]byte{tarball, tgz}},
		{name: "zip", body: zipped, format: "zip", stored: [][]byte{tarball, tgz, zipped}},
		{name: "the same content again", body: tgz, format: "tar.gz", stored: [][]byte{tarball, tgz, zipped}},
		{name: "the same content, stripped to nothing", body: zipped, strip: 2, wantErr: "no entry left once 2 leading path components are stripped"},
		{name: "parent entry", body: tarOf(t, entry{name: "app/"}, entry{name: "app/../../etc/cron.d/evil", body: "* * * * * root sh"}),
			wantErr: `unsafe entry "app/../../etc/cron.d/evil": leaves the destination through ..`},
		{name: "parent entry in a zip", body: zipOf(t, entry{name: "../evil", body: "x"}), wantErr: `unsafe entry "../evil"`},
		{name: "absolute path", body: tarGzOf(t, entry{name: "/etc/passwd", body: "root::0:0::/:/bin/sh"}), wantErr: `unsafe entry "/etc/passwd": has an absolute path`},
		{name: "symlink out", body: tarOf(t, entry{name: "logs", link: "../../var/log"}), wantErr: `unsafe entry "logs"`},
		{name: "absolute symlink", body: tarOf(t, entry{name: "etc", link: "/etc"}), wantErr: `unsafe entry "etc"`},
		{name: "not an archive", body: []byte("#!/bin/sh\nrm -rf /\n"), wantErr: "bad archive: the upload is not a tar, tar.gz or zip archive"},
		{name: "empty body", body: nil, wantErr: "bad archive: the upload is not a tar, tar.gz or zip archive"},
		{name: "empty tar", body: tarOf(t), wantErr: "bad archive"},
		{name: "only the top directory", body: tarOf(t, entry{name: "app/"}), strip: 1, wantErr: "no entry left once 1 leading path components are stripped"},
		{name: "corrupt gzip", body: tgz[:len(tgz)/2], wantErr: "bad archive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			info, err := s.Put(t.Context(), bytes.NewReader(tt.body), 1<<20, tt.strip)
			if tt.wantErr != "" {
				if !errors.Is(err, artifact.ErrBadArchive) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Put: error = %v, want ErrBadArchive saying %q", err, tt.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := artifact.Info{SHA256: sum(tt.body), Size: int64(len(tt.body)), Format: tt.format}
			if info != want {
				t.Errorf("Put = %+v, want %+v", info, want)
			}
			checkStored(t, s, tt.stored...)
			p, ok := s.Path(info.SHA256)
			if !ok || p != filepath.Join(s.Dir, "sha256", info.SHA256[:2], info.SHA256) {
				t.Errorf("Path = %s, %v", p, ok)
			}
			f, err := s.Open(info.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if b, err := io.ReadAll(f); err != nil || !bytes.Equal(b, tt.body) {
				t.Errorf("Open gives %d bytes, %v; want %d", len(b), err, len(tt.body))
			}
		})
	}
	checkStored(t, s, tarball, tgz, zipped)
}

// endless is an endless body of zeros that counts what was read of it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

// TestPutTooLarge sends an endless body: Put stops just past the limit.
func TestPutTooLarge(t *testing.T) {
	s := &artifact.Store{Dir: t.TempDir()}
	const max = 3<<20 + 5
	body := &endless{}
	_, err := s.Put(t.Context(), body, max, 0)
	if !errors.Is(err, artifact.ErrBadArchive) || !strings.Contains(err.Error(), "larger than the limit of 3.0 MiB (3145733 bytes)") {
		t.Errorf("Put: error = %v, want ErrBadArchive saying the limit", err)
	}
	if body.n > max+1 {
		t.Errorf("Put read %d bytes, want at most %d", body.n, max+1)
	}
	checkStored(t, s)

	// Exactly max bytes is accepted.
	b := tarOf(t, entry{name: "a", body: "x"})
	if _, err := s.Put(t.Context(), bytes.NewReader(b), int64(len(b)), 0); err != nil {
		t.Errorf("Put of exactly the limit: %v", err)
	}
	if _, err := s.Put(t.Context(), bytes.NewReader(b), int64(len(b))-1, 0); !errors.Is(err, artifact.ErrBadArchive) {
		t.Errorf("Put of one byte over the limit: error = %v, want ErrBadArchive", err)
	}
	checkStored(t, s, b)
}

// failing fails after giving some bytes, like a client that goes away.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestPutInterrupted(t *testing.T) {
	s := &artifact.Store{Dir: t.TempDir()}
	if _, err := s.Put(t.Context(), &failing{n: 10 << 10}, 1<<20, 0); !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, artifact.ErrBadArchive) {
		t.Errorf("Put of a body that fails: error = %v, want the body's error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, &endless{}, 1<<20, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: error = %v, want context.Canceled", err)
	}
	checkStored(t, s)
}

func TestOpenRefusesNames(t *testing.T) {
	dir := t.TempDir()
	s := &artifact.Store{Dir: filepath.Join(dir, "artifacts")}
	b := tarOf(t, release...)
	info, err := s.Put(t.Context(), bytes.NewReader(b), 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A file a traversal would reach.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"",
		"../secret",
		"../../secret",
		"sha256/../../secret",
		strings.ToUpper(info.SHA256),
		info.SHA256[:63],
		info.SHA256 + "0",
		info.SHA256[:62] + "/.",
		strings.Repeat("0", 64), // well-formed, not stored
	} {
		if f, err := s.Open(name); !errors.Is(err, fs.ErrNotExist) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%q): error = %v, want fs.ErrNotExist", name, err)
		}
		if p, ok := s.Path(name); ok {
			t.Errorf("Path(%q) = %s, true; want false", name, p)
		}
	}
}

// TestPutConcurrently puts the same content from many goroutines at once:
// all succeed with the same Info, and it is stored once.
func TestPutConcurrently(t *testing.T) {
	s := &artifact.Store{Dir: t.TempDir()}
	big := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	b := tarGzOf(t, entry{name: "app/"}, entry{name: "app/blob", body: string(big)})
	const n = 16
	infos := make([]artifact.Info, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			infos[i], errs[i] = s.Put(t.Context(), bytes.NewReader(b), 8<<20, 1)
		})
	}
	wg.Wait()
	want := artifact.Info{SHA256: sum(b), Size: int64(len(b)), Format: "tar.gz"}
	for i := range n {
		if errs[i] != nil || infos[i] != want {
			t.Errorf("Put %d = %+v, %v; want %+v", i, infos[i], errs[i], want)
		}
	}
	checkStored(t, s, b)
}

// BenchmarkPut100MB stores a 100 MB tar of incompressible files into a
// fresh store each time: the copy, its hash, the fsync and the check.
func BenchmarkPut100MB(b *testing.B) {
	const size = 100 << 20
	rnd := rand.NewChaCha8([32]byte{2})
	var entries []entry
	for i := range 10 {
		body := make([]byte, size/10)
		rnd.Read(body)
		entries = append(entries, entry{name: "app/file" + string(rune('0'+i)), body: string(body)})
	}
	body := tarOf(b, append([]entry{{name: "app/"}}, entries...)...)
	root := b.TempDir()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		dir, err := os.MkdirTemp(root, "store-")
		if err != nil {
			b.Fatal(err)
		}
		s := &artifact.Store{Dir: dir}
		if _, err := s.Put(b.Context(), bytes.NewReader(body), 1<<30, 1); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir) // fails on nothing: 0444 files go with their directory
		b.StartTimer()
	}
}
