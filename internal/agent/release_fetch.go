package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// downloadBuffer is the size of the buffer a download is copied through:
// large, so that a 100 MB artifact takes few writes.
const downloadBuffer = 1 << 20

// serverURL returns the URL of the server the agent enrolled with, from
// agent.json.
func (a *agent) serverURL() (string, error) {
	var st enrolled
	if err := readJSON(filepath.Join(a.cfg.StateDir, stateFile), &st); err != nil {
		return "", fmt.Errorf("the server's address: %w", err)
	}
	if st.Server == "" {
		return "", fmt.Errorf("%s names no server: enrol the host again", filepath.Join(a.cfg.StateDir, stateFile))
	}
	return strings.TrimSuffix(st.Server, "/"), nil
}

// artifactTransport is an HTTP transport to the server that presents the
// host's certificate and trusts the fleet's CA only. HTTP/1.1: one
// stream per download, with no flow-control window to slow it.
func (a *agent) artifactTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{a.ident.cert},
			RootCAs:      a.ident.ca,
			MinVersion:   tls.VersionTLS12,
		},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		ReadBufferSize:        256 << 10,
		DisableCompression:    true, // an archive does not compress; the checksum is of the bytes sent
	}
}

// download fetches the task's artifact into Dir/.download/<sha256>.part,
// hashing it as it is written, and returns the file and its size. A file
// of another size or checksum than the task's is removed and refused.
func (r *releaseRun) download(ctx context.Context) (string, int64, error) {
	art := r.t.Artifact
	server, err := r.a.serverURL()
	if err != nil {
		return "", 0, err
	}
	dir := r.local(path.Join(r.t.Dir, ".download"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	part := filepath.Join(dir, art.SHA256+".part")
	url := server + art.Path
	tr := r.a.artifactTransport()
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", 0, fmt.Errorf("download %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if art.Size > 0 && resp.ContentLength >= 0 && resp.ContentLength != art.Size {
		return "", 0, fmt.Errorf("download %s: size mismatch: expected %d bytes, the server sends %d", url, art.Size, resp.ContentLength)
	}
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", 0, err
	}
	fail := func(err error) (string, int64, error) {
		f.Close()
		os.Remove(part)
		return "", 0, err
	}
	h := sha256.New()
	var body io.Reader = resp.Body
	if art.Size > 0 {
		body = io.LimitReader(resp.Body, art.Size+1) // one more tells a longer body
	}
	// One pass: each buffer read is written to the file and hashed.
	n, err := io.CopyBuffer(io.MultiWriter(f, h), body, make([]byte, downloadBuffer))
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fail(fmt.Errorf("download %s: %w (after %d bytes)", url, err, n))
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if art.Size > 0 && n != art.Size {
		return fail(fmt.Errorf("download %s: size mismatch: expected %d bytes, got %d", url, art.Size, n))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != art.SHA256 {
		return fail(fmt.Errorf("download %s: checksum mismatch: expected sha256:%s, got sha256:%s", url, art.SHA256, got))
	}
	return part, n, nil
}

// pruneDownloads removes partial downloads older than incompleteAge.
func (r *releaseRun) pruneDownloads() {
	dir := r.local(path.Join(r.t.Dir, ".download"))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > incompleteAge {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				r.a.log.Warn("cannot remove a partial download", "path", filepath.Join(dir, e.Name()), "err", err)
			}
		}
	}
}
