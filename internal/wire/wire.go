// Package wire defines the messages the phenix server and its agents
// exchange over the bus (package bus), and the subject kinds they travel on.
//
// Every message is JSON. The subjects are per host (bus.Up, bus.Down):
//
//	agent → server   phenix.up.<id>.<kind>
//	  hello    request  Hello → HelloReply     at every (re)connection and when facts change
//	  hb       publish  Heartbeat              every HelloReply.Heartbeat, with jitter
//	  out      publish  Output                 live output of a running job (best effort)
//	  result   request  Result → Ack           until acknowledged: the agent keeps it on disk
//	  policy   request  PolicyRequest → PolicyReply
//	  drift    request  Drift → Ack            until acknowledged, like results
//
//	server → agent   phenix.down.<id>.<kind>
//	  job      publish  Job                    one per host; a repeated Job (same ID) is not run twice
//	  policy   publish  PolicyNotice           a new policy revision exists
//
// Delivery is at least once where it matters: results and drift reports are
// retried by the agent until the server acknowledges that it stored them,
// and the server stores a (job, host) result once (sqlstore.SetResults,
// sqlstore.AddDrift), so a result produced while the server was away is
// delivered when it is back, never lost and never counted twice. A job is
// published again to the hosts that have not answered when the server
// restarts; the agent remembers the jobs it ran and answers a repeated one
// with the result it already has.
package wire

import (
	"encoding/json"
	"time"
)

// Subject kinds.
const (
	KindHello  = "hello"
	KindHB     = "hb"
	KindOut    = "out"
	KindResult = "result"
	KindPolicy = "policy"
	KindDrift  = "drift"
	KindJob    = "job"
)

// Hello is the first message of an agent on every connection.
type Hello struct {
	Hostname string            `json:"hostname"`
	Facts    map[string]string `json:"facts"` // flattened (selector.FlattenFacts)
	Version  string            `json:"version"`
	Revision string            `json:"revision,omitempty"` // the policy revision the agent keeps
}

// HelloReply tells an agent how to behave in this fleet.
type HelloReply struct {
	Heartbeat time.Duration `json:"heartbeat"`  // how often to send Heartbeat
	FleetSize int           `json:"fleet_size"` // accepted hosts: the agent scales its reconnect jitter with it
	Revision  string        `json:"revision"`   // the latest policy revision, "" if none
}

// Heartbeat says an agent is alive.
type Heartbeat struct {
	Revision   string `json:"revision,omitempty"`    // policy revision kept
	LastResult string `json:"last_result,omitempty"` // of the last convergence: ok, changed, failed
}

// Job kinds.
const (
	JobRun   = "run"   // run a command (phenix run)
	JobOp    = "op"    // run an operation, rendered by the server (phenix op run)
	JobApply = "apply" // converge the policy now (phenix apply SELECTOR)
)

// Job asks an agent to do something once.
type Job struct {
	ID      string        `json:"id"`
	Kind    string        `json:"kind"`
	Argv    []string      `json:"argv,omitempty"` // run and op
	Env     []string      `json:"env,omitempty"`  // added to the agent's environment, KEY=value
	Timeout time.Duration `json:"timeout"`        // the agent kills the command after it: status timeout
	DryRun  bool          `json:"dry_run,omitempty"`
	Release *ReleaseTask  `json:"release,omitempty"` // release and check
}

// Output is a piece of a job's output, sent as it is produced.
type Output struct {
	Job    string `json:"job"`
	Seq    int    `json:"seq"`
	Stream string `json:"stream"` // stdout, stderr
	Data   string `json:"data"`
}

// Result statuses, as stored in sqlstore.JobResult.Status.
const (
	StatusPending     = "pending"
	StatusOK          = "ok"
	StatusChanged     = "changed"
	StatusFailed      = "failed"
	StatusTimeout     = "timeout"
	StatusUnreachable = "unreachable"
)

// Final reports whether status is a final result an agent sends.
func Final(status string) bool {
	switch status {
	case StatusOK, StatusChanged, StatusFailed, StatusTimeout:
		return true
	}
	return false
}

// MaxOutput caps the output kept in a Result: the first and last halves are
// kept around a line that says how much was cut.
const MaxOutput = 1 << 20

// Result is what an agent returns for a job.
type Result struct {
	Job       string          `json:"job"`
	Status    string          `json:"status"`
	ExitCode  int             `json:"exit_code"`
	Output    string          `json:"output"`
	Detail    json.RawMessage `json:"detail,omitempty"` // an apply report (engine.Report), or {"error": "..."}
	StartedAt time.Time       `json:"started_at"`
	EndedAt   time.Time       `json:"ended_at"`
}

// Ack acknowledges a Result or a Drift: the server stored it (or had it
// already). An Error means it could not, and the agent retries.
type Ack struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// PolicyRequest asks for the host's share of the latest policy. Have is the
// digest of the payload the agent keeps.
type PolicyRequest struct {
	Have string `json:"have,omitempty"`
}

// PolicyReply carries the host's payload (policy.Payload, as JSON), or
// nothing when it is unchanged (Digest == Have) or there is no policy.
type PolicyReply struct {
	Revision  string          `json:"revision"`
	Digest    string          `json:"digest"`
	Unchanged bool            `json:"unchanged,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// PolicyNotice announces a new policy revision.
type PolicyNotice struct {
	Revision string `json:"revision"`
}

// Drift reports a convergence that repaired something nobody asked for.
type Drift struct {
	ID       string          `json:"id"` // unique, chosen by the agent
	Time     time.Time       `json:"time"`
	Revision string          `json:"revision"`
	Trigger  string          `json:"trigger"` // watch, interval
	Result   string          `json:"result"`  // changed, failed
	Changes  json.RawMessage `json:"changes"` // []engine.Result of the promises that changed or failed
}
