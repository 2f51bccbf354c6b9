package agent

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/promise"
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

// get requests the task's artifact from the server. The caller closes the
// body and the transport's idle connections.
func (r *releaseRun) get(ctx context.Context) (io.ReadCloser, string, *http.Transport, error) {
	art := r.t.Artifact
	server, err := r.a.serverURL()
	if err != nil {
		return nil, "", nil, err
	}
	url := server + art.Path
	tr := r.a.artifactTransport()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, url, tr, fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, url, tr, fmt.Errorf("download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, url, tr, fmt.Errorf("download %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if art.Size > 0 && resp.ContentLength >= 0 && resp.ContentLength != art.Size {
		resp.Body.Close()
		return nil, url, tr, fmt.Errorf("download %s: size mismatch: expected %d bytes, the server sends %d", url, art.Size, resp.ContentLength)
	}
	var body io.Reader = resp.Body
	if art.Size > 0 {
		body = io.LimitReader(resp.Body, art.Size+1) // one more tells a longer body
	}
	return struct {
		io.Reader
		io.Closer
	}{body, resp.Body}, url, tr, nil
}

// verify checks what was read of the artifact: n bytes hashing to sum.
func (r *releaseRun) verify(url string, n int64, sum []byte) error {
	art := r.t.Artifact
	if art.Size > 0 && n != art.Size {
		return fmt.Errorf("download %s: size mismatch: expected %d bytes, got %d", url, art.Size, n)
	}
	if got := hex.EncodeToString(sum); got != art.SHA256 {
		return fmt.Errorf("download %s: checksum mismatch: expected sha256:%s, got sha256:%s", url, art.SHA256, got)
	}
	return nil
}

// hashing counts and hashes what is read through it.
type hashing struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashing) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

// fetchExtract downloads a tar or tar.gz artifact and extracts it into
// incoming as it arrives, hashing it on the way: the artifact is read once
// and written once. A size or checksum other than the task's removes
// incoming and refuses the artifact. It returns the bytes downloaded and
// the entries extracted.
func (r *releaseRun) fetchExtract(ctx context.Context, incoming string) (int64, int, error) {
	body, url, tr, err := r.get(ctx)
	if tr != nil {
		defer tr.CloseIdleConnections()
	}
	if err != nil {
		return 0, 0, err
	}
	defer body.Close()
	hr := &hashing{r: bufio.NewReaderSize(body, downloadBuffer), h: sha256.New()}
	n, err := promise.ExtractStream(ctx, hr, r.t.Artifact.Format, incoming, r.t.Strip, r.t.Owner, r.t.Group)
	if err == nil {
		// What follows the archive's end (tar padding, the gzip trailer
		// read ahead) is part of the checksum too.
		_, err = io.Copy(io.Discard, hr)
	}
	if errors.Is(err, promise.ErrUnsafeArchive) {
		return hr.n, 0, fmt.Errorf("artifact %w", err) // "artifact refused, nothing extracted: unsafe entry …"
	}
	if err != nil {
		os.RemoveAll(incoming)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if verr := r.verify(url, hr.n, hr.h.Sum(nil)); verr != nil && hr.n >= r.t.Artifact.Size {
			return hr.n, 0, verr // a wrong artifact, rather than a broken one
		}
		return hr.n, 0, fmt.Errorf("download %s: %w (after %d bytes)", url, err, hr.n)
	}
	if err := r.verify(url, hr.n, hr.h.Sum(nil)); err != nil {
		os.RemoveAll(incoming)
		return hr.n, 0, err
	}
	return hr.n, n, nil
}

// download fetches the task's artifact into Dir/.download/<sha256>.part,
// hashing it as it is written, and returns the file and its size: for a
// zip, which is not read as a stream. A file of another size or checksum
// than the task's is removed and refused.
func (r *releaseRun) download(ctx context.Context) (string, int64, error) {
	dir := r.local(path.Join(r.t.Dir, ".download"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	part := filepath.Join(dir, r.t.Artifact.SHA256+".part")
	body, url, tr, err := r.get(ctx)
	if tr != nil {
		defer tr.CloseIdleConnections()
	}
	if err != nil {
		return "", 0, err
	}
	defer body.Close()
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
	if err := r.verify(url, n, h.Sum(nil)); err != nil {
		return fail(err)
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
