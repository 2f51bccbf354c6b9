package check

import (
	"regexp"
	"time"

	"github.com/phenixhq/phenix/internal/promise"
)

// The types of check, each the key that introduces one in YAML.
const (
	TypeHTTP     = "http"
	TypeTCP      = "tcp"
	TypeCommand  = "command"
	TypeScenario = "scenario"
)

// Types lists the check types in the order the documentation gives them.
var Types = []string{TypeHTTP, TypeTCP, TypeCommand, TypeScenario}

// Defaults applied by Decode to what a check leaves out.
const (
	DefaultHTTPTimeout    = 5 * time.Second
	DefaultTCPTimeout     = 5 * time.Second
	DefaultCommandTimeout = 10 * time.Second
	DefaultInterval       = 1 * time.Second
	DefaultDeadline       = 30 * time.Second
)

// MaxBody is how much of a response body a check reads; the rest is not
// looked at.
const MaxBody = 1 << 20

// Check is one declared health check, decoded from YAML. Exactly one of
// HTTP, TCP, Command and Scenario is set, as Type says.
type Check struct {
	Name     string
	Type     string // http, tcp, command, scenario
	HTTP     *HTTPCheck
	TCP      *TCPCheck
	Command  *CommandCheck
	Scenario []Step
	Retry    Retry
	Pos      promise.Pos
}

// HTTPCheck sends one request and judges its response. URL, Body, the
// values of Headers and Form, and Contains are templates (see Vars).
type HTTPCheck struct {
	URL             string
	Method          string            // GET by default
	Headers         map[string]string // request headers; "Host" sets the request's host
	Body            string            // request body
	Form            map[string]string // a form body, URL-encoded; excludes Body
	Status          []int             // accepted statuses, [200] by default
	Contains        string            // the body must contain this text
	Matches         *regexp.Regexp    // the body must match this
	ResponseHeaders []HeaderMatch     // each response header must match, in name order
	Timeout         time.Duration     // for the request and reading its body, 5s by default
	Insecure        bool              // skip TLS certificate verification
	FollowRedirects bool              // follow 3xx responses instead of judging them
	Pos             promise.Pos
}

// HeaderMatch is an expected response header: its value must match Regexp.
type HeaderMatch struct {
	Name   string
	Regexp *regexp.Regexp
}

// TCPCheck passes when Address (a template, host:port) accepts a
// connection within Timeout.
type TCPCheck struct {
	Address string
	Timeout time.Duration // 5s by default
	Pos     promise.Pos
}

// CommandCheck runs Argv, or Script with /bin/sh -c, and passes when it
// exits with Status. Every argument and the script are templates.
type CommandCheck struct {
	Argv    []string
	Script  string
	Status  int           // expected exit status, 0 by default
	Timeout time.Duration // 10s by default; the process group is then killed
	Pos     promise.Pos
}

// Step is one request of a scenario: an HTTPCheck whose templates also see
// the values captured by the steps before it, as .captures.NAME.
type Step struct {
	Name string // "" in YAML gives "step N"
	HTTPCheck
	Capture []Capture // in declaration order
}

// Capture takes one value from a step's response. Exactly one of Regex,
// JSON and Header is set.
type Capture struct {
	Name   string
	Regex  *regexp.Regexp // the first group, or the whole match when it has none
	JSON   string         // a path into a JSON body: user.id, items[0].name
	Header string         // a response header's value
	Pos    promise.Pos
}

// Retry says how long a failing check is tried again.
type Retry struct {
	Interval time.Duration // between attempts, 1s by default
	Deadline time.Duration // after the first attempt starts, 30s by default; 0 tries once
}

// Vars are the values templates see: .host.id, .host.address, .vars.X
// and, in scenario steps, .captures.NAME.
type Vars struct {
	Host HostInfo
	Vars map[string]any
}

// HostInfo is the host a check runs against.
type HostInfo struct {
	ID      string
	Address string
}

// Result is the outcome of Run.
type Result struct {
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"` // why the last attempt failed
	Steps    []StepResult  `json:"steps,omitempty"` // a scenario's steps, in the last attempt
}

// StepResult is one scenario step of the last attempt. Steps after a
// failed one did not run and have no result.
type StepResult struct {
	Name     string        `json:"name"`
	Status   int           `json:"status,omitempty"` // 0 when no response came
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}
