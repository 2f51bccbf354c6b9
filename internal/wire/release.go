package wire

import (
	"encoding/json"
	"time"
)

// JobRelease is the job kind of a release action (a ReleaseTask in
// Job.Release); JobCheck runs an app's checks on a schedule.
const (
	JobRelease = "release"
	JobCheck   = "check"
)

// Release actions, ReleaseTask.Action.
const (
	// ReleaseDeliver stages a version: download the artifact (checksum
	// verified) and extract it into Dir/releases/<version>, switching
	// nothing. A release already there with the same checksum is kept.
	ReleaseDeliver = "deliver"
	// ReleaseActivate makes a version the current one: deliver it if it is
	// not on disk, render Files into the release, switch Dir/current to it
	// atomically, keep Service (restarting or reloading it as Restart
	// says), run Checks, then keep the Keep newest releases.
	ReleaseActivate = "activate"
	// ReleaseCheck runs Checks against the current release.
	ReleaseCheck = "check"
	// ReleaseHook runs Hook in the release directory.
	ReleaseHook = "hook"
)

// ReleaseTask is a release action the server asks of an agent. Every host
// of a job receives the same task: templates (Files, Service, Checks,
// Hook) are rendered on the host, with
//
//	.app .env .version     the app, environment and version
//	.dir                   Dir
//	.release               Dir/releases/<version>
//	.current               Dir/current
//	.previous              the version current pointed to before this task ("" if none)
//	.host.id .host.address the host, its first non-loopback address
//	.vars                  the host's policy vars < Vars < the host's secrets
type ReleaseTask struct {
	Action   string          `json:"action"`
	App      string          `json:"app"`
	Env      string          `json:"env"`
	Version  string          `json:"version"`
	Dir      string          `json:"dir"`               // absolute: releases/<version>/ and current live in it
	Artifact Artifact        `json:"artifact,omitzero"` // deliver, activate
	Strip    int             `json:"strip,omitempty"`   // leading path components dropped from every entry
	Owner    string          `json:"owner,omitempty"`   // owner of the extracted entries and rendered files
	Group    string          `json:"group,omitempty"`   // group of them
	Vars     map[string]any  `json:"vars,omitempty"`    // the app's vars overlaid with the environment's
	Files    []ReleaseFile   `json:"files,omitempty"`   // activate
	Service  json.RawMessage `json:"service,omitempty"` // activate: a service promise mapping (JSON), templated; none when empty
	Restart  string          `json:"restart,omitempty"` // activate: restart (default), reload or none
	Checks   string          `json:"checks,omitempty"`  // activate, check: a YAML list of checks (package check), templated by it
	Keep     int             `json:"keep,omitempty"`    // activate: releases kept on disk, the current one included; 0 keeps all
	Hook     *Hook           `json:"hook,omitempty"`    // hook
}

// Artifact is where and what a version's archive is.
type Artifact struct {
	SHA256 string `json:"sha256"` // hex
	Size   int64  `json:"size"`
	Format string `json:"format"` // tar, tar.gz or zip
	Path   string `json:"path"`   // on the server the agent enrolled with: /api/v1/artifacts/<sha256>
}

// ReleaseFile is a config file rendered into the release directory before
// the switch.
type ReleaseFile struct {
	Path     string `json:"path"`     // relative to the release directory, or absolute
	Template string `json:"template"` // text/template source
	Mode     uint32 `json:"mode"`     // permission bits; 0 means 0644
}

// Hook is a command run by a release job: Argv (each element a template)
// or Script (a template run with /bin/sh -c).
type Hook struct {
	Name   string   `json:"name"`
	Argv   []string `json:"argv,omitempty"`
	Script string   `json:"script,omitempty"`
}

// ReleaseReport is the Detail of a release job's Result.
type ReleaseReport struct {
	Action     string          `json:"action"`
	Version    string          `json:"version"`
	Previous   string          `json:"previous,omitempty"`   // what current pointed to before
	Current    string          `json:"current,omitempty"`    // what it points to after
	Downloaded int64           `json:"downloaded,omitempty"` // artifact bytes fetched; 0 when the release was on disk
	Steps      []ReleaseStep   `json:"steps"`
	Checks     json.RawMessage `json:"checks,omitempty"`   // []check.Result
	Releases   []string        `json:"releases,omitempty"` // versions on disk after the task, newest first
	Error      string          `json:"error,omitempty"`    // why the task failed
}

// ReleaseStep is one step of a release task: download, extract, render,
// switch, service, checks, prune, hook.
type ReleaseStep struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}
