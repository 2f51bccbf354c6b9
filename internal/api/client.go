package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the API of one server.
type Client struct {
	Base  string // https://host:port
	Token string
	HTTP  *http.Client
}

// NewClient returns a client of the server at base that trusts only the
// certificates ca issued (nil: the system's roots).
func NewClient(base, token string, ca *x509.CertPool) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca, MinVersion: tls.VersionTLS12}
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Transport: tr}}
}

// StatusError is an error response of the server.
type StatusError struct {
	Code int
	Body Error
}

func (e *StatusError) Error() string {
	if e.Body.Field != "" {
		return fmt.Sprintf("%s: %s", e.Body.Field, e.Body.Error)
	}
	if e.Body.Error != "" {
		return e.Body.Error
	}
	return http.StatusText(e.Code)
}

// IsBadInput reports whether err is the server refusing a request as bad
// input (400) or naming something unknown (404).
func IsBadInput(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == http.StatusBadRequest || se.Code == http.StatusNotFound)
}

// Do sends a request with in as its JSON body (nil for none, []byte for a
// raw body) and decodes the JSON response into out (nil to discard it).
func (c *Client) Do(ctx context.Context, method, path string, in, out any, header ...string) error {
	resp, err := c.send(ctx, method, path, in, header...)
	if err != nil {
		return err
	}
	return decode(resp, method, path, out)
}

// DoBody sends body as a raw request body (Content-Type
// application/octet-stream unless header sets one), streamed as it is
// read: size is its length, sent as Content-Length, or -1 when unknown.
// It decodes the JSON response into out (nil to discard it) and returns
// the response's status code.
func (c *Client) DoBody(ctx context.Context, method, path string, body io.Reader, size int64, out any, header ...string) (int, error) {
	resp, err := c.sendBody(ctx, method, path, body, "application/octet-stream", size, header...)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, decode(resp, method, path, out)
}

// decode reads the JSON body of resp into out (nil to discard it) and
// closes it.
func decode(resp *http.Response, method, path string, out any) error {
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	// Read to the end (the encoder's newline), so that the stream ends
	// cleanly instead of being reset under the server's feet.
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any, header ...string) (*http.Response, error) {
	switch v := in.(type) {
	case nil:
		return c.sendBody(ctx, method, path, nil, "", -1, header...)
	case []byte:
		return c.sendBody(ctx, method, path, bytes.NewReader(v), "application/octet-stream", int64(len(v)), header...)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return c.sendBody(ctx, method, path, bytes.NewReader(b), "application/json", int64(len(b)), header...)
	}
}

// sendBody sends a request with body (nil for none) of size bytes (-1 when
// unknown) and returns the response, or a *StatusError for a status of 300
// or more.
func (c *Client) sendBody(ctx context.Context, method, path string, body io.Reader, ctype string, size int64, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		switch {
		case size == 0:
			// 0 with a body means "unknown" to net/http.
			req.Body, req.GetBody = http.NoBody, nil
			req.ContentLength = 0
		case size > 0:
			req.ContentLength = size
		default:
			req.ContentLength = -1 // chunked
		}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("phenix server %s: %w", c.Base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		se := &StatusError{Code: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &se.Body) != nil || se.Body.Error == "" {
			se.Body.Error = strings.TrimSpace(resp.Status + " " + string(b))
		}
		return nil, se
	}
	return resp, nil
}

// Hosts lists the hosts matching selector ("" for all).
func (c *Client) Hosts(ctx context.Context, selector string) (HostList, error) {
	var out HostList
	err := c.Do(ctx, "GET", "/api/v1/hosts?selector="+url.QueryEscape(selector), nil, &out)
	return out, err
}

// StartJob starts a job.
func (c *Client) StartJob(ctx context.Context, r JobRequest) (Job, error) {
	var out Job
	err := c.Do(ctx, "POST", "/api/v1/jobs", r, &out)
	return out, err
}

// Job returns a job with its results.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var out Job
	err := c.Do(ctx, "GET", "/api/v1/jobs/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Events streams the events of job id to fn until the job ends (the last
// event has Type "end") or ctx is done. A stream cut by the server going
// away is resumed: the server sends the results stored so far again, and
// Events passes each host's result to fn once.
func (c *Client) Events(ctx context.Context, id string, fn func(Event)) error {
	seen := map[string]bool{}
	return resume(ctx, func() (bool, error) { return c.events(ctx, id, seen, fn) })
}

// resume calls stream until it reports the end of what it streams, or
// fails with an error response of the server; a stream cut otherwise (the
// server restarting) is opened again after a short, growing delay.
func resume(ctx context.Context, stream func() (ended bool, err error)) error {
	for attempt := 0; ; attempt++ {
		ended, err := stream()
		if ended || ctx.Err() != nil {
			return err
		}
		var se *StatusError
		if errors.As(err, &se) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(min(attempt+1, 5)) * 200 * time.Millisecond):
		}
	}
}

func (c *Client) events(ctx context.Context, id string, seen map[string]bool, fn func(Event)) (bool, error) {
	resp, err := c.send(ctx, "GET", "/api/v1/jobs/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return false, fmt.Errorf("job %s: events: %w", id, err)
		}
		if ev.Type == "result" && ev.Result != nil {
			if seen[ev.Result.Host] {
				continue
			}
			seen[ev.Result.Host] = true
		}
		fn(ev)
		if ev.Type == "end" {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("job %s: events: %w", id, err)
	}
	return false, fmt.Errorf("job %s: events: stream ended early", id)
}
