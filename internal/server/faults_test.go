package server_test

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/testenv"
)

// dockerFleet is a server and agents, each in its own Debian container on
// a private Docker network, running the static phenix binary; the test
// drives the server's API from outside.
type dockerFleet struct {
	t      *testing.T
	net    string
	srv    *containertest.Container
	agents map[string]*containertest.Container
	c      *api.Client
	url    string
	token  api.TokenResponse
}

const dataDir = "/var/lib/phenix/server"

func newDockerFleet(t *testing.T, agents ...string) *dockerFleet {
	testenv.Require(t, "docker", "debootstrap")
	bin := testenv.PhenixBinary(t)
	img := containertest.DebianImage(t)
	f := &dockerFleet{t: t, net: containertest.Network(t), agents: map[string]*containertest.Container{}}
	f.srv = containertest.Start(t, img, containertest.WithNetwork(f.net), containertest.WithPhenix(bin))
	f.startServer()
	ip := f.srv.IP(t, f.net)
	f.url = "https://" + ip + ":4680"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.srv.ReadFile(t, dataDir+"/ca.pem"))
	f.c = api.NewClient(f.url, strings.TrimSpace(string(f.srv.ReadFile(t, dataDir+"/admin.token"))), pool)
	if err := f.c.Do(t.Context(), "POST", "/api/v1/tokens", api.TokenRequest{}, &f.token); err != nil {
		t.Fatal(err)
	}
	for _, id := range agents {
		c := containertest.Start(t, img, containertest.WithNetwork(f.net), containertest.WithPhenix(bin))
		f.agents[id] = c
		c.Daemon(t, "/var/log/phenix-agent.log", "phenix", "agent", "--server", "https://"+f.srv.Name+":4680",
			"--join-token", f.token.Token, "--ca-hash", f.token.CAHash, "--id", id)
	}
	for _, id := range agents {
		f.waitStatus(id, "online")
	}
	t.Logf("server and %d agents online", len(agents))
	return f
}

// startServer starts phenix server in its container and waits until it
// answers.
func (f *dockerFleet) startServer() {
	f.t.Helper()
	f.srv.Daemon(f.t, "/var/log/phenix-server.log", "phenix", "server", "--advertise", f.srv.Name, "--heartbeat", "500ms")
	testenv.WaitFor(f.t, "the server to answer", func() bool {
		_, _, code, _ := f.srv.Exec(f.t.Context(), "sh", "-c", "test -s "+dataDir+"/server.json && kill -0 $(sed -n 's/.*\"pid\": \\([0-9]*\\).*/\\1/p' "+dataDir+"/server.json)")
		if code != 0 {
			return false
		}
		if f.c == nil {
			return true
		}
		_, err := f.c.Hosts(f.t.Context(), "")
		return err == nil
	})
}

// stopServer stops phenix server (SIGTERM) and waits until it has exited.
func (f *dockerFleet) stopServer() {
	f.t.Helper()
	f.srv.MustExec(f.t, "sh", "-c", "pid=$(sed -n 's/.*\"pid\": \\([0-9]*\\).*/\\1/p' "+dataDir+"/server.json); kill $pid; while kill -0 $pid 2>/dev/null; do sleep 0.05; done")
}

func (f *dockerFleet) host(id string) api.Host {
	hl, err := f.c.Hosts(f.t.Context(), "id="+id)
	if err != nil || len(hl.Hosts) != 1 {
		return api.Host{}
	}
	return hl.Hosts[0]
}

func (f *dockerFleet) waitStatus(id, status string) {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for f.host(id).Status != status {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s is %q, want %s; agent log:\n%s", id, f.host(id).Status, status, f.agents[id].ReadFile(f.t, "/var/log/phenix-agent.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFile waits until path exists in the agent's container.
func (f *dockerFleet) waitFile(id, path string) {
	f.t.Helper()
	testenv.WaitFor(f.t, path+" on "+id, func() bool {
		_, _, code, _ := f.agents[id].Exec(f.t.Context(), "test", "-e", path)
		return code == 0
	})
}

// follow waits for job id to end and returns it with its results.
func (f *dockerFleet) follow(id string) api.Job {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), 2*time.Minute)
	defer cancel()
	if err := f.c.Events(ctx, id, func(api.Event) {}); err != nil {
		f.t.Fatalf("follow %s: %v", id, err)
	}
	j, err := f.c.Job(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

func statuses(j api.Job) map[string]string {
	out := map[string]string{}
	for _, r := range j.Results {
		out[r.Host] = r.Status
	}
	return out
}

// TestFaults runs agents as containers and breaks things under a running
// job: an agent killed, an agent cut off the network, the server restarted.
func TestFaults(t *testing.T) {
	f := newDockerFleet(t, "a-1", "a-2", "a-3")
	ctx := t.Context()

	t.Run("killed and cut off mid-job", func(t *testing.T) {
		j, err := f.c.StartJob(ctx, api.JobRequest{Kind: "run", Selector: "*", Timeout: api.Duration(4 * time.Second),
			Command: []string{"sh", "-c", "touch /tmp/started-1; sleep 2; echo done"}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, id := range []string{"a-2", "a-3"} {
			wg.Add(1)
			go func() { defer wg.Done(); f.waitFile(id, "/tmp/started-1") }()
		}
		wg.Wait()
		f.agents["a-3"].Kill(t)
		f.agents["a-2"].Disconnect(t, f.net)
		start := time.Now()
		j = f.follow(j.ID)
		got := statuses(j)
		if got["a-1"] != "ok" || got["a-2"] != "unreachable" || got["a-3"] != "unreachable" || j.Result != "failed" {
			t.Fatalf("statuses %v, job %s %q", got, j.Result, j.Summary)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("the job took %s to end after the faults", d)
		}
		// Plugged back, a-2 comes back by itself, and its result, kept
		// while it was cut off, replaces unreachable.
		f.agents["a-2"].Connect(t, f.net)
		f.waitStatus("a-2", "online")
		var late api.Job
		testenv.WaitFor(t, "a-2's late result, and the job's summary updated", func() bool {
			late, err = f.c.Job(ctx, j.ID)
			return err == nil && statuses(late)["a-2"] == "ok" && late.Summary == "2 ok, 1 unreachable (after a late result)"
		})
	})

	t.Run("server restarted mid-job", func(t *testing.T) {
		j, err := f.c.StartJob(ctx, api.JobRequest{Kind: "run", Selector: "id in (a-1,a-2)", Timeout: api.Duration(time.Minute),
			Command: []string{"sh", "-c", "touch /tmp/started-2; while [ ! -e /tmp/go-2 ]; do sleep 0.05; done; echo done"}})
		if err != nil {
			t.Fatal(err)
		}
		f.waitFile("a-1", "/tmp/started-2")
		f.waitFile("a-2", "/tmp/started-2")
		f.stopServer()
		// The commands end while the server is away.
		f.agents["a-1"].MustExec(t, "touch", "/tmp/go-2")
		f.agents["a-2"].MustExec(t, "touch", "/tmp/go-2")
		testenv.WaitFor(t, "a-1's result in its outbox", func() bool {
			_, _, code, _ := f.agents["a-1"].Exec(ctx, "sh", "-c", "ls -A /var/lib/phenix/agent/outbox | grep -q .")
			return code == 0
		})
		f.startServer()
		j = f.follow(j.ID)
		got := statuses(j)
		if got["a-1"] != "ok" || got["a-2"] != "ok" || len(j.Results) != 2 || j.Result != "ok" {
			t.Fatalf("after the restart: %v, job %s %q", got, j.Result, j.Summary)
		}
		for _, r := range j.Results {
			if strings.Count(r.Output, "done") != 1 {
				t.Errorf("%s output %q", r.Host, r.Output)
			}
		}
		var es []struct {
			Action string
			Params map[string]string
		}
		if err := f.c.Do(ctx, "GET", "/api/v1/journal", nil, &es); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Action == "command.run" && e.Params["job"] == j.ID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("job journaled %d times", n)
		}
	})

	t.Run("revoked agent cannot connect", func(t *testing.T) {
		if err := f.c.Do(ctx, "POST", "/api/v1/hosts/a-1/revoke", nil, nil); err != nil {
			t.Fatal(err)
		}
		f.waitStatus("a-1", "revoked")
		testenv.WaitFor(t, "the agent to be refused", func() bool {
			return strings.Contains(string(f.agents["a-1"].ReadFile(t, "/var/log/phenix-agent.log")), "revoked")
		})
		j, err := f.c.StartJob(ctx, api.JobRequest{Kind: "run", Selector: "*", Command: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		if j = f.follow(j.ID); strings.Join(j.Hosts, " ") != "a-2 a-3" { // a-3 was killed, not revoked
			t.Errorf("after revoking a-1, '*' is %v", j.Hosts)
		}
	})
}
