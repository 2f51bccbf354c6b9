package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/check"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/wire"
)

// supervisorExe, when set, is the phenix binary that the service of a
// release runs `phenix supervise` with; "" means this executable. Tests,
// whose executable is not phenix, set it.
var supervisorExe string

// templateFuncs are the functions release templates may call: those of
// bundle templates.
var templateFuncs = sync.OnceValue(bundle.TemplateFuncs)

// render executes text as a template with data; name is used in errors.
func render(name, text string, data any) (string, error) {
	tp, err := template.New(name).Funcs(templateFuncs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// renderValue renders, in a copy of v (decoded JSON), every string that
// holds a template.
func renderValue(name string, v any, data any) (any, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return v, nil
		}
		return render(name, v, data)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			r, err := renderValue(name+"."+k, e, data)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := renderValue(fmt.Sprintf("%s[%d]", name, i), e, data)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// escapeTemplates makes the strings of v (rendered already) come out of
// bundle templating unchanged: "{{" becomes a template that writes "{{".
func escapeTemplates(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "{{", `{{"{{"}}`)
	case map[string]any:
		for k, e := range v {
			v[k] = escapeTemplates(e)
		}
	case []any:
		for i, e := range v {
			v[i] = escapeTemplates(e)
		}
	}
	return v
}

// lookupOwner resolves owner and group names (or numbers) to ids; -1
// leaves a side as it is.
func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, err := user.Lookup(owner)
			if err != nil {
				return 0, 0, err
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, err := user.LookupGroup(group)
			if err != nil {
				return 0, 0, err
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
}

// renderFiles renders the task's files, each written atomically.
func (r *releaseRun) renderFiles(data map[string]any) error {
	uid, gid, err := lookupOwner(r.t.Owner, r.t.Group)
	if err != nil {
		return err
	}
	release := r.releaseHost(r.t.Version)
	for _, f := range r.t.Files {
		var host string
		switch c := path.Clean(f.Path); {
		case f.Path == "":
			return errors.New("file: no path")
		case path.IsAbs(c):
			host = c
		case c == "." || c == ".." || strings.HasPrefix(c, "../"):
			return fmt.Errorf("file %s: leaves the release directory", f.Path)
		default:
			host = path.Join(release, c)
		}
		text, err := render(f.Path, f.Template, data)
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		mode := fs.FileMode(f.Mode & 0o777)
		if f.Mode == 0 {
			mode = 0o644
		}
		if err := writeRendered(r.local(host), []byte(text), mode, uid, gid); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		r.linef("render %s (%d bytes)", host, len(text))
	}
	return nil
}

// writeRendered writes data to p through a temporary file renamed into
// place, with mode and owner.
func writeRendered(p string, data []byte, mode fs.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), ".phenix-"+filepath.Base(p)+"-"+randomHex())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && (uid >= 0 || gid >= 0) {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode) // after chown, which may clear bits
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// hasService reports whether the task has a service mapping.
func hasService(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}"
}

// serviceHost returns where the service promise acts: under Root when the
// agent has one, with supervisorExe when set; nil for the real host.
func (a *agent) serviceHost() *promise.ServiceHost {
	if a.cfg.Root == "" && supervisorExe == "" {
		return nil
	}
	h := &promise.ServiceHost{Exe: supervisorExe}
	if root := a.cfg.Root; root != "" {
		h.SystemdDir = filepath.Join(root, "run/systemd/system")
		h.Dirs.State = filepath.Join(root, "var/lib/phenix/services")
		h.Dirs.Run = filepath.Join(root, "run/phenix")
		h.Dirs.Log = filepath.Join(root, "var/log/phenix")
	}
	return h
}

// keepService keeps the task's service promise, rendered, with the
// engine, then restarts or reloads the service as Restart says, unless
// the engine has just started it.
func (r *releaseRun) keepService(ctx context.Context, data map[string]any) error {
	var spec map[string]any
	if err := json.Unmarshal(r.t.Service, &spec); err != nil {
		return fmt.Errorf("service: expected a mapping: %v", err)
	}
	v, err := renderValue("service", spec, data)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	spec = v.(map[string]any)
	name, _ := spec["service"].(string)
	if name == "" {
		return errors.New("service: expected a service promise, with its name as service")
	}
	switch r.t.Restart {
	case "", "restart":
		spec["on_notify"] = "restart"
	case "reload":
		spec["on_notify"] = "reload"
	}
	src, err := yaml.Marshal(map[string]any{"promises": []any{escapeTemplates(spec)}})
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	ps, errs := bundle.Parse(r.t.App+" service", src, bundle.Options{})
	if err := errs.Err(); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	var svc *promise.Service
	if len(ps) == 1 {
		svc, _ = ps[0].Resource.(*promise.Service)
	}
	if svc == nil {
		return errors.New("service: expected one service promise")
	}
	if h := r.a.serviceHost(); h != nil {
		svc.SetHost(*h)
	}
	// Without Root: service promises act on the running system (and
	// refuse a root); serviceHost has put the supervisor's files under it.
	env := &promise.Env{Log: r.a.log}
	plan, err := engine.NewPlan(ps, env)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	rep := plan.Run(ctx, env, engine.Options{Log: r.a.log})
	res := rep.Results[0]
	switch res.Status {
	case engine.Failed:
		return fmt.Errorf("service %s: %s", name, res.Error)
	case engine.Skipped:
		return fmt.Errorf("service %s: not run: %s", name, res.Reason)
	}
	changed := ""
	if res.Status == engine.Changed && res.Diff != nil {
		changed = res.Diff.Summary()
	}
	if r.t.Restart == "none" {
		if changed != "" {
			r.linef("service %s: %s", name, changed)
		} else {
			r.linef("service %s: kept as it is (restart: none)", name)
		}
		return nil
	}
	how, err := svc.Refresh(ctx, env)
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	switch {
	case how != "":
		r.linef("service %s %s", name, how)
	case changed != "":
		r.linef("service %s started (%s)", name, changed)
	default:
		r.linef("service %s: not running, not restarted", name)
	}
	return nil
}

// runChecks runs the task's checks at once, each until it passes or its
// deadline passes; any failing fails the task.
func (r *releaseRun) runChecks(ctx context.Context) error {
	if strings.TrimSpace(r.t.Checks) == "" {
		return nil
	}
	return r.step("checks", func() error {
		cs, err := check.Parse("checks", []byte(r.t.Checks))
		if err != nil {
			return fmt.Errorf("checks: %w", err)
		}
		vars := check.Vars{Host: check.HostInfo{ID: r.a.ident.id}, Vars: r.vars}
		vars.Host.Address, _ = r.host["address"].(string)
		results := make([]check.Result, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() { results[i] = check.Run(ctx, c, vars) })
		}
		wg.Wait()
		failed := 0
		for i := range results {
			res := &results[i]
			res.Error = r.mask.String(res.Error)
			for j := range res.Steps {
				res.Steps[j].Error = r.mask.String(res.Steps[j].Error)
			}
			attempts := "1 attempt"
			if res.Attempts != 1 {
				attempts = fmt.Sprintf("%d attempts", res.Attempts)
			}
			if res.OK {
				r.linef("check %s: ok (%s, %s)", res.Name, attempts, round(res.Duration))
				continue
			}
			failed++
			r.linef("check %s: FAILED after %s: %s", res.Name, attempts, res.Error)
		}
		r.rep.Checks, _ = json.Marshal(results)
		if failed > 0 {
			return fmt.Errorf("%d of %d checks failed", failed, len(results))
		}
		return nil
	})
}

// runHook runs the task's hook in the release directory (Dir when the
// release is not on disk) with the agent's command machinery: its own
// process group, the job's timeout, its output streamed and masked.
func (r *releaseRun) runHook(ctx context.Context) error {
	h := r.t.Hook
	prev, err := r.currentVersion()
	if err != nil {
		return err
	}
	data := r.data(prev)
	var argv []string
	if h.Script != "" {
		s, err := render("script", h.Script, data)
		if err != nil {
			return fmt.Errorf("hook %s: %w", h.Name, err)
		}
		argv = []string{"/bin/sh", "-c", s}
	} else {
		for i, a := range h.Argv {
			s, err := render(fmt.Sprintf("argv[%d]", i), a, data)
			if err != nil {
				return fmt.Errorf("hook %s: %w", h.Name, err)
			}
			argv = append(argv, s)
		}
	}
	dir := r.releaseDir(r.t.Version)
	if _, err := os.Stat(dir); err != nil {
		dir = r.local(r.t.Dir)
	}
	j := wire.Job{
		ID:   r.job.ID,
		Argv: argv,
		Env: []string{
			"PHENIX_APP=" + r.t.App,
			"PHENIX_ENV=" + r.t.Env,
			"PHENIX_VERSION=" + r.t.Version,
			"PHENIX_RELEASE=" + r.releaseHost(r.t.Version),
			"PHENIX_PREVIOUS=" + prev,
		},
	}
	if dl, ok := ctx.Deadline(); ok {
		j.Timeout = max(time.Until(dl), time.Millisecond)
	}
	var res wire.Result
	err = r.step("hook", func() error {
		// The agent's context, not the task's: the job's timeout is the
		// process's own, so that it reports a timeout.
		res = r.a.runProcess(r.agentCtx, j, dir, r.mask)
		r.hook, r.code = &res, res.ExitCode
		switch res.Status {
		case wire.StatusOK:
			return nil
		case wire.StatusTimeout:
			return fmt.Errorf("hook %s: killed after the timeout of %v", h.Name, r.job.Timeout)
		}
		return fmt.Errorf("hook %s: exit status %d", h.Name, res.ExitCode)
	})
	r.out.WriteString(res.Output)
	if res.Output != "" && !strings.HasSuffix(res.Output, "\n") {
		r.out.WriteByte('\n')
	}
	if err == nil {
		r.linef("hook %s: exit status 0", h.Name)
	}
	return err
}
