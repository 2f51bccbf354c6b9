package promise

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
)

// Resource is implemented by every promise type. The engine calls Check
// and, only when the Diff is not empty and the run is not a dry run, Apply
// with that Diff. Both stop promptly when ctx is cancelled. The engine never
// calls the methods of one Resource concurrently, but distinct Resources run
// in parallel unless a Serializer says otherwise.
type Resource interface {
	Check(ctx context.Context, env *Env) (*Diff, error)
	Apply(ctx context.Context, env *Env, d *Diff) error
}

// Validator is implemented by promise types that check their attributes
// after decoding. Each FieldError names the attribute at fault.
type Validator interface {
	Validate() []FieldError
}

// Resolver is implemented by promise types that read files beside their
// bundle (a template, a source). Resolve is called once after decoding and
// validation, before any promise runs.
type Resolver interface {
	Resolve(rc *ResolveContext) []FieldError
}

// Refresher is implemented by promise types that react when a promise they
// are notified by has changed: a service restarts or reloads, a refresh-only
// exec runs. Refresh is called after Check and Apply. It returns what it did
// ("restarted"), or "" when there was nothing to do (the service was just
// started by Apply). In a dry run the engine calls RefreshPlan instead.
type Refresher interface {
	Refresh(ctx context.Context, env *Env) (string, error)
	RefreshPlan() string
}

// AutoRequirer is implemented by promise types that depend on other
// promises without saying so: a file requires the directory promise of its
// parent and the user promise of its owner, when those exist in the run.
type AutoRequirer interface {
	AutoRequire() []Ref
}

// Keyed is implemented by promise types of which several promises may
// share one subject: several line promises edit one file. Key tells them
// apart; a reference to the subject ("line:/etc/hosts") names them all.
type Keyed interface {
	Key() string
}

// Serializer is implemented by promise types that must not run at the same
// time as other promises with the same key (package managers hold a lock).
type Serializer interface {
	SerialKey() string
}

// PathClaimer is implemented by promise types that manage paths on the
// host: a file, a directory, a symlink, an archive's destination and what
// it extracts. Before a run starts, the engine gathers the claims of every
// promise of the plan into Env.Managed, so that a directory promise with
// purge keeps the entries other promises manage, whatever order they run
// in. Paths are host paths (absolute and clean, not under Root).
type PathClaimer interface {
	ClaimedPaths() []string
}

// Env is what a promise sees of the run it is part of. It is shared by all
// promises of a run and must not be modified once the run has started.
type Env struct {
	// Root is the directory that file, directory, symlink, line and archive
	// promises treat as "/"; "" means the real root.
	Root string
	// DryRun is true when nothing may change. Resources only see it through
	// the engine, which never calls Apply in a dry run; exec guards still run.
	DryRun bool
	// BackupDir holds copies of file contents that were replaced, under
	// Root. Empty disables backups.
	BackupDir string
	// Log receives debug detail; user-facing results go through Diff.
	Log *slog.Logger
	// Managed returns the host paths claimed by the promises of the run
	// (see PathClaimer), gathered from the whole plan the first time a
	// promise asks. nil means the claims are unknown, and directory
	// promises then refuse to purge.
	Managed func() map[string]bool
}

// Path maps an absolute path of the managed host to the local filesystem,
// honouring Root.
func (e *Env) Path(p string) string {
	if e == nil || e.Root == "" || e.Root == "/" {
		return p
	}
	return filepath.Join(e.Root, p)
}

// Rooted reports whether the run applies under a root other than "/".
func (e *Env) Rooted() bool {
	return e != nil && e.Root != "" && e.Root != "/"
}

// Change is one attribute that differs between the host and the promise.
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Diff is what Check found. An empty Diff means the promise is kept.
type Diff struct {
	// Changes lists attributes that differ, before and after.
	Changes []Change `json:"changes,omitempty"`
	// Content is a unified diff of a file's content.
	Content string `json:"content,omitempty"`
	// Command is the command an exec (or a provider) would run.
	Command string `json:"command,omitempty"`
}

// Add records that field goes from before to after.
func (d *Diff) Add(field, before, after string) {
	d.Changes = append(d.Changes, Change{Field: field, Before: before, After: after})
}

// Empty reports whether there is nothing to change.
func (d *Diff) Empty() bool {
	return d == nil || (len(d.Changes) == 0 && d.Content == "" && d.Command == "")
}

// Has reports whether field is among the changes.
func (d *Diff) Has(field string) bool {
	if d == nil {
		return false
	}
	for _, c := range d.Changes {
		if c.Field == field {
			return true
		}
	}
	return false
}

// Summary is a one-line description of the changes: "content, mode 0600 → 0644".
func (d *Diff) Summary() string {
	if d == nil {
		return ""
	}
	var parts []string
	for _, c := range d.Changes {
		switch {
		case c.Before == "" && c.After == "":
			parts = append(parts, c.Field)
		default:
			parts = append(parts, c.Field+" "+orNone(c.Before)+" → "+orNone(c.After))
		}
	}
	if d.Content != "" {
		parts = append(parts, "content")
	}
	if d.Command != "" {
		parts = append(parts, "run "+d.Command)
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
