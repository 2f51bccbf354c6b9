package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/wire"
)

// This file runs release tasks (wire.JobRelease, wire.JobCheck): the
// layout of an app's directory on the host, the task's steps and its
// result. Downloads are in release_fetch.go, templates, files, the
// service and checks in release_steps.go. See "Releases" in doc.go.

// releaseMarker is the file, in a release directory, that a delivery
// writes last: a release directory without it, or whose marker has
// another checksum than the artifact's, is incomplete.
const releaseMarker = ".phenix-release"

// releaseRecord is the content of the marker.
type releaseRecord struct {
	App         string    `json:"app"`
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// incompleteAge is how old an incomplete release directory (or a partial
// download) must be for a prune to remove it: younger, it may be a
// delivery under way.
const incompleteAge = time.Hour

// maxVersion bounds the length of a version, a directory name.
const maxVersion = 128

// validVersion checks that v is safe as a directory name.
func validVersion(v string) error {
	switch {
	case v == "":
		return errors.New("no version")
	case len(v) > maxVersion:
		return fmt.Errorf("version %.20q…: longer than %d bytes", v, maxVersion)
	case v == "." || v == "..":
		return fmt.Errorf("version %q: not a directory name", v)
	case strings.HasPrefix(v, "."):
		return fmt.Errorf("version %q: begins with a dot", v)
	case strings.ContainsRune(v, '/'):
		return fmt.Errorf("version %q: has a slash", v)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("version %q: has a control character", v)
		}
	}
	return nil
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// appLocks serialises the release tasks of one app directory on the host:
// each key holds a channel of one slot, so that waiting honours the
// task's context.
var appLocks = struct {
	sync.Mutex
	m map[string]chan struct{}
}{m: map[string]chan struct{}{}}

// lockApp waits for the lock of key, an app directory.
func lockApp(ctx context.Context, key string) (unlock func(), err error) {
	appLocks.Lock()
	ch := appLocks.m[key]
	if ch == nil {
		ch = make(chan struct{}, 1)
		appLocks.m[key] = ch
	}
	appLocks.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another task of the same app: %w", context.Cause(ctx))
	}
}

// releaseRun is one release task being run.
type releaseRun struct {
	a        *agent
	agentCtx context.Context // the agent's, which the job's timeout does not end
	job      wire.Job
	t        wire.ReleaseTask
	mask     *masker
	vars     map[string]any // the host's vars < the task's < the host's secrets
	host     map[string]any // id, address

	rep   wire.ReleaseReport
	out   strings.Builder // human lines, one per step
	code  int             // exit code, for a hook
	hook  *wire.Result    // the hook's result, when one ran
	valid bool            // the task passed validate
}

// runRelease runs a release or check job.
func (a *agent) runRelease(ctx context.Context, j wire.Job) wire.Result {
	res := wire.Result{Job: j.ID, StartedAt: time.Now().UTC()}
	jctx, cancel := jobContext(ctx, j)
	defer cancel()
	kp := a.policy()
	r := &releaseRun{a: a, agentCtx: ctx, job: j, mask: newMasker(kp.Vars, kp.Secrets), rep: wire.ReleaseReport{Steps: []wire.ReleaseStep{}}}
	if j.Release != nil {
		r.t = *j.Release
	}
	if j.Kind == wire.JobCheck {
		r.t.Action = wire.ReleaseCheck
	}
	r.rep.Action, r.rep.Version = r.t.Action, r.t.Version
	r.vars = releaseVars(kp, r.t.Vars)

	changed, err := r.run(jctx, j.Release == nil)
	timedOut := jctx.Err() != nil && ctx.Err() == nil && errors.Is(jctx.Err(), context.DeadlineExceeded)
	if r.hook != nil && r.hook.Status == wire.StatusTimeout {
		timedOut = true
	}
	if timedOut && err == nil {
		err = fmt.Errorf("killed after the timeout of %v", j.Timeout)
	}
	if timedOut && !strings.Contains(err.Error(), "timeout") {
		err = fmt.Errorf("timeout of %v: %w", j.Timeout, err)
	}
	if err != nil {
		msg := r.mask.String(err.Error())
		r.rep.Error = msg
		r.linef("FAILED: %s", msg)
	}
	r.rep.Releases = r.releases()
	res.EndedAt = time.Now().UTC()
	switch {
	case timedOut:
		res.Status, res.ExitCode = wire.StatusTimeout, max(r.code, 1)
	case err != nil:
		res.Status, res.ExitCode = wire.StatusFailed, max(r.code, 1)
	case changed:
		res.Status, res.ExitCode = wire.StatusChanged, 2
	default:
		res.Status = wire.StatusOK
	}
	res.Output = r.out.String() // masked line by line
	res.Detail, _ = json.Marshal(r.rep)
	return res
}

// run validates the task, takes the app's lock and runs the action. It
// reports whether the host changed.
func (r *releaseRun) run(ctx context.Context, missing bool) (bool, error) {
	if missing {
		return false, errors.New("the job holds no release task")
	}
	if err := r.validate(); err != nil {
		return false, err
	}
	r.valid = true
	unlock, err := lockApp(ctx, r.local(r.t.Dir))
	if err != nil {
		return false, err
	}
	defer unlock()
	r.host = r.a.hostInfo()
	switch r.t.Action {
	case wire.ReleaseDeliver:
		return r.deliver(ctx)
	case wire.ReleaseActivate:
		return true, r.activate(ctx)
	case wire.ReleaseCheck:
		return false, r.check(ctx)
	case wire.ReleaseHook:
		return false, r.runHook(ctx)
	}
	return false, fmt.Errorf("unknown release action %q", r.t.Action)
}

// validate checks the task before anything is done.
func (r *releaseRun) validate() error {
	t := &r.t
	switch t.Action {
	case wire.ReleaseDeliver, wire.ReleaseActivate, wire.ReleaseCheck, wire.ReleaseHook:
	default:
		return fmt.Errorf("unknown release action %q: expected deliver, activate, check or hook", t.Action)
	}
	if t.App == "" {
		return errors.New("the task names no app")
	}
	if !path.IsAbs(t.Dir) || path.Clean(t.Dir) != t.Dir || t.Dir == "/" {
		return fmt.Errorf("release directory %q: expected a clean absolute path other than /", t.Dir)
	}
	if t.Action != wire.ReleaseCheck || t.Version != "" {
		if err := validVersion(t.Version); err != nil {
			return fmt.Errorf("refused: %w", err)
		}
	}
	if t.Action == wire.ReleaseDeliver || t.Action == wire.ReleaseActivate {
		a := &t.Artifact
		a.SHA256 = strings.ToLower(strings.TrimPrefix(a.SHA256, "sha256:"))
		if !sha256RE.MatchString(a.SHA256) {
			return fmt.Errorf("artifact: bad sha256 %q: expected 64 hex digits", a.SHA256)
		}
		if a.Size < 0 {
			return fmt.Errorf("artifact: bad size %d", a.Size)
		}
		if !strings.HasPrefix(a.Path, "/") {
			return fmt.Errorf("artifact: bad path %q: expected a path on the server, such as /api/v1/artifacts/<sha256>", a.Path)
		}
		switch a.Format {
		case "", "tar", "tar.gz", "zip":
		default:
			return fmt.Errorf("artifact: unknown format %q: expected tar, tar.gz or zip", a.Format)
		}
	}
	if t.Strip < 0 || t.Keep < 0 {
		return fmt.Errorf("strip %d, keep %d: expected 0 or more", t.Strip, t.Keep)
	}
	switch t.Restart {
	case "", "restart", "reload", "none":
	default:
		return fmt.Errorf("unknown restart %q: expected restart, reload or none", t.Restart)
	}
	if t.Action == wire.ReleaseHook {
		h := t.Hook
		if h == nil || (len(h.Argv) == 0) == (h.Script == "") {
			return errors.New("hook: expected argv or script, one of the two")
		}
	}
	return nil
}

// releaseVars merges the vars templates see: the host's vars (secrets
// left out) < the task's < the host's secrets; top-level keys replace.
func releaseVars(kp keptPolicy, task map[string]any) map[string]any {
	secretKeys := map[string]bool{}
	for _, name := range kp.Secrets {
		if _, ok := kp.Vars[name]; ok {
			secretKeys[name] = true
		} else if top, _, _ := strings.Cut(name, "."); top != "" {
			secretKeys[top] = true
		}
	}
	out := map[string]any{}
	for k, v := range kp.Vars {
		if !secretKeys[k] {
			out[k] = v
		}
	}
	for k, v := range task {
		out[k] = v
	}
	for k := range secretKeys {
		if v, ok := kp.Vars[k]; ok {
			out[k] = v
		}
	}
	return out
}

// hostInfo returns the host as templates see it: its id and its first
// non-loopback IPv4 address, else its hostname.
func (a *agent) hostInfo() map[string]any {
	f := facts.Gather(a.cfg.Root)
	addr := ""
	for _, s := range f.Addresses {
		if ip := net.ParseIP(s); ip != nil && ip.To4() != nil && !ip.IsLoopback() {
			addr = s
			break
		}
	}
	if addr == "" {
		addr = f.Hostname
	}
	return map[string]any{"id": a.ident.id, "address": addr}
}

// linef adds a line to the output, masked.
func (r *releaseRun) linef(format string, args ...any) {
	r.out.WriteString(r.mask.String(fmt.Sprintf(format, args...)))
	r.out.WriteByte('\n')
}

// step runs fn as the step name, timed in the report.
func (r *releaseRun) step(name string, fn func() error) error {
	t0 := time.Now()
	err := fn()
	s := wire.ReleaseStep{Name: name, Duration: time.Since(t0)}
	if err != nil {
		s.Error = r.mask.String(err.Error())
	}
	r.rep.Steps = append(r.rep.Steps, s)
	return err
}

// local returns where the host path p is on this filesystem (under Root).
func (r *releaseRun) local(p string) string {
	if r.a.cfg.Root == "" {
		return p
	}
	return filepath.Join(r.a.cfg.Root, p)
}

// releaseHost returns the host path of the release of version v.
func (r *releaseRun) releaseHost(v string) string { return path.Join(r.t.Dir, "releases", v) }

// releaseDir returns where the release of version v is on this filesystem.
func (r *releaseRun) releaseDir(v string) string { return r.local(r.releaseHost(v)) }

// currentLink returns where Dir/current is on this filesystem.
func (r *releaseRun) currentLink() string { return r.local(path.Join(r.t.Dir, "current")) }

// readRecord reads the marker of the release directory dir.
func readRecord(dir string) (releaseRecord, error) {
	var rec releaseRecord
	err := readJSON(filepath.Join(dir, releaseMarker), &rec)
	return rec, err
}

// delivered reports whether the release of the task's version is on disk,
// complete, from the task's artifact.
func (r *releaseRun) delivered() bool {
	rec, err := readRecord(r.releaseDir(r.t.Version))
	return err == nil && rec.SHA256 == r.t.Artifact.SHA256
}

// currentVersion returns the version Dir/current points to, "" if there
// is no current.
func (r *releaseRun) currentVersion() (string, error) {
	target, err := os.Readlink(r.currentLink())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		if st, serr := os.Lstat(r.currentLink()); serr == nil && st.Mode()&fs.ModeSymlink == 0 {
			return "", fmt.Errorf("%s is not a symlink: phenix does not replace it", path.Join(r.t.Dir, "current"))
		}
		return "", err
	}
	return path.Base(path.Clean(target)), nil
}

// deliver stages the task's version: download, extract, mark. It reports
// whether it downloaded.
func (r *releaseRun) deliver(ctx context.Context) (bool, error) {
	v := r.t.Version
	if r.delivered() {
		r.linef("download: skipped, release %s is on disk (sha256 ok)", v)
		return false, nil
	}
	if f := r.t.Artifact.Format; f == "tar" || f == "tar.gz" {
		return true, r.step("download", func() error {
			t0 := time.Now()
			incoming := r.incoming()
			n, entries, err := r.fetchExtract(ctx, incoming)
			if err != nil {
				return err
			}
			r.rep.Downloaded = n
			r.linef("download %d bytes and extract %d entries into %s in %s, sha256 ok", n, entries, r.releaseHost(v), round(time.Since(t0)))
			return r.install(incoming)
		})
	}
	var part string
	err := r.step("download", func() error {
		t0 := time.Now()
		var n int64
		var err error
		part, n, err = r.download(ctx)
		if err != nil {
			return err
		}
		r.rep.Downloaded = n
		r.linef("download %d bytes in %s, sha256 ok", n, round(time.Since(t0)))
		return nil
	})
	if err != nil {
		return false, err
	}
	defer os.Remove(part)
	err = r.step("extract", func() error {
		t0 := time.Now()
		n, err := r.extract(ctx, part)
		if err != nil {
			return err
		}
		r.linef("extract %d entries into %s in %s", n, r.releaseHost(v), round(time.Since(t0)))
		return nil
	})
	return err == nil, err
}

// incoming returns a hidden name beside the release directory to extract
// into: an incomplete release in the way is swapped out only once the new
// one is whole.
func (r *releaseRun) incoming() string {
	return filepath.Join(filepath.Dir(r.releaseDir(r.t.Version)), ".incoming-"+r.t.Version+"-"+randomHex())
}

// extract extracts the downloaded artifact at part into the release
// directory, replacing an incomplete one, and writes the marker.
func (r *releaseRun) extract(ctx context.Context, part string) (int, error) {
	format, err := promise.ArchiveFormat(part)
	if err != nil {
		return 0, err
	}
	if want := r.t.Artifact.Format; want != "" && want != format {
		return 0, fmt.Errorf("the artifact is a %s archive, not the %s the task says", format, want)
	}
	n, err := promise.InspectArchive(part, format, r.t.Strip)
	if err != nil {
		return 0, fmt.Errorf("artifact refused, nothing extracted: %w", err)
	}
	incoming := r.incoming()
	if err := promise.ExtractArchive(ctx, part, format, incoming, r.t.Strip, r.t.Owner, r.t.Group); err != nil {
		return 0, err
	}
	return n, r.install(incoming)
}

// install writes the marker into the extracted release incoming and puts
// it in place of the release directory.
func (r *releaseRun) install(incoming string) error {
	dest := r.releaseDir(r.t.Version)
	releases := filepath.Dir(dest)
	rec := releaseRecord{App: r.t.App, Version: r.t.Version, SHA256: r.t.Artifact.SHA256, DeliveredAt: time.Now().UTC()}
	if err := writeJSON(filepath.Join(incoming, releaseMarker), rec, 0o644); err != nil {
		os.RemoveAll(incoming)
		return err
	}
	if _, err := os.Lstat(dest); err == nil {
		r.linef("release %s on disk is incomplete or of another artifact: replaced", r.t.Version)
		old := filepath.Join(releases, ".replaced-"+r.t.Version+"-"+randomHex())
		if err := os.Rename(dest, old); err != nil {
			os.RemoveAll(incoming)
			return err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(incoming, dest); err != nil {
		os.RemoveAll(incoming)
		return err
	}
	return nil
}

// activate makes the task's version current: deliver, render, switch,
// service, checks, prune.
func (r *releaseRun) activate(ctx context.Context) error {
	if _, err := r.deliver(ctx); err != nil {
		return err
	}
	prev, err := r.currentVersion()
	if err != nil {
		return err
	}
	r.rep.Previous = prev
	data := r.data(prev)
	if len(r.t.Files) > 0 {
		if err := r.step("render", func() error { return r.renderFiles(data) }); err != nil {
			return err
		}
	}
	if err := r.step("switch", func() error { return r.switchCurrent(prev) }); err != nil {
		return err
	}
	r.rep.Current = r.t.Version
	if hasService(r.t.Service) {
		if err := r.step("service", func() error { return r.keepService(ctx, data) }); err != nil {
			return err
		}
	}
	if err := r.runChecks(ctx); err != nil {
		return err
	}
	return r.step("prune", func() error { return r.prune(prev) })
}

// check runs the checks against the current release, which must be the
// task's version when it names one.
func (r *releaseRun) check(ctx context.Context) error {
	cur, err := r.currentVersion()
	if err != nil {
		return err
	}
	r.rep.Current = cur
	switch {
	case cur == "":
		return fmt.Errorf("no current release in %s", r.t.Dir)
	case r.t.Version != "" && cur != r.t.Version:
		return fmt.Errorf("current is %s, not %s", cur, r.t.Version)
	}
	return r.runChecks(ctx)
}

// switchCurrent points Dir/current at the task's release, atomically: a
// new symlink renamed over the old one.
func (r *releaseRun) switchCurrent(prev string) error {
	v := r.t.Version
	if prev == v {
		r.linef("switch current: %s already", v)
		return nil
	}
	link := r.currentLink()
	tmp := filepath.Join(filepath.Dir(link), ".current-"+randomHex())
	if err := os.Symlink("releases/"+v, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	if prev == "" {
		prev = "(none)"
	}
	r.linef("switch current: %s → %s", prev, v)
	return nil
}

// data returns what the task's templates see.
func (r *releaseRun) data(prev string) map[string]any {
	return map[string]any{
		"app":      r.t.App,
		"env":      r.t.Env,
		"version":  r.t.Version,
		"dir":      r.t.Dir,
		"release":  r.releaseHost(r.t.Version),
		"current":  path.Join(r.t.Dir, "current"),
		"previous": prev,
		"host":     r.host,
		"vars":     r.vars,
	}
}

// diskRelease is a release directory found on disk.
type diskRelease struct {
	version string
	at      time.Time // delivered; zero for an incomplete one
	path    string
	mtime   time.Time
}

// scanReleases lists Dir/releases: complete releases newest first, and
// the rest (incomplete ones, leftovers of extractions).
func (r *releaseRun) scanReleases() (complete, incomplete []diskRelease) {
	dir := r.local(path.Join(r.t.Dir, "releases"))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		d := diskRelease{version: e.Name(), path: filepath.Join(dir, e.Name())}
		if info, err := e.Info(); err == nil {
			d.mtime = info.ModTime()
		}
		rec, err := readRecord(d.path)
		if e.IsDir() && err == nil && validVersion(e.Name()) == nil {
			d.at = rec.DeliveredAt
			complete = append(complete, d)
			continue
		}
		incomplete = append(incomplete, d)
	}
	slices.SortStableFunc(complete, func(a, b diskRelease) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(b.version, a.version)
	})
	return complete, incomplete
}

// releases returns the versions on disk, newest first.
func (r *releaseRun) releases() []string {
	if !r.valid {
		return nil
	}
	complete, _ := r.scanReleases()
	var out []string
	for _, d := range complete {
		out = append(out, d.version)
	}
	return out
}

// prune keeps the Keep newest releases, the current and the previous
// ones, and removes incomplete releases older than incompleteAge.
func (r *releaseRun) prune(prev string) error {
	keep := map[string]bool{r.t.Version: true}
	if prev != "" {
		keep[prev] = true
	}
	if cur, err := r.currentVersion(); err == nil && cur != "" {
		keep[cur] = true
	}
	complete, incomplete := r.scanReleases()
	var removed []string
	var errs []error
	for i, d := range complete {
		if r.t.Keep == 0 || i < r.t.Keep || keep[d.version] {
			continue
		}
		if err := os.RemoveAll(d.path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d.version)
	}
	for _, d := range incomplete {
		if keep[d.version] || time.Since(d.mtime) < incompleteAge {
			continue
		}
		if err := os.RemoveAll(d.path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d.version+" (incomplete)")
	}
	r.pruneDownloads()
	if len(removed) > 0 {
		r.linef("prune: removed %s", strings.Join(removed, ", "))
	}
	return errors.Join(errs...)
}

// round rounds d for people.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// randomHex returns a few random hex digits for temporary names.
func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
