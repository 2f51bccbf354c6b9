package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// session is the HTTP state of one attempt: its connections and, for a
// scenario, the cookies its steps share.
type session struct {
	jar        http.CookieJar
	transports map[bool]*http.Transport // by Insecure
}

func newSession() *session {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &session{jar: jar, transports: map[bool]*http.Transport{}}
}

// transport returns the session's transport. It uses no proxy: a check
// reaches the host itself.
func (s *session) transport(insecure bool) *http.Transport {
	t := s.transports[insecure]
	if t == nil {
		t = &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: insecure},
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
		}
		s.transports[insecure] = t
	}
	return t
}

func (s *session) close() {
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
}

// response is what a check looks at of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte // at most MaxBody bytes
}

// do sends h's request and judges the response. The response is nil when
// none came.
func (s *session) do(ctx context.Context, h *HTTPCheck, data map[string]any) (*response, error) {
	u, err := render("url", h.URL, data)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	contentType := ""
	switch {
	case h.Form != nil:
		form := url.Values{}
		for k, v := range h.Form {
			r, err := render("form "+k, v, data)
			if err != nil {
				return nil, err
			}
			form.Set(k, r)
		}
		body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case h.Body != "":
		b, err := render("body", h.Body, data)
		if err != nil {
			return nil, err
		}
		body = strings.NewReader(b)
	}
	reqCtx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, h.Method, u, body)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url %q: %v", u, err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
		return nil, fmt.Errorf("url %q: expected an http:// or https:// URL with a host", u)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "phenix-check")
	for k, v := range h.Headers {
		r, err := render("headers "+k, v, data)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(k, "Host") {
			req.Host = r
		} else {
			req.Header.Set(k, r)
		}
	}
	client := &http.Client{Transport: s.transport(h.Insecure), Jar: s.jar}
	if !h.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	what := h.Method + " " + u
	resp, err := client.Do(req)
	if err != nil {
		return nil, requestError(ctx, reqCtx, what, h.Timeout, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		err = requestError(ctx, reqCtx, what, h.Timeout, err)
		return nil, fmt.Errorf("status %d, then reading the body: %w", resp.StatusCode, err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	return r, h.judge(r, data)
}

// requestError says why no response came.
func requestError(ctx, reqCtx context.Context, what string, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() == nil && errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: no response within %v", what, timeout)
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return fmt.Errorf("%s: %v (insecure: true skips this verification)", what, err)
	}
	return fmt.Errorf("%s: %v", what, err)
}

// judge checks a response against h's expectations.
func (h *HTTPCheck) judge(r *response, data map[string]any) error {
	if !slices.Contains(h.Status, r.status) {
		return fmt.Errorf("status %d, want %s (%s)", r.status, oneOf(h.Status), excerpt(r.body))
	}
	if h.Contains != "" {
		want, err := render("contains", h.Contains, data)
		if err != nil {
			return err
		}
		if !bytes.Contains(r.body, []byte(want)) {
			return fmt.Errorf("body does not contain %q (%s)", want, excerpt(r.body))
		}
	}
	if h.Matches != nil && !h.Matches.Match(r.body) {
		return fmt.Errorf("body does not match /%s/ (%s)", h.Matches, excerpt(r.body))
	}
	for _, m := range h.ResponseHeaders {
		vals := r.header.Values(m.Name)
		if len(vals) == 0 {
			return fmt.Errorf("no %s header, want one matching /%s/", m.Name, m.Regexp)
		}
		if !slices.ContainsFunc(vals, m.Regexp.MatchString) {
			return fmt.Errorf("header %s is %q, want a match for /%s/", m.Name, strings.Join(vals, ", "), m.Regexp)
		}
	}
	return nil
}

// oneOf writes statuses as "200", "200 or 204", "200, 201 or 204".
func oneOf(st []int) string {
	var b strings.Builder
	for i, s := range st {
		switch {
		case i == 0:
		case i == len(st)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(s))
	}
	return b.String()
}

// runScenario runs the steps in order, sharing cookies, until one fails.
func runScenario(ctx context.Context, steps []Step, v Vars) ([]StepResult, error) {
	s := newSession()
	defer s.close()
	captures := map[string]any{}
	var out []StepResult
	for i, st := range steps {
		t0 := time.Now()
		r, err := s.do(ctx, &st.HTTPCheck, templateData(v, captures))
		if err == nil {
			err = capture(st.Capture, r, captures)
		}
		sr := StepResult{Name: st.Name, Duration: time.Since(t0)}
		if r != nil {
			sr.Status = r.status
		}
		if err != nil {
			sr.Error = err.Error()
			out = append(out, sr)
			label := "step " + strconv.Itoa(i+1)
			if st.Name != label {
				label += " (" + st.Name + ")"
			}
			return out, fmt.Errorf("%s: %w", label, err)
		}
		out = append(out, sr)
	}
	return out, nil
}

// capture adds to captures the values caps take from r.
func capture(caps []Capture, r *response, captures map[string]any) error {
	for _, c := range caps {
		var val string
		switch {
		case c.Regex != nil:
			m := c.Regex.FindSubmatch(r.body)
			if m == nil {
				return fmt.Errorf("capture %s: no match for /%s/ (%s)", c.Name, c.Regex, excerpt(r.body))
			}
			val = string(m[min(1, len(m)-1)])
		case c.JSON != "":
			v, err := lookupJSON(r.body, c.JSON)
			if err != nil {
				return fmt.Errorf("capture %s: %v (%s)", c.Name, err, excerpt(r.body))
			}
			val = v
		case c.Header != "":
			vals := r.header.Values(c.Header)
			if len(vals) == 0 {
				return fmt.Errorf("capture %s: no %s header in the response", c.Name, c.Header)
			}
			val = vals[0]
		}
		captures[c.Name] = val
	}
	return nil
}
