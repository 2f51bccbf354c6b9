package containertest

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/exampleapp"
	"github.com/phenixhq/phenix/internal/loadgen"
	"github.com/phenixhq/phenix/internal/testenv"
)

func TestHAProxyImage(t *testing.T) {
	t.Parallel()
	c := Start(t, HAProxyImage(t))
	if out := c.MustExec(t, "haproxy", "-v"); !strings.Contains(out, "HAProxy version") {
		t.Errorf("haproxy -v: %q", out)
	}
	c.MustExec(t, "socat", "-V")
	// The Debian image is another recipe, with its own tag.
	if HAProxyImage(t) == DebianImage(t) {
		t.Error("HAProxyImage and DebianImage have the same tag")
	}
}

// appHost is a Debian container running the example app on :8080.
type appHost struct {
	c    *Container
	ip   string
	name string // the server's name in HAProxy
}

// startAppHosts starts n containers on network with the releases of the
// example app of versions unpacked in /opt/app/VERSION (from the artifacts
// of exampleapp.Artifact, strip 1), and runs the first version.
func startAppHosts(t *testing.T, network string, n int, versions ...string) []*appHost {
	t.Helper()
	dir := t.TempDir()
	var artifacts []string
	for _, v := range versions {
		artifacts = append(artifacts, exampleapp.Artifact(t, dir, v, false, 0))
	}
	image := DebianImage(t)
	var hosts []*appHost
	for i := range n {
		c := Start(t, image, WithNetwork(network))
		for j, v := range versions {
			c.CopyTo(t, artifacts[j], "/tmp/"+filepath.Base(artifacts[j]))
			c.MustExec(t, "sh", "-c", `mkdir -p "$1" && tar -xzf "$2" -C "$1" --strip-components 1`,
				"sh", "/opt/app/"+v, "/tmp/"+filepath.Base(artifacts[j]))
		}
		h := &appHost{c: c, ip: c.IP(t, network), name: fmt.Sprintf("web-%d", i+1)}
		h.start(t, versions[0])
		hosts = append(hosts, h)
	}
	return hosts
}

// start runs version of the app, recording its pid in /run/app.pid, and
// waits for its health check to pass.
func (h *appHost) start(t *testing.T, version string) {
	t.Helper()
	h.c.Daemon(t, "/var/log/app.log", "sh", "-c", `echo $$ > /run/app.pid && exec "$0" --listen :8080`,
		"/opt/app/"+version+"/bin/app")
	want := "ok " + version + "\n"
	testenv.WaitFor(t, h.name+" to answer /health with "+version, func() bool {
		return httpGet("http://"+h.ip+":8080/health") == want
	})
}

// stop sends SIGTERM to the app and waits for it to exit.
func (h *appHost) stop(t *testing.T) {
	t.Helper()
	h.c.MustExec(t, "sh", "-c", `pid=$(cat /run/app.pid) && kill -TERM "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done`)
}

// httpGet returns the body of a GET of url, or "" on any error or a status
// other than 200.
func httpGet(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return ""
	}
	return string(b)
}

func TestHAProxy(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "docker")
	network := Network(t)
	hosts := startAppHosts(t, network, 2, "1.0.0")
	lb := StartHAProxy(t, network, map[string]string{hosts[0].name: hosts[0].ip + ":8080", hosts[1].name: hosts[1].ip + ":8080"})
	testenv.WaitFor(t, "both servers UP", func() bool {
		s := lb.Servers(t)
		return s["web-1"] == "UP" && s["web-2"] == "UP"
	})
	// Round robin: both hosts answer through the frontend.
	seen := map[string]bool{}
	for range 10 {
		seen[httpGet("http://"+lb.Addr+"/")] = true
	}
	if len(seen) != 2 {
		t.Errorf("answers through haproxy: %v, want one from each of the 2 hosts", seen)
	}

	lb.SetState(t, "web-1", "maint")
	if s := lb.Servers(t); s["web-1"] != "MAINT" || s["web-2"] != "UP" {
		t.Errorf("servers after maint of web-1: %v", s)
	}
	web2 := httpGet("http://" + hosts[1].ip + ":8080/")
	for range 10 {
		if got := httpGet("http://" + lb.Addr + "/"); got != web2 {
			t.Fatalf("with web-1 in maint, haproxy answered %q, want web-2's %q", got, web2)
		}
	}
	lb.SetState(t, "web-1", "drain")
	if s := lb.Servers(t); !strings.HasPrefix(s["web-1"], "DRAIN") { // "DRAIN 1/2" while its check rises again
		t.Errorf("servers after drain of web-1: %v", s)
	}

	// The one-liner a deployment hook runs, with bash and no socat.
	hook := func(server, state string) string {
		t.Helper()
		line := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%s; echo "set server app/%s state %s" >&3; cat <&3`,
			strings.Split(lb.Admin, ":")[0], haproxyAdminPort, server, state)
		out, err := exec.CommandContext(t.Context(), "bash", "-c", line).CombinedOutput()
		if err != nil {
			t.Fatalf("bash -c %q: %v: %s", line, err, out)
		}
		return string(out)
	}
	if out := hook("web-2", "maint"); strings.TrimSpace(out) != "" {
		t.Errorf("one-liner answered %q, want nothing", out)
	}
	if s := lb.Servers(t); s["web-2"] != "MAINT" {
		t.Errorf("web-2 after the one-liner set maint: %v", s)
	}
	hook("web-1", "ready")
	hook("web-2", "ready")
	testenv.WaitFor(t, "both servers back UP", func() bool {
		s := lb.Servers(t)
		return s["web-1"] == "UP" && s["web-2"] == "UP"
	})
	if out := hook("web-9", "maint"); !strings.Contains(out, "No such server") {
		t.Errorf("one-liner for an unknown server answered %q, want HAProxy's error", out)
	}

	// A server whose app dies is taken out by the health check.
	hosts[0].stop(t)
	testenv.WaitFor(t, "web-1 DOWN after its app stopped", func() bool { return lb.Servers(t)["web-1"] == "DOWN" })
	for range 10 {
		if got := httpGet("http://" + lb.Addr + "/"); got != web2 {
			t.Fatalf("with web-1's app stopped, haproxy answered %q, want web-2's %q", got, web2)
		}
	}
}

// TestRollingRestartBehindHAProxy is the choreography of a rolling deploy
// without phenix: three hosts behind HAProxy, a load generator sending
// requests all along, and each host in turn taken out (maint), its app
// restarted on the new version (graceful SIGTERM), checked, and put back
// (ready). No request may fail.
func TestRollingRestartBehindHAProxy(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "docker")
	network := Network(t)
	hosts := startAppHosts(t, network, 3, "1.0.0", "2.0.0")
	backends := map[string]string{}
	for _, h := range hosts {
		backends[h.name] = h.ip + ":8080"
	}
	lb := StartHAProxy(t, network, backends)
	testenv.WaitFor(t, "all servers UP", func() bool {
		for _, s := range lb.Servers(t) {
			if s != "UP" {
				return false
			}
		}
		return true
	})

	const minLoad = 6 * time.Second
	start := time.Now()
	gen := loadgen.Start(t.Context(), loadgen.Config{URL: "http://" + lb.Addr + "/", Concurrency: 4})
	testenv.WaitFor(t, "the first requests", func() bool { n, _ := gen.Live(); return n > 100 })
	for _, h := range hosts {
		step := time.Now()
		lb.SetState(t, h.name, "maint")
		time.Sleep(300 * time.Millisecond) // let requests already sent to it finish
		testenv.WaitFor(t, h.name+" to have no request in flight", func() bool { return lb.Sessions(t, h.name) == 0 })
		h.stop(t)
		h.start(t, "2.0.0")
		lb.SetState(t, h.name, "ready")
		testenv.WaitFor(t, h.name+" UP", func() bool { return lb.Servers(t)[h.name] == "UP" })
		n, failed := gen.Live()
		t.Logf("%s restarted on 2.0.0 in %s; %d requests so far, %d failed", h.name, time.Since(step).Round(time.Millisecond), n, failed)
	}
	if rest := minLoad - time.Since(start); rest > 0 {
		time.Sleep(rest) // load on the new version too
	}
	r := gen.Stop()
	t.Log(r)
	// Without the maint and ready steps the load generator sees no failure
	// either, thanks to graceful shutdown, retries and redispatch, but
	// HAProxy then redispatches hundreds of requests refused by a stopped
	// app. With them, it never has to: check that, so that this test proves
	// the choreography and not only HAProxy's retries.
	for _, row := range lb.stat(t) {
		t.Logf("haproxy %s: %s requests, %s retries, %s redispatches, %s connection errors, %s response errors",
			row["svname"], row["stot"], row["wretr"], row["wredis"], row["econ"], row["eresp"])
		for _, col := range []string{"wretr", "wredis", "econ", "eresp"} {
			if v := row[col]; v != "0" && v != "" {
				t.Errorf("haproxy %s: %s = %s, want 0: a request reached a server out of service", row["svname"], col, v)
			}
		}
	}
	if r.Failed != 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %v", r.Failed, r.Requests, r.Errors)
		t.Logf("haproxy log:\n%s", lastLines(lb.C.MustExec(t, "sh", "-c", "grep -v ' 200 ' /var/log/haproxy.log || true"), 40))
	}
	if r.Versions["1.0.0"] == 0 || r.Versions["2.0.0"] == 0 {
		t.Errorf("versions answering %v, want both 1.0.0 and 2.0.0", r.Versions)
	}
	if r.Requests < 1000 {
		t.Errorf("only %d requests in %s: too few to prove anything", r.Requests, r.Duration)
	}
}
