// Package api holds the HTTP JSON API of the phenix server — the types of
// its requests and responses — and Client, the CLI's only way in.
//
// Every route is under /api/v1 and, but for /api/v1/ca and /api/v1/enrol
// (which agents call before they have credentials, guarded by join
// tokens), takes the admin token as "Authorization: Bearer <token>".
// Errors are an Error body with the HTTP status: 400 for bad input (Field
// names what was wrong), 401, 404, 409 for a conflict.
//
//	GET    /api/v1/ca                     the fleet CA, PEM
//	POST   /api/v1/enrol                  EnrolRequest → EnrolResponse
//	GET    /api/v1/hosts?selector=S       → HostList
//	POST   /api/v1/hosts/{id}/accept      → Host
//	POST   /api/v1/hosts/{id}/revoke      → Host
//	POST   /api/v1/hosts/{id}/labels      LabelRequest → Host
//	POST   /api/v1/tokens                 TokenRequest → TokenResponse
//	POST   /api/v1/jobs                   JobRequest → Job
//	GET    /api/v1/jobs?limit=N           → []Job
//	GET    /api/v1/jobs/{id}              → Job (with Results)
//	GET    /api/v1/jobs/{id}/events       → newline-delimited Event until the job ends
//	GET    /api/v1/ops                    → []Op of the latest policy
//	POST   /api/v1/policy                 tar.gz body (policy.Pack), X-Phenix-Commit → PolicyRevision
//	GET    /api/v1/policy                 → []PolicyRevision
//	PUT    /api/v1/secrets/{name}?select=S  body is the value → 204
//	GET    /api/v1/secrets                → []Secret (no values)
//	DELETE /api/v1/secrets/{name}?select=S → 204
//	GET    /api/v1/drift?selector=S&since=T → []Drift
//	GET    /api/v1/journal?host=&actor=&since=&limit= → []journal.Entry
//	GET    /api/v1/journal/verify         → VerifyResponse
package api

import (
	"encoding/json"
	"time"
)

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"` // the request field at fault, for 400
}

// EnrolRequest is what an agent sends to join the fleet.
type EnrolRequest struct {
	ID       string            `json:"id"`
	Hostname string            `json:"hostname"`
	CSR      string            `json:"csr"`             // PEM, from pki.NewKey
	Token    string            `json:"token,omitempty"` // a join token; without a valid one the host waits as pending
	Labels   map[string]string `json:"labels,omitempty"`
	Facts    map[string]string `json:"facts,omitempty"`
}

// EnrolResponse answers an EnrolRequest. Status is "accepted" (Cert is
// set) or "pending" (ask again later with the same key).
type EnrolResponse struct {
	Status  string   `json:"status"`
	Cert    string   `json:"cert,omitempty"` // PEM, the host's client certificate
	CA      string   `json:"ca,omitempty"`   // PEM
	NATS    []string `json:"nats,omitempty"` // URLs of the bus
	Message string   `json:"message,omitempty"`
}

// Host is a host as the API shows it.
type Host struct {
	ID         string            `json:"id"`
	Hostname   string            `json:"hostname"`
	Labels     map[string]string `json:"labels"`
	Facts      map[string]string `json:"facts,omitempty"`
	OS         string            `json:"os"`
	Status     string            `json:"status"` // online, offline, pending, revoked
	EnrolledAt time.Time         `json:"enrolled_at"`
	LastSeen   time.Time         `json:"last_seen"`
	LastResult string            `json:"last_result"`
}

// HostList answers GET /hosts.
type HostList struct {
	Selector string `json:"selector"`
	Hosts    []Host `json:"hosts"`
}

// LabelRequest sets and removes labels of a host.
type LabelRequest struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// TokenRequest creates a join token.
type TokenRequest struct {
	Labels  map[string]string `json:"labels,omitempty"`
	MaxUses int               `json:"max_uses"` // 0 for no limit
	TTL     Duration          `json:"ttl"`      // 0 for no expiry
}

// TokenResponse carries the token's secret, shown once.
type TokenResponse struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	CAHash    string    `json:"ca_hash"` // sha256:<hex> of the CA certificate, for phenix agent --ca-hash
	Command   string    `json:"command"` // a phenix agent command line that joins with it
}

// JobRequest starts a job.
type JobRequest struct {
	Kind     string            `json:"kind"` // run, op, apply
	Selector string            `json:"selector"`
	Command  []string          `json:"command,omitempty"` // run
	Op       string            `json:"op,omitempty"`      // op
	Params   map[string]string `json:"params,omitempty"`  // op
	DryRun   bool              `json:"dry_run,omitempty"` // apply
	Timeout  Duration          `json:"timeout,omitempty"`
	Batch    string            `json:"batch,omitempty"` // N or N%
}

// Job is a job and, from GET /jobs/{id}, its results.
type Job struct {
	ID        string      `json:"id"`
	Kind      string      `json:"kind"`
	Actor     string      `json:"actor"`
	Selector  string      `json:"selector"`
	Spec      any         `json:"spec"`
	Hosts     []string    `json:"hosts"`
	Timeout   Duration    `json:"timeout"`
	Batch     string      `json:"batch,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	EndedAt   time.Time   `json:"ended_at,omitzero"`
	Result    string      `json:"result,omitempty"`
	Summary   string      `json:"summary,omitempty"`
	Results   []JobResult `json:"results,omitempty"`
}

// JobResult is one host's result.
type JobResult struct {
	Host      string          `json:"host"`
	Hostname  string          `json:"hostname,omitempty"`
	Status    string          `json:"status"`
	ExitCode  int             `json:"exit_code"`
	Output    string          `json:"output,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
}

// Event is one line of GET /jobs/{id}/events.
type Event struct {
	Type   string     `json:"type"` // output, result, end
	Host   string     `json:"host,omitempty"`
	Stream string     `json:"stream,omitempty"` // output: stdout, stderr
	Data   string     `json:"data,omitempty"`   // output
	Result *JobResult `json:"result,omitempty"` // result
	Job    *Job       `json:"job,omitempty"`    // end
}

// Op is an operation of the latest policy.
type Op struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Select      string    `json:"select"`
	Timeout     Duration  `json:"timeout"`
	Params      []OpParam `json:"params"`
}

// OpParam is a parameter of an Op.
type OpParam struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     string   `json:"default,omitempty"`
	Values      []string `json:"values,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Min         *int64   `json:"min,omitempty"`
	Max         *int64   `json:"max,omitempty"`
}

// PolicyRevision is a pushed policy.
type PolicyRevision struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Commit    string    `json:"commit,omitempty"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_at"`
	Hosts     int       `json:"hosts"` // hosts notified (POST only)
}

// Secret names a secret; its value never leaves the server but to the
// hosts it is for.
type Secret struct {
	Name      string    `json:"name"`
	Selector  string    `json:"selector"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Drift is one drift report of a host.
type Drift struct {
	ID       string          `json:"id"`
	Host     string          `json:"host"`
	Time     time.Time       `json:"time"`
	Revision string          `json:"revision"`
	Trigger  string          `json:"trigger"`
	Result   string          `json:"result"`
	Changes  json.RawMessage `json:"changes"`
}

// VerifyResponse answers GET /journal/verify.
type VerifyResponse struct {
	OK      bool   `json:"ok"`
	Entries int    `json:"entries"`
	Error   string `json:"error,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("90s"); a number is read as nanoseconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
