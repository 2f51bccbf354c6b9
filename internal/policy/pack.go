package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Pack checks the policy in dir with Load and returns it as a gzip'd tar
// archive, with the hash of the tar stream, "sha256:<hex>". The archive
// depends on the content only: paths are sorted, times are the Unix epoch,
// owners are 0 and nameless, and modes are 0755 for directories and for
// files with an execute bit, 0644 for other files. Directories whose name
// starts with a dot (.git) are left out, as Load leaves them out. A policy
// larger than MaxSize is refused with ErrTooLarge.
func Pack(dir string) (archive []byte, hash string, err error) {
	_, t, err := loadDir(dir)
	if err != nil {
		return nil, "", err
	}
	return t.pack(dir)
}

// pack writes the archive of t; name is the policy's, for errors.
func (t *tree) pack(name string) (archive []byte, hash string, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	epoch := time.Unix(0, 0)
	for _, p := range t.paths() {
		hdr := &tar.Header{Name: p, ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg}
		f := t.files[p]
		switch {
		case f == nil:
			hdr.Name, hdr.Mode, hdr.Typeflag = p+"/", 0o755, tar.TypeDir
		case f.exec:
			hdr.Mode = 0o755
		}
		if f != nil {
			hdr.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, "", fmt.Errorf("pack %s: %w", p, err)
		}
		if f != nil {
			if _, err := tw.Write(f.data); err != nil {
				return nil, "", fmt.Errorf("pack %s: %w", p, err)
			}
		}
		if raw.Len() > MaxSize {
			return nil, "", fmt.Errorf("policy %s: %w", name, ErrTooLarge)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if raw.Len() > MaxSize {
		return nil, "", fmt.Errorf("policy %s: %w", name, ErrTooLarge)
	}
	sum := sha256.Sum256(raw.Bytes())
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}
