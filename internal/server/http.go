package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/sqlstore"
)

// adminActor is the actor of requests made with the admin token.
const adminActor = "admin"

// actor is who makes a request: the admin token's "admin", or a user
// (phenix users add), who is an admin or not.
type actor struct {
	Name  string
	Admin bool
}

type actorKey struct{}

// actorOf returns the actor of an authenticated request.
func actorOf(r *http.Request) actor {
	a, _ := r.Context().Value(actorKey{}).(actor)
	return a
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /api/v1/ca", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.caPEM)
	})
	mux.HandleFunc("POST /api/v1/enrol", s.handleEnrol)

	route := func(pattern string, adminOnly bool, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			a, ok := s.authenticate(r)
			if !ok {
				writeError(w, http.StatusUnauthorized, api.Error{Error: "missing or wrong API token (--token or PHENIX_TOKEN)"})
				return
			}
			if adminOnly && !a.Admin {
				writeError(w, http.StatusForbidden, api.Error{Error: "user " + a.Name + " is not an admin: this needs an admin token"})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), actorKey{}, a))
			if err := h(w, r); err != nil {
				s.writeErr(w, r, err)
			}
		})
	}
	// admin routes need an admin; user routes any user, and check what
	// the user may do themselves (an environment's deployers, approvers).
	admin := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) { route(pattern, true, h) }
	user := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) { route(pattern, false, h) }
	admin("GET /api/v1/hosts", s.handleHosts)
	admin("POST /api/v1/hosts/{id}/accept", s.handleAccept)
	admin("POST /api/v1/hosts/{id}/revoke", s.handleRevoke)
	admin("POST /api/v1/hosts/{id}/labels", s.handleLabels)
	admin("POST /api/v1/tokens", s.handleToken)
	admin("POST /api/v1/jobs", s.handleStartJob)
	admin("GET /api/v1/jobs", s.handleJobs)
	admin("GET /api/v1/jobs/{id}", s.handleJob)
	admin("GET /api/v1/jobs/{id}/events", s.handleEvents)
	admin("GET /api/v1/ops", s.handleOps)
	admin("POST /api/v1/policy", s.handlePolicyPush)
	admin("GET /api/v1/policy", s.handlePolicies)
	admin("PUT /api/v1/secrets/{name}", s.handleSecretPut)
	admin("GET /api/v1/secrets", s.handleSecrets)
	admin("DELETE /api/v1/secrets/{name}", s.handleSecretDelete)
	admin("GET /api/v1/drift", s.handleDrift)
	admin("GET /api/v1/journal", s.handleJournal)
	admin("GET /api/v1/journal/verify", s.handleJournalVerify)

	user("GET /api/v1/apps", s.handleApps)
	user("PUT /api/v1/apps/{app}/versions/{version}", s.handleUpload)
	user("GET /api/v1/apps/{app}/versions", s.handleVersions)
	user("GET /api/v1/apps/{app}/status", s.handleStatus)
	user("POST /api/v1/apps/{app}/deployments", s.handleDeploy)
	user("GET /api/v1/apps/{app}/deployments", s.handleDeployments)
	user("GET /api/v1/deployments/{id}", s.handleDeployment)
	user("GET /api/v1/deployments/{id}/events", s.handleDeploymentEvents)
	user("POST /api/v1/apps/{app}/approvals", s.handleApprove)
	user("DELETE /api/v1/apps/{app}/locks/{env}", s.handleUnlock)
	mux.HandleFunc("GET /api/v1/artifacts/{sha256}", s.handleArtifact) // hosts (client certificate) or users
	admin("POST /api/v1/users", s.handleUserCreate)
	admin("GET /api/v1/users", s.handleUsers)
	admin("DELETE /api/v1/users/{name}", s.handleUserDelete)
	return mux
}

// authenticate returns who the request's bearer token belongs to: the
// admin token, or a user's token (phenix users add).
func (s *Server) authenticate(r *http.Request) (actor, bool) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return actor{}, false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1 {
		return actor{Name: adminActor, Admin: true}, true
	}
	if !strings.HasPrefix(got, userTokenPrefix) {
		return actor{}, false
	}
	u, err := s.db.UserByTokenHash(r.Context(), hashToken(got))
	if err != nil {
		if !errors.Is(err, sqlstore.ErrNotFound) {
			s.log.Error("authenticate", "err", err)
		}
		return actor{}, false
	}
	return actor{Name: u.Name, Admin: u.Admin}, true
}

// inputError is a request refused as bad input: 400, naming the field.
type inputError struct {
	field string
	err   error
}

func (e *inputError) Error() string { return e.field + ": " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func badRequest(field string, format string, args ...any) error {
	return &inputError{field: field, err: fmt.Errorf(format, args...)}
}

// statusError is an error with an HTTP status other than 400 and 500.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// conflict refuses a request that the current state does not allow: 409.
func conflict(format string, args ...any) error {
	return &statusError{code: http.StatusConflict, msg: fmt.Sprintf(format, args...)}
}

// forbidden refuses a request the actor may not make: 403.
func forbidden(format string, args ...any) error {
	return &statusError{code: http.StatusForbidden, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inputError
	var se *statusError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, api.Error{Error: ie.err.Error(), Field: ie.field})
	case errors.As(err, &se):
		writeError(w, se.code, api.Error{Error: se.msg})
	case errors.Is(err, sqlstore.ErrNotFound):
		writeError(w, http.StatusNotFound, api.Error{Error: err.Error()})
	case errors.Is(err, sqlstore.ErrConflict) || errors.As(err, new(*sqlstore.LockedError)):
		writeError(w, http.StatusConflict, api.Error{Error: err.Error()})
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
	}
}

func writeError(w http.ResponseWriter, code int, e api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(e)
}

func writeOK(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes the request body into v, refusing unknown fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest(ute.Field, "expected %s, got %s", ute.Type, ute.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest(strings.Trim(f, `"`), "unknown field")
		}
		return badRequest("body", "%v", err)
	}
	return nil
}

// queryTime reads a time query parameter: RFC 3339, or a duration meaning
// that long ago ("1h").
func queryTime(r *http.Request, name string, now time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest(name, "expected a time (RFC 3339) or a duration (1h), got %q", v)
	}
	return t, nil
}

func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest(name, "expected a number >= 0, got %q", v)
	}
	return n, nil
}

// journal appends an entry; a failure is logged, never hidden.
func (s *Server) journal(e journal.Entry) {
	if _, err := s.db.AppendJournal(s.ctx, e); err != nil {
		s.log.Error("journal append failed", "action", e.Action, "err", err)
	}
}

func (s *Server) handleJournal(w http.ResponseWriter, r *http.Request) error {
	since, err := queryTime(r, "since", time.Now())
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 0)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	es, err := s.db.Journal(r.Context(), journal.Filter{Host: q.Get("host"), Actor: q.Get("actor"), Since: since, Limit: limit})
	if err != nil {
		return err
	}
	if es == nil {
		es = []journal.Entry{}
	}
	return writeOK(w, es)
}

func (s *Server) handleJournalVerify(w http.ResponseWriter, r *http.Request) error {
	es, err := s.db.JournalAll(r.Context())
	if err != nil {
		return err
	}
	out := api.VerifyResponse{OK: true, Entries: len(es)}
	if err := s.db.VerifyJournal(r.Context()); err != nil {
		out.OK = false
		out.Error = err.Error()
	}
	return writeOK(w, out)
}
