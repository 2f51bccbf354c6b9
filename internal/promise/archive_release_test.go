package promise_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/promise"
)

func TestArchiveFormat(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v7 := func() []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
		tw.Close()
		// Drop the ustar magic and version, and fix the checksum: an old
		// V7 header.
		b := buf.Bytes()
		clear(b[257:265])
		copy(b[148:156], "        ")
		sum := 0
		for _, c := range b[:512] {
			sum += int(c)
		}
		copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
		return b
	}()
	emptyZip := func() []byte {
		var buf bytes.Buffer
		zip.NewWriter(&buf).Close()
		return buf.Bytes()
	}()
	arWrite(t, dir, "a.tar", arFile("a", 0o644, "x"))
	arWrite(t, dir, "a.tar.gz", arFile("a", 0o644, "x"))
	arWrite(t, dir, "a.zip", arFile("a", 0o644, "x"))
	// The name says nothing: the content decides.
	os.Rename(filepath.Join(dir, "a.tar"), filepath.Join(dir, "tar.zip"))
	os.Rename(filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "targz"))
	os.Rename(filepath.Join(dir, "a.zip"), filepath.Join(dir, "zip.tar"))
	for _, tc := range []struct {
		path, want, err string
	}{
		{filepath.Join(dir, "tar.zip"), "tar", ""},
		{filepath.Join(dir, "targz"), "tar.gz", ""},
		{filepath.Join(dir, "zip.tar"), "zip", ""},
		{write("v7", v7), "tar", ""},
		{write("empty.zip", emptyZip), "zip", ""},
		{write("text", []byte(strings.Repeat("hello world\n", 100))), "", "not a tar, tar.gz or zip archive"},
		{write("zeros", make([]byte, 1024)), "", "not a tar, tar.gz or zip archive"},
		{write("empty", nil), "", "not a tar, tar.gz or zip archive"},
		{filepath.Join(dir, "missing"), "", "no such file"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			got, err := promise.ArchiveFormat(tc.path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ArchiveFormat = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ArchiveFormat = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// tree lists what is under dir: "name" for a file (with its content after
// =), "name/" for a directory, "name -> target" for a link, with modes.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.IsDir():
			out = append(out, rel+"/ "+st.Mode().Perm().String())
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b)+" "+st.Mode().Perm().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestExtractArchive(t *testing.T) {
	app := []arEnt{
		arDir("app-1.0/", 0o755),
		arDir("app-1.0/bin/", 0o750),
		arFile("app-1.0/bin/run", 0o755, "#!/bin/sh\n"),
		arFile("app-1.0/README", 0o644, "hello"),
		arLink("app-1.0/current", "bin/run"),
		arFile("top", 0o644, "skipped with strip 1"),
	}
	for _, tc := range []struct {
		name  string
		ents  []arEnt
		strip int
		n     int
		want  []string
	}{
		{"a.tar", app, 1, 4, []string{"README=hello -rw-r--r--", "bin/ -rwxr-x---", "bin/run=#!/bin/sh\n -rwxr-xr-x", "current -> bin/run"}},
		{"a.tar.gz", app, 1, 4, []string{"README=hello -rw-r--r--", "bin/ -rwxr-x---", "bin/run=#!/bin/sh\n -rwxr-xr-x", "current -> bin/run"}},
		{"a.zip", app, 1, 4, []string{"README=hello -rw-r--r--", "bin/ -rwxr-x---", "bin/run=#!/bin/sh\n -rwxr-xr-x", "current -> bin/run"}},
		{"nostrip.tar.gz", app, 0, 6, []string{
			"app-1.0/ -rwxr-xr-x", "app-1.0/README=hello -rw-r--r--", "app-1.0/bin/ -rwxr-x---",
			"app-1.0/bin/run=#!/bin/sh\n -rwxr-xr-x", "app-1.0/current -> bin/run", "top=skipped with strip 1 -rw-r--r--",
		}},
		{"implied.tar", []arEnt{arFile("x/a/b/c", 0o600, "c"), arHardlink("x/a/d", "x/a/b/c")}, 1, 4, []string{
			"a/ -rwxr-xr-x", "a/b/ -rwxr-xr-x", "a/b/c=c -rw-------", "a/d=c -rw-------",
		}},
		{"strip2.tar", app, 2, 1, []string{"run=#!/bin/sh\n -rwxr-xr-x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			arWrite(t, dir, tc.name, tc.ents...)
			src := filepath.Join(dir, tc.name)
			format, err := promise.ArchiveFormat(src)
			if err != nil {
				t.Fatal(err)
			}
			n, err := promise.InspectArchive(src, format, tc.strip)
			if err != nil || n != tc.n {
				t.Fatalf("InspectArchive = %d, %v; want %d", n, err, tc.n)
			}
			dest := filepath.Join(dir, "releases", "1.0")
			if err := promise.ExtractArchive(context.Background(), src, format, dest, tc.strip, "", ""); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tree(t, dest)); diff != "" {
				t.Errorf("extracted tree (-want +got):\n%s", diff)
			}
			if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("dest: %v, %v; want mode 0755", st.Mode(), err)
			}
			// Nothing but dest beside it: the temporary directory was renamed.
			if got := tree(t, filepath.Join(dir, "releases")); len(got) != len(tc.want)+1 {
				t.Errorf("releases holds %q", got)
			}
			// dest must not exist.
			err = promise.ExtractArchive(context.Background(), src, format, dest, tc.strip, "", "")
			if err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second extraction: %v; want already exists", err)
			}
			if format == "zip" {
				return // a zip cannot be read as a stream
			}
			// The same archive read once, as a stream, gives the same tree.
			f, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sdest := filepath.Join(dir, "stream", "1.0")
			if n, err := promise.ExtractStream(context.Background(), f, format, sdest, tc.strip, "", ""); err != nil || n < tc.n {
				t.Fatalf("ExtractStream = %d, %v", n, err)
			}
			if diff := cmp.Diff(tc.want, tree(t, sdest)); diff != "" {
				t.Errorf("streamed tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractArchiveUnsafe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ents  []arEnt
		strip int
		err   string
	}{
		{"abs.tar", []arEnt{arFile("ok", 0o644, "x"), arFile("/etc/passwd", 0o644, "x")}, 0, `unsafe entry "/etc/passwd": has an absolute path`},
		{"dotdot.tar.gz", []arEnt{arFile("ok", 0o644, "x"), arFile("a/../../evil", 0o644, "x")}, 0, `unsafe entry "a/../../evil": leaves the destination`},
		{"dotdot-strip.tar.gz", []arEnt{arFile("app/../../evil", 0o644, "x")}, 1, `leaves the destination`},
		{"link.tar", []arEnt{arLink("l", "../../etc")}, 0, `unsafe entry "l": is a symlink to ../../etc, which resolves outside`},
		{"link-strip.tar", []arEnt{arLink("app/l", "../x")}, 1, `unsafe entry "l": is a symlink to ../x, which resolves outside`},
		{"abslink.zip", []arEnt{arLink("l", "/etc/passwd")}, 0, `unsafe entry "l": is a symlink to /etc/passwd`},
		{"device.tar", []arEnt{{name: "dev", typ: tar.TypeChar, mode: 0o644}}, 0, `unsafe entry "dev": is a device file`},
		{"fifo.tar", []arEnt{{name: "p", typ: tar.TypeFifo, mode: 0o644}}, 0, `unsafe entry "p": is a named pipe`},
		{"dup.tar", []arEnt{arFile("a", 0o644, "x"), arFile("a", 0o644, "y")}, 0, `unsafe entry "a": appears twice`},
		{"dup-strip.tar", []arEnt{arFile("x/a", 0o644, "x"), arFile("y/a", 0o644, "y")}, 1, `unsafe entry "a": appears twice`},
		{"hardlink-strip.tar", []arEnt{arFile("top", 0o644, "x"), arHardlink("app/h", "top")}, 1, `is a hardlink to top, which stripping 1 components removes`},
		{"below-link.tar", []arEnt{arLink("d", "e"), arFile("d/f", 0o644, "x")}, 0, `lies below d, which is not a directory`},
		// a looks inside until d/c, later in the archive, leads out.
		{"late-link.tar", []arEnt{arLink("a", "d/c/../x"), arDir("d/", 0o755), arLink("d/c", "..")}, 0, `unsafe entry "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			arWrite(t, dir, tc.name, tc.ents...)
			src := filepath.Join(dir, tc.name)
			format, err := promise.ArchiveFormat(src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := promise.InspectArchive(src, format, tc.strip); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("InspectArchive: %v; want an error with %q", err, tc.err)
			}
			dest := filepath.Join(dir, "out", "dest")
			err = promise.ExtractArchive(context.Background(), src, format, dest, tc.strip, "", "")
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "nothing extracted") {
				t.Fatalf("ExtractArchive: %v; want an error with %q", err, tc.err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("something was written: %v", err)
			}
			if format == "zip" {
				return
			}
			f, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = promise.ExtractStream(context.Background(), f, format, dest, tc.strip, "", "")
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "nothing extracted") {
				t.Fatalf("ExtractStream: %v; want an error with %q", err, tc.err)
			}
			if got := tree(t, filepath.Join(dir, "out")); len(got) != 0 {
				t.Errorf("the stream left %q", got)
			}
		})
	}
}

func TestExtractArchiveCorrupt(t *testing.T) {
	dir := t.TempDir()
	arWrite(t, dir, "a.tar.gz", arFile("a", 0o644, strings.Repeat("abcdefgh", 4096)))
	src := filepath.Join(dir, "a.tar.gz")
	data, _ := os.ReadFile(src)
	os.WriteFile(src, data[:len(data)/2], 0o644)
	dest := filepath.Join(dir, "dest")
	if err := promise.ExtractArchive(context.Background(), src, "tar.gz", dest, 0, "", ""); err == nil {
		t.Fatal("a truncated archive was extracted")
	}
	if got := tree(t, dir); len(got) != 1 {
		t.Errorf("left behind: %q", got)
	}
}

func TestExtractArchiveCancelled(t *testing.T) {
	dir := t.TempDir()
	arWrite(t, dir, "a.tar", arFile("a", 0o644, "x"), arFile("b", 0o644, "y"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := promise.ExtractArchive(ctx, filepath.Join(dir, "a.tar"), "tar", filepath.Join(dir, "dest"), 0, "", "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ExtractArchive: %v; want canceled", err)
	}
	if got := tree(t, dir); len(got) != 1 {
		t.Errorf("left behind: %q", got)
	}
}

func TestInspectArchiveBadArgs(t *testing.T) {
	dir := t.TempDir()
	arWrite(t, dir, "a.tar", arFile("a", 0o644, "x"))
	if _, err := promise.InspectArchive(filepath.Join(dir, "a.tar"), "rar", 0); err == nil || !strings.Contains(err.Error(), `unknown archive format "rar"`) {
		t.Errorf("format rar: %v", err)
	}
	if _, err := promise.InspectArchive(filepath.Join(dir, "a.tar"), "tar", -1); err == nil {
		t.Error("strip -1 accepted")
	}
}
