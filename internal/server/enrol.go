package server

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/selector"
)

// clientValidity is how long a host's certificate is valid.
const clientValidity = 365 * 24 * time.Hour

// handleEnrol admits a host. With a valid join token it is accepted at
// once; otherwise it waits as pending, keyed by the public key of its
// first request, until phenix hosts accept: its next request with the same
// key then gets the certificate.
func (s *Server) handleEnrol(w http.ResponseWriter, r *http.Request) {
	resp, code, err := s.enrol(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) enrol(r *http.Request) (api.EnrolResponse, int, error) {
	var req api.EnrolRequest
	if err := readJSON(r, &req); err != nil {
		return api.EnrolResponse{}, 0, err
	}
	if err := pki.ValidateHostID(req.ID); err != nil {
		return api.EnrolResponse{}, 0, badRequest("id", "%v", err)
	}
	if err := host.ValidateLabels(req.Labels); err != nil {
		return api.EnrolResponse{}, 0, badRequest("labels", "%v", err)
	}
	pub, err := csrKey([]byte(req.CSR))
	if err != nil {
		return api.EnrolResponse{}, 0, badRequest("csr", "%v", err)
	}
	now := time.Now().UTC()
	ctx := r.Context()
	existing, known := s.hosts.get(req.ID)
	if known && existing.Status == host.Revoked {
		return api.EnrolResponse{}, 0, &statusError{code: http.StatusForbidden, msg: fmt.Sprintf("host %s is revoked; phenix hosts accept %s admits it again", req.ID, req.ID)}
	}
	pendingPath := filepath.Join(s.cfg.DataDir, "pending", req.ID+".csr")
	samePending := false
	if b, err := os.ReadFile(pendingPath); err == nil {
		if old, err := csrKey(b); err == nil && bytes.Equal(old, pub) {
			samePending = true
		} else if known && existing.Status == host.Pending && req.Token == "" {
			return api.EnrolResponse{}, 0, &statusError{code: http.StatusConflict, msg: fmt.Sprintf("host id %s is already waiting with another key; choose another --id", req.ID)}
		}
	}

	// An accepted host whose pending request is this one: hand out its
	// certificate.
	if known && existing.Status == host.Accepted && samePending {
		resp, err := s.issue(r, req)
		if err == nil {
			_ = os.Remove(pendingPath)
		}
		return resp, http.StatusOK, err
	}

	var tok *host.JoinToken
	tokenMsg := ""
	if req.Token != "" {
		id, secret, err := host.ParseSecret(req.Token)
		if err == nil {
			var t host.JoinToken
			t, err = s.db.RedeemToken(ctx, id, secret, now)
			if err == nil {
				tok = &t
			}
		}
		if err != nil {
			tokenMsg = "join token refused (" + strings.TrimPrefix(err.Error(), "redeem join token: ") + "); "
			if !errors.Is(err, host.ErrTokenInvalid) && !errors.Is(err, host.ErrTokenExpired) && !errors.Is(err, host.ErrTokenExhausted) {
				return api.EnrolResponse{}, 0, err
			}
		}
	}
	if tok == nil && known && existing.Status == host.Accepted {
		return api.EnrolResponse{}, 0, &statusError{code: http.StatusConflict, msg: fmt.Sprintf("%shost id %s is already enrolled; enrol it again with a valid join token, or choose another --id", tokenMsg, req.ID)}
	}

	h := host.Host{ID: req.ID, Hostname: req.Hostname, Labels: maps.Clone(req.Labels), Facts: req.Facts, EnrolledAt: now}
	if known {
		h.LastSeen, h.LastResult = existing.LastSeen, existing.LastResult
		if h.Labels == nil {
			h.Labels = existing.Labels
		}
	}
	if h.Hostname == "" {
		h.Hostname = req.ID
	}
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	if tok != nil {
		maps.Copy(h.Labels, tok.Labels) // the token's labels win over those asked for
		h.Status = host.Accepted
	} else {
		h.Status = host.Pending
	}
	if err := s.db.UpsertHost(ctx, h); err != nil {
		return api.EnrolResponse{}, 0, err
	}
	s.hosts.put(h)
	if tok == nil {
		if err := os.MkdirAll(filepath.Dir(pendingPath), 0o700); err != nil {
			return api.EnrolResponse{}, 0, fmt.Errorf("pending request: %w", err)
		}
		if !samePending {
			if err := writeFile(pendingPath, []byte(req.CSR), 0o600); err != nil {
				return api.EnrolResponse{}, 0, err
			}
			s.journal(journal.Entry{Actor: req.ID, Action: "host.pending", Hosts: []string{req.ID}, Params: h.Labels, Result: "pending",
				Summary: fmt.Sprintf("%s (%s) asked to join; %swaiting for phenix hosts accept", req.ID, h.Hostname, tokenMsg)})
		}
		return api.EnrolResponse{Status: string(host.Pending), Message: tokenMsg + "waiting for an operator: phenix hosts accept " + req.ID}, http.StatusAccepted, nil
	}
	_ = os.Remove(pendingPath)
	resp, err := s.issue(r, req)
	if err != nil {
		return resp, 0, err
	}
	s.journal(journal.Entry{Actor: req.ID, Action: "host.enrol", Hosts: []string{req.ID}, Params: h.Labels, Result: "ok",
		Summary: fmt.Sprintf("%s (%s) enrolled with join token %s", req.ID, h.Hostname, tok.ID)})
	return resp, http.StatusOK, nil
}

func (s *Server) issue(r *http.Request, req api.EnrolRequest) (api.EnrolResponse, error) {
	cert, err := s.ca.SignClient([]byte(req.CSR), req.ID, clientValidity)
	if err != nil {
		return api.EnrolResponse{}, badRequest("csr", "%v", err)
	}
	return api.EnrolResponse{Status: string(host.Accepted), Cert: string(cert), CA: string(s.caPEM), NATS: s.natsURLsFor(r.Host)}, nil
}

// csrKey returns the public key of a CSR, DER-encoded.
func csrKey(csrPEM []byte) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("expected a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(csr.PublicKey)
}

func (s *Server) apiHost(h host.Host, now time.Time) api.Host {
	labels := h.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return api.Host{
		ID: h.ID, Hostname: h.Hostname, Labels: labels, Facts: h.Facts, OS: osOf(h.Facts),
		Status: h.Presence(now, s.hosts.presenceTimeout()), EnrolledAt: h.EnrolledAt, LastSeen: h.LastSeen, LastResult: h.LastResult,
	}
}

// osOf names a host's system from its facts: "debian 12".
func osOf(f map[string]string) string {
	name := f["os_name"]
	if name == "" {
		name = f["os"]
	}
	if v := f["os_version"]; v != "" && name != "" {
		return name + " " + v
	}
	return name
}

// parseSelector parses a selector from request field; "" and "*" select
// every host. A selector that is one bare word naming a known host selects
// that host (id=WORD): "phenix run web-1 -- uptime" does what it says,
// though selector.Parse alone reads a bare word as "has the key WORD".
func (s *Server) parseSelector(field, q string) (selector.Selector, error) {
	if w := strings.TrimSpace(q); w != "" && pki.ValidateHostID(w) == nil && !strings.ContainsAny(w, "=!<>(), ") {
		if _, ok := s.hosts.get(w); ok {
			q = "id=" + w
		}
	}
	return parseSelector(field, q)
}

func parseSelector(field, s string) (selector.Selector, error) {
	sel, err := selector.Parse(s)
	if err != nil {
		return nil, badRequest(field, "%v", err)
	}
	return sel, nil
}

func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("selector")
	sel, err := s.parseSelector("selector", q)
	if err != nil {
		return err
	}
	now := time.Now()
	out := api.HostList{Selector: sel.String(), Hosts: []api.Host{}}
	for _, h := range s.hosts.match(sel, true) {
		out.Hosts = append(out.Hosts, s.apiHost(h, now))
	}
	return writeOK(w, out)
}

func (s *Server) hostOr404(id string) (host.Host, error) {
	h, ok := s.hosts.get(id)
	if !ok {
		return h, notFound("no host %q (phenix hosts lists them)", id)
	}
	return h, nil
}

func (s *Server) handleAccept(w http.ResponseWriter, r *http.Request) error {
	h, err := s.hostOr404(r.PathValue("id"))
	if err != nil {
		return err
	}
	if h.Status != host.Accepted {
		if err := s.db.SetHostStatus(r.Context(), h.ID, host.Accepted); err != nil {
			return err
		}
		s.hosts.update(h.ID, func(x *host.Host) { x.Status = host.Accepted })
		s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "host.accept", Hosts: []string{h.ID}, Result: "ok", Summary: fmt.Sprintf("accepted %s (was %s)", h.ID, h.Status)})
		h.Status = host.Accepted
	}
	return writeOK(w, s.apiHost(h, time.Now()))
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	h, err := s.hostOr404(r.PathValue("id"))
	if err != nil {
		return err
	}
	if h.Status != host.Revoked {
		if err := s.db.SetHostStatus(r.Context(), h.ID, host.Revoked); err != nil {
			return err
		}
		s.hosts.update(h.ID, func(x *host.Host) { x.Status = host.Revoked })
		n := s.bus.Kick(h.ID)
		_ = os.Remove(filepath.Join(s.cfg.DataDir, "pending", h.ID+".csr"))
		s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "host.revoke", Hosts: []string{h.ID}, Result: "ok",
			Summary: fmt.Sprintf("revoked %s (was %s); %d connection(s) closed", h.ID, h.Status, n)})
		h.Status = host.Revoked
	}
	return writeOK(w, s.apiHost(h, time.Now()))
}

func (s *Server) handleLabels(w http.ResponseWriter, r *http.Request) error {
	h, err := s.hostOr404(r.PathValue("id"))
	if err != nil {
		return err
	}
	var req api.LabelRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := host.ValidateLabels(req.Set); err != nil {
		return badRequest("set", "%v", err)
	}
	labels := maps.Clone(h.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, req.Set)
	for _, k := range req.Remove {
		delete(labels, k)
	}
	if err := s.db.SetLabels(r.Context(), h.ID, labels); err != nil {
		return err
	}
	s.hosts.update(h.ID, func(x *host.Host) { x.Labels = maps.Clone(labels) })
	params := maps.Clone(req.Set)
	if params == nil {
		params = map[string]string{}
	}
	for _, k := range req.Remove {
		params[k] = "(removed)"
	}
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "host.label", Hosts: []string{h.ID}, Params: params, Result: "ok",
		Summary: fmt.Sprintf("labels of %s: %s", h.ID, host.FormatLabels(labels))})
	h.Labels = labels
	return writeOK(w, s.apiHost(h, time.Now()))
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	var req api.TokenRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.MaxUses < 0 {
		return badRequest("max_uses", "must be 0 (no limit) or more, got %d", req.MaxUses)
	}
	if req.TTL < 0 {
		return badRequest("ttl", "must be 0 (no expiry) or more")
	}
	if err := host.ValidateLabels(req.Labels); err != nil {
		return badRequest("labels", "%v", err)
	}
	now := time.Now().UTC()
	var exp time.Time
	if req.TTL > 0 {
		exp = now.Add(time.Duration(req.TTL))
	}
	tok, secret, err := host.NewJoinToken(actorOf(r).Name, req.Labels, req.MaxUses, exp, now)
	if err != nil {
		return badRequest("token", "%v", err)
	}
	if err := s.db.CreateToken(r.Context(), tok); err != nil {
		return err
	}
	params := map[string]string{"max_uses": fmt.Sprint(req.MaxUses), "ttl": time.Duration(req.TTL).String()}
	for k, v := range req.Labels {
		params["label."+k] = v
	}
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "token.create", Params: params, Result: "ok", Summary: "join token " + tok.ID + " created"})
	base := "https://" + r.Host
	return writeOK(w, api.TokenResponse{
		ID: tok.ID, Token: secret, ExpiresAt: exp, CAHash: s.caHash,
		Command: fmt.Sprintf("phenix agent --server %s --join-token %s --ca-hash %s", base, secret, s.caHash),
	})
}
