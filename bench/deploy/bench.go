package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/exampleapp"
	"github.com/phenixhq/phenix/internal/policy"
)

// basePort is the port of host h01's app; hNN listens on basePort+NN-1.
const basePort = 19100

// appFile is the app the benchmark deploys. Every host gets all at once
// (batch 100%): the benchmark measures the machine's throughput, not a
// rolling pace. The service's command and the check use the host's
// root and port, which policy.yml sets per host.
const appFile = `description: the example app, padded to the benchmark's size
artifact: {strip: 1}
keep: 2
service:
  provider: supervisor
  command: ["{{ .vars.root }}{{ .current }}/bin/app", "--listen", "127.0.0.1:{{ .vars.port }}"]
  stop_timeout: 5s
checks:
  - name: health
    http: {url: "http://127.0.0.1:{{ .vars.port }}/health", contains: ok}
    retry: {interval: 20ms, deadline: 10s}
check_every: 0s
environments:
  bench:
    select: bench=deploy
    batch: "100%"
`

// bench is one run of the benchmark.
type bench struct {
	o     options
	dir   string
	bin   string // phenix
	app   string // the example app
	cs    *benchkit.Children
	srv   *benchkit.Server
	hosts []string
	roots map[string]string
	log   io.Writer
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "deploy: "+format+"\n", args...)
}

func benchmark(ctx context.Context, o options, log io.Writer) (*result, error) {
	res := &result{Hosts: o.hosts, SizeMB: o.sizeMB, Runs: o.runs, CPUs: runtime.NumCPU(), Kernel: benchkit.Kernel()}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "phenix-bench-deploy-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, dir: dir, cs: &benchkit.Children{}, roots: map[string]string{}, log: log}
	defer func() {
		b.cs.StopAll()
		killUnder(dir) // the supervisors and apps run detached from the agents
		if !o.keep && o.dir == "" {
			os.RemoveAll(dir)
		} else {
			b.logf("work directory kept: %s", dir)
		}
	}()
	if err := b.setup(ctx); err != nil {
		return res, err
	}
	res.LoadBefore = benchkit.LoadAvg()
	for r := 1; r <= o.runs; r++ {
		rr, err := b.run(ctx, r)
		res.Rounds = append(res.Rounds, rr)
		if err != nil {
			return res, fmt.Errorf("run %d: %w", r, err)
		}
	}
	res.LoadAfter = benchkit.LoadAvg()
	if m, err := benchkit.ProcStatus(b.srv.Proc.Pid()); err == nil {
		res.Server = m
	}
	return res, nil
}

// setup builds the binaries, starts the server and the agents, and pushes
// the policy.
func (b *bench) setup(ctx context.Context) error {
	var err error
	b.bin = b.o.phenix
	if b.bin == "" {
		b.logf("building phenix")
		if b.bin, err = benchkit.BuildPhenix(ctx, b.dir); err != nil {
			return err
		}
	}
	b.logf("building the example app")
	if b.app, err = benchkit.Build(ctx, b.dir, "./examples/app", "app"); err != nil {
		return err
	}
	listen, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	natsListen, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	b.srv = &benchkit.Server{Bin: b.bin, Data: filepath.Join(b.dir, "server"), Listen: listen, NATSListen: natsListen,
		LogPath: filepath.Join(b.dir, "server.log"), Args: []string{"--heartbeat", "1s"}, Children: b.cs}
	b.logf("starting the server (log %s)", b.srv.LogPath)
	if err := b.srv.Start(ctx); err != nil {
		return err
	}
	var tok api.TokenResponse
	if err := b.srv.API.Do(ctx, "POST", "/api/v1/tokens", api.TokenRequest{Labels: map[string]string{"bench": "deploy"}}, &tok); err != nil {
		return err
	}
	b.logf("starting %d agents", b.o.hosts)
	if err := os.MkdirAll(filepath.Join(b.dir, "agents"), 0o755); err != nil {
		return err
	}
	for i := 1; i <= b.o.hosts; i++ {
		id := fmt.Sprintf("h%02d", i)
		root := filepath.Join(b.dir, "roots", id)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		b.hosts = append(b.hosts, id)
		b.roots[id] = root
		cmd := exec.Command(b.bin, "agent", "--server", b.srv.Info.URL, "--join-token", tok.Token, "--ca", b.srv.Info.CA,
			"--id", id, "--state", filepath.Join(b.dir, "agents", id), "--root", root)
		if _, err := b.cs.Start(id, cmd, filepath.Join(b.dir, "agents", id+".log")); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		hl, err := b.srv.API.Hosts(ctx, "bench=deploy")
		online := 0
		if err == nil {
			for _, h := range hl.Hosts {
				if h.Status == "online" {
					online++
				}
			}
		}
		if online == b.o.hosts {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d agents online after 2 minutes", online, b.o.hosts)
		}
		if err := benchkit.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return b.pushPolicy(ctx)
}

// pushPolicy pushes a policy with the app and each host's root and port.
func (b *bench) pushPolicy(ctx context.Context) error {
	dir := filepath.Join(b.dir, "policy")
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		return err
	}
	var pol strings.Builder
	pol.WriteString("hosts:\n")
	for i, id := range b.hosts {
		fmt.Fprintf(&pol, "  %s:\n    vars: {root: %q, port: %d}\n", id, b.roots[id], basePort+i)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yml"), []byte(pol.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "web.yml"), []byte(appFile), 0o644); err != nil {
		return err
	}
	archive, _, err := policy.Pack(dir)
	if err != nil {
		return err
	}
	return b.srv.API.Do(ctx, "POST", "/api/v1/policy", archive, nil)
}

// run uploads two versions and times each phase.
func (b *bench) run(ctx context.Context, r int) (round, error) {
	rr := round{N: r}
	v1, v2 := fmt.Sprintf("1.0.%d", r), fmt.Sprintf("2.0.%d", r)
	shas := map[string]string{}
	for _, v := range []string{v1, v2} {
		path := filepath.Join(b.dir, "app-"+v+".tar.gz")
		if err := exampleapp.WriteArtifact(path, b.app, v, false, int64(b.o.sizeMB)*1e6); err != nil {
			return rr, err
		}
		t0 := time.Now()
		ver, err := b.upload(ctx, v, path)
		if err != nil {
			return rr, err
		}
		rr.Upload = append(rr.Upload, ms(time.Since(t0)))
		rr.ArtifactBytes = ver.Size
		shas[v] = ver.SHA256
		os.Remove(path)
	}
	for _, ph := range []struct {
		name    string
		kind    string
		version string
	}{
		{"deliver", api.KindDeliver, v1},
		{"deploy", api.KindDeploy, v1},
		{"upgrade", api.KindDeploy, v2},
		{"rollback", api.KindRollback, v1},
	} {
		t0 := time.Now()
		d, err := b.deploy(ctx, api.DeployRequest{Kind: ph.kind, Env: "bench", Version: ph.version})
		wall := time.Since(t0)
		if err != nil {
			return rr, fmt.Errorf("%s %s: %w", ph.name, ph.version, err)
		}
		if d.State != api.StateOK {
			return rr, fmt.Errorf("%s %s: %s: %s", ph.name, ph.version, d.State, d.Summary)
		}
		p := phase{Name: ph.name, Version: ph.version, WallMS: ms(wall)}
		for _, s := range d.Steps {
			for _, h := range s.Hosts {
				p.HostMaxMS = max(p.HostMaxMS, ms(time.Duration(h.Duration)))
				for _, c := range h.Checks {
					p.CheckMaxMS = max(p.CheckMaxMS, ms(time.Duration(c.Duration)))
				}
			}
		}
		if err := b.verify(ctx, ph.name, ph.version, shas[ph.version]); err != nil {
			return rr, fmt.Errorf("%s %s: %w", ph.name, ph.version, err)
		}
		b.logf("run %d: %-8s %s on %d hosts in %s (slowest host %s)", r, ph.name, ph.version, b.o.hosts, wall.Round(time.Millisecond), time.Duration(p.HostMaxMS*1e6))
		rr.Phases = append(rr.Phases, p)
	}
	return rr, nil
}

func (b *bench) upload(ctx context.Context, version, path string) (api.Version, error) {
	f, err := os.Open(path)
	if err != nil {
		return api.Version{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return api.Version{}, err
	}
	var v api.Version
	_, err = b.srv.API.DoBody(ctx, "PUT", "/api/v1/apps/web/versions/"+version, f, st.Size(), &v)
	return v, err
}

// deploy starts a deployment and polls it to its end.
func (b *bench) deploy(ctx context.Context, req api.DeployRequest) (api.Deployment, error) {
	var d api.Deployment
	if err := b.srv.API.Do(ctx, "POST", "/api/v1/apps/web/deployments", req, &d); err != nil {
		return d, err
	}
	for d.State == api.StateRunning {
		if err := benchkit.Sleep(ctx, 10*time.Millisecond); err != nil {
			return d, err
		}
		if err := b.srv.API.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// verify checks every host after a phase: the release is there with the
// artifact's checksum and, but after a delivery, current points at it
// and the app answers with its version.
func (b *bench) verify(ctx context.Context, phase, version, sha string) error {
	for i, id := range b.hosts {
		dir := filepath.Join(b.roots[id], "opt/phenix/apps/web")
		var marker struct {
			SHA256 string `json:"sha256"`
		}
		m, err := os.ReadFile(filepath.Join(dir, "releases", version, ".phenix-release"))
		if err != nil || json.Unmarshal(m, &marker) != nil || marker.SHA256 != sha {
			return fmt.Errorf("%s: release %s: marker %q, want sha256 %s (%v)", id, version, m, sha, err)
		}
		if phase == "deliver" {
			continue
		}
		l, err := os.Readlink(filepath.Join(dir, "current"))
		if err != nil || filepath.Base(l) != version {
			return fmt.Errorf("%s: current → %q, want %s (%v)", id, l, version, err)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+strconv.Itoa(basePort+i)+"/version", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s: the app: %w", id, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(body, &got) != nil || got.Version != version {
			return fmt.Errorf("%s: the app answers %s, want version %s", id, bytes.TrimSpace(body), version)
		}
	}
	return nil
}

// killUnder stops every process whose command line names dir: the
// supervisors and the apps the agents started, detached in sessions of
// their own, which outlive the agents.
func killUnder(dir string) {
	find := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && bytes.Contains(cl, []byte(dir+"/")) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	for _, pid := range find() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(find()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range find() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
