package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
)

// The output of the release commands: apps, versions, status, history,
// deployment and the lines a deliver, deploy or rollback streams. Each
// function takes a clock, so that tests can fix now and the time zone.

// clock writes times relative to now, and in loc.
type clock struct {
	now time.Time
	loc *time.Location
}

func localClock() clock { return clock{now: time.Now(), loc: time.Local} }

func (c clock) ago(t time.Time) string { return fmtAgo(t, c.now) }

func (c clock) at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(c.loc).Format("2006-01-02 15:04:05")
}

// fmtSize writes a number of bytes for people, in powers of 1000: "512 B",
// "12.3 MB".
func fmtSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 999.95 || unit == "TB" {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	panic("unreachable")
}

// fmtSHA256 writes a checksum as "sha256:<hex>".
func fmtSHA256(h string) string {
	if h == "" || strings.HasPrefix(h, "sha256:") {
		return h
	}
	return "sha256:" + h
}

// uploadLine is what phenix version upload says.
func uploadLine(v api.Version, created bool) string {
	if !created {
		return fmt.Sprintf("%s %s is already uploaded with this content (%s)", v.App, v.Version, fmtSHA256(v.SHA256))
	}
	return fmt.Sprintf("uploaded %s %s: %s (%s, %s)", v.App, v.Version, fmtSHA256(v.SHA256), fmtSize(v.Size), v.Format)
}

// printApps writes the table of apps.
func printApps(w io.Writer, apps []api.App) {
	if len(apps) == 0 {
		fmt.Fprintln(w, "no apps: declare one in the policy (phenix policy push)")
		return
	}
	tw := newTable(w, "APP", "ENVIRONMENTS", "DESCRIPTION")
	for _, a := range apps {
		row(tw, a.Name, strings.Join(a.Environments, " → "), a.Description)
	}
	tw.Flush()
}

// printVersions writes the table of an app's versions.
func printVersions(w io.Writer, app string, vs []api.Version, clk clock) {
	if len(vs) == 0 {
		fmt.Fprintf(w, "no versions of %s yet (phenix version upload %s VERSION FILE)\n", app, app)
		return
	}
	tw := newTable(w, "VERSION", "UPLOADED", "BY", "SIZE", "SHA256", "ON", "PASSED", "NOTE")
	for _, v := range vs {
		row(tw, v.Version, clk.ago(v.CreatedAt), v.Actor, fmtSize(v.Size), shortHash(v.SHA256),
			strings.Join(v.Current, ", "), strings.Join(v.Passed, ", "), v.Note)
	}
	tw.Flush()
}

// printStatus writes the table of an app's environments, in lifecycle
// order.
func printStatus(w io.Writer, st api.AppStatus, clk clock) {
	if len(st.Envs) == 0 {
		fmt.Fprintf(w, "%s has no environments\n", st.App)
		return
	}
	tw := newTable(w, "ENV", "HOSTS", "CURRENT", "PREVIOUS", "DELIVERED", "LAST DEPLOYMENT", "CHECKS", "LOCK")
	for _, e := range st.Envs {
		env := e.Env
		if e.Approval {
			env += " (approval)"
		}
		row(tw, env, strconv.Itoa(e.Hosts), e.Current, e.Previous, e.Delivered,
			lastDeploymentCell(e.Last, clk), checkCell(e.Check, clk), lockCell(e.Lock, clk))
	}
	tw.Flush()
}

// lastDeploymentCell writes "deploy 1.4.2 by alice 5m ago: ok".
func lastDeploymentCell(d *api.Deployment, clk clock) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%s %s by %s %s: %s", d.Kind, d.Version, d.Actor, clk.ago(d.CreatedAt), d.State)
}

// checkCell writes "ok 1m ago" or "FAILED 30s ago: …".
func checkCell(c *api.CheckStatus, clk clock) string {
	if c == nil {
		return ""
	}
	if c.OK {
		return "ok " + clk.ago(c.At)
	}
	s := "FAILED " + clk.ago(c.At)
	if c.Summary != "" {
		s += ": " + c.Summary
	}
	return s
}

// lockCell writes "d-… by alice since 2m".
func lockCell(l *api.Lock, clk clock) string {
	if l == nil {
		return ""
	}
	return fmt.Sprintf("%s by %s since %s", l.Deployment, l.Actor, fmtAge(max(clk.now.Sub(l.Since), 0)))
}

// printHistory writes the table of deployments.
func printHistory(w io.Writer, app, env string, ds []api.Deployment, clk clock) {
	if len(ds) == 0 {
		if env != "" {
			fmt.Fprintf(w, "no deployments of %s on %s yet\n", app, env)
		} else {
			fmt.Fprintf(w, "no deployments of %s yet\n", app)
		}
		return
	}
	tw := newTable(w, "ID", "ENV", "KIND", "VERSION", "FROM", "BY", "RESULT", "DURATION", "STARTED", "SUMMARY")
	for _, d := range ds {
		row(tw, d.ID, d.Env, d.Kind, d.Version, d.Previous, d.Actor, d.State, deploymentTook(d), clk.ago(d.CreatedAt), d.Summary)
	}
	tw.Flush()
}

// deploymentTook writes how long a deployment ran; "" while it runs.
func deploymentTook(d api.Deployment) string {
	if d.EndedAt.IsZero() {
		return ""
	}
	return fmtElapsed(d.EndedAt.Sub(d.CreatedAt))
}

// describeDeployment writes what d does: "deploy web 1.4.2 to prod",
// "deliver web 1.4.2 to prod", "roll back web on prod to 1.4.1".
func describeDeployment(d api.Deployment) string {
	if d.Kind == api.KindRollback {
		return fmt.Sprintf("roll back %s on %s to %s", d.App, d.Env, d.Version)
	}
	return fmt.Sprintf("%s %s %s to %s", d.Kind, d.App, d.Version, d.Env)
}

// printDeployment writes one deployment with all its steps and what every
// host did in them.
func printDeployment(w io.Writer, d api.Deployment, clk clock) {
	fmt.Fprintf(w, "deployment %s: %s\n", d.ID, describeDeployment(d))
	if d.Previous != "" {
		fmt.Fprintf(w, "  from      %s\n", d.Previous)
	}
	fmt.Fprintf(w, "  actor     %s\n", d.Actor)
	if d.Override != "" {
		fmt.Fprintf(w, "  override  %s\n", d.Override)
	}
	fmt.Fprintf(w, "  hosts     %s\n", hostList(d.Hosts))
	took := "took " + deploymentTook(d)
	if d.EndedAt.IsZero() {
		took = "running for " + fmtElapsed(clk.now.Sub(d.CreatedAt))
	}
	fmt.Fprintf(w, "  started   %s (%s), %s\n", clk.at(d.CreatedAt), clk.ago(d.CreatedAt), took)
	result := d.State
	if d.Summary != "" {
		result += ": " + d.Summary
	}
	fmt.Fprintf(w, "  result    %s\n", result)
	// Only a deployment that went to its end ran all its batches.
	batches := 0
	if d.State == api.StateOK {
		batches = countBatches(d.Steps)
	}
	if len(d.Steps) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range d.Steps {
		fmt.Fprintf(w, "  %s\n", stepLine(s, batches))
		printOutputLines(w, "    | ", s.Output)
		width, swidth := 0, 0
		for _, h := range s.Hosts {
			width, swidth = max(width, len(h.Host)), max(swidth, len(h.Status))
		}
		for _, h := range s.Hosts {
			line := fmt.Sprintf("    %-*s  %-*s  %s", width, h.Host, swidth, h.Status, fmtElapsed(time.Duration(h.Duration)))
			if h.Error != "" {
				line += "  " + h.Error
			}
			fmt.Fprintln(w, line)
			for _, c := range h.Checks {
				fmt.Fprintf(w, "    %*s  %s\n", width, "", checkLine(c))
			}
		}
	}
}

func hostList(hosts []string) string {
	if len(hosts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%d)", strings.Join(hosts, ", "), len(hosts))
}

// checkLine writes "check health ok (2 attempts, 0.3s)" or
// "check health FAILED: status 500, want 200 (3 attempts, 5.0s)".
func checkLine(c api.CheckResult) string {
	s := "check " + c.Name + " ok"
	if !c.OK {
		s = "check " + c.Name + " FAILED"
		if c.Error != "" {
			s += ": " + c.Error
		}
	}
	var about []string
	if c.Attempts > 1 {
		about = append(about, count(c.Attempts, "attempt", "attempts"))
	}
	if c.Duration > 0 {
		about = append(about, fmtElapsed(time.Duration(c.Duration)))
	}
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s
}

func printOutputLines(w io.Writer, prefix, out string) {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return
	}
	for _, l := range strings.Split(out, "\n") {
		fmt.Fprintln(w, prefix+strings.TrimSuffix(l, "\r"))
	}
}

// countBatches returns the number of the last batch of steps.
func countBatches(steps []api.DeployStep) int {
	n := 0
	for _, s := range steps {
		n = max(n, s.Batch)
	}
	return n
}

// stepLine writes a step: "batch 1/3  pre: out of the load balancer
// server  ok  0.2s", without the batch for the steps before the batches
// and without "/3" when batches (their number) is 0, unknown.
func stepLine(s api.DeployStep, batches int) string {
	var parts []string
	if s.Batch > 0 {
		b := "batch " + strconv.Itoa(s.Batch)
		if batches >= s.Batch {
			b += "/" + strconv.Itoa(batches)
		}
		parts = append(parts, b)
	}
	parts = append(parts, s.Name, s.Where, s.Result)
	if s.Result != api.StateRunning {
		parts = append(parts, fmtElapsed(time.Duration(s.Duration)))
	}
	if s.Summary != "" {
		parts = append(parts, s.Summary)
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "  ")
}

// hostFailed reports whether a host's status in a step is a failure.
func hostFailed(h api.HostStep) bool { return h.Status != "ok" && h.Status != "changed" }

// hostReason writes why a host failed: its error, and the checks that
// failed when the error does not say it already.
func hostReason(h api.HostStep) string {
	reason := h.Error
	for _, c := range h.Checks {
		if c.OK {
			continue
		}
		s := "check " + c.Name
		if c.Error != "" {
			s += ": " + c.Error
		}
		if strings.Contains(reason, s) {
			continue
		}
		if reason != "" {
			reason += "; "
		}
		reason += s
	}
	return reason
}

// deployStream writes the steps of a deployment as they end: one line per
// step, and under it a line per host that failed. While a step runs, live
// (a terminal, or nil) shows it on a line that is erased when it ends.
type deployStream struct {
	w, live io.Writer
	batches int // the number of batches, 0 when unknown
	showing bool
}

// start writes the line that opens the stream.
func (s *deployStream) start(d api.Deployment) {
	fmt.Fprintf(s.w, "deployment %s: %s (%s)\n", d.ID, describeDeployment(d), count(len(d.Hosts), "host", "hosts"))
}

func (s *deployStream) event(ev api.DeploymentEvent) {
	if ev.Type != "step" || ev.Step == nil {
		return
	}
	st := *ev.Step
	s.clearLive()
	if st.Result == api.StateRunning {
		if s.live != nil {
			fmt.Fprintf(s.live, "%s …", stepLine(st, s.batches))
			s.showing = true
		}
		return
	}
	fmt.Fprintln(s.w, stepLine(st, s.batches))
	if st.Result == api.StateFailed {
		printOutputLines(s.w, "  | ", st.Output)
	}
	width := 0
	for _, h := range st.Hosts {
		if hostFailed(h) {
			width = max(width, len(h.Host))
		}
	}
	for _, h := range st.Hosts {
		if !hostFailed(h) {
			continue
		}
		line := fmt.Sprintf("  %-*s  %s", width, h.Host, h.Status)
		if r := hostReason(h); r != "" {
			line += "  " + r
		}
		fmt.Fprintln(s.w, line)
	}
}

func (s *deployStream) clearLive() {
	if s.showing {
		fmt.Fprint(s.live, "\r\033[K")
		s.showing = false
	}
}

// endLine writes how a deployment ended: "deployed web 1.4.2 to prod: ok
// in 12.3s (3 hosts, 3 batches)", or "deployment d-… failed: …; prod
// stays on 1.4.1".
func endLine(d api.Deployment) string {
	if d.State != api.StateOK {
		s := "deployment " + d.ID + " " + d.State
		if d.State == "" {
			s = "deployment " + d.ID + " ended without a result"
		}
		if d.Summary != "" {
			s += ": " + d.Summary
		}
		// The server's summary says where the environment stays; an
		// older or terser one may not.
		if d.Previous != "" && !strings.Contains(d.Summary, " stays on ") {
			s += "; " + d.Env + " stays on " + d.Previous
		}
		return s
	}
	var s string
	switch d.Kind {
	case api.KindRollback:
		s = fmt.Sprintf("rolled back %s on %s to %s", d.App, d.Env, d.Version)
	case api.KindDeliver:
		s = fmt.Sprintf("delivered %s %s to %s", d.App, d.Version, d.Env)
	default:
		s = fmt.Sprintf("deployed %s %s to %s", d.App, d.Version, d.Env)
	}
	s += ": ok"
	if took := deploymentTook(d); took != "" {
		s += " in " + took
	}
	about := []string{count(len(d.Hosts), "host", "hosts")}
	if n := countBatches(d.Steps); n > 0 {
		about = append(about, count(n, "batch", "batches"))
	}
	return s + " (" + strings.Join(about, ", ") + ")"
}

// printUser writes a new user and its token, which is shown only once.
func printUser(w io.Writer, u api.UserResponse) {
	role := "user"
	if u.Admin {
		role = "admin"
	}
	fmt.Fprintf(w, "created %s %s; the token is shown only once:\n\n  %s\n\n", role, u.Name, u.Token)
	fmt.Fprintf(w, "Give it to %s, who uses it with:\n\n  export PHENIX_TOKEN=%s\n", u.Name, u.Token)
}

// printUsers writes the table of API users.
func printUsers(w io.Writer, us []api.User, clk clock) {
	if len(us) == 0 {
		fmt.Fprintln(w, "no users (phenix users add NAME creates one)")
		return
	}
	tw := newTable(w, "NAME", "ROLE", "CREATED BY", "CREATED")
	for _, u := range us {
		role := "user"
		if u.Admin {
			role = "admin"
		}
		row(tw, u.Name, role, u.CreatedBy, clk.ago(u.CreatedAt))
	}
	tw.Flush()
}
