// Package exampleapp gives tests the example application of
// examples/app: a static binary built once per test process, and release
// artifacts of it as phenix deploys them.
//
// A package whose tests call Build must call testenv.Cleanup from its
// TestMain, after m.Run, to remove the binary's directory.
package exampleapp

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// Package is the import path of the example application.
const Package = "github.com/phenixhq/phenix/examples/app"

// Build returns the path of a static (CGO_ENABLED=0) binary of the example
// application, built on the first call in the process; later calls return
// the same path. It is named "app".
func Build(t testing.TB) string {
	t.Helper()
	return testenv.Binary(t, Package)
}

// modTime is the modification time of every artifact entry, so that an
// artifact's bytes depend only on its content.
var modTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Artifact writes the release artifact of version to dir and returns its
// path, dir/app-VERSION.tar.gz. It holds one top-level directory, so that a
// deployment unpacks it with strip: 1:
//
//	app-VERSION/bin/app     the binary of Build, mode 0755
//	app-VERSION/VERSION     version and a newline
//	app-VERSION/BROKEN      only if broken: /health then answers 500
//	app-VERSION/data/blob   only if padding > 0: padding incompressible bytes
//
// The padding makes an artifact as large as a real one (benchmarks use 100
// MB). Its bytes are pseudo-random, seeded by version, and every entry has
// the same time, so writing the same artifact twice in a process gives the
// same file and the same checksum, as an immutable version must.
func Artifact(t testing.TB, dir, version string, broken bool, padding int64) string {
	t.Helper()
	bin := Build(t)
	path := filepath.Join(dir, "app-"+version+".tar.gz")
	if err := WriteArtifact(path, bin, version, broken, padding); err != nil {
		t.Fatalf("write artifact of app %s: %v", version, err)
	}
	return path
}

// WriteArtifact writes to path the artifact Artifact describes, with the
// app binary bin: what benchmarks, which have no testing.TB, call.
func WriteArtifact(path, bin, version string, broken bool, padding int64) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".app-*.tar.gz")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	buf := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(buf, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	top := "app-" + version + "/"
	dirs := []string{top, top + "bin/"}
	if padding > 0 {
		dirs = append(dirs, top+"data/")
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: modTime}); err != nil {
			return err
		}
	}
	exe, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer exe.Close()
	st, err := exe.Stat()
	if err != nil {
		return err
	}
	if err := addFile(tw, top+"bin/app", 0o755, st.Size(), exe); err != nil {
		return err
	}
	v := []byte(version + "\n")
	if err := addFile(tw, top+"VERSION", 0o644, int64(len(v)), bytes.NewReader(v)); err != nil {
		return err
	}
	if broken {
		b := []byte("this release fails its health check\n")
		if err := addFile(tw, top+"BROKEN", 0o644, int64(len(b)), bytes.NewReader(b)); err != nil {
			return err
		}
	}
	if padding > 0 {
		seed := sha256.Sum256([]byte("phenix exampleapp padding " + version))
		rng := rand.NewChaCha8(seed)
		if err := addFile(tw, top+"data/blob", 0o644, padding, io.LimitReader(rng, padding)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func addFile(tw *tar.Writer, name string, mode, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: modTime}); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: wrote %d bytes, want %d", name, n, size)
	}
	return err
}
