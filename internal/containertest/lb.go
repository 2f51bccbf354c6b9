package containertest

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// HAProxyImage returns the tag of a Debian bookworm image like DebianImage's
// that also has haproxy and socat, such as
// phenix-test/haproxy:bookworm-1a2b3c4d. It is built, cached and imported
// the same way, from its own recipe (bookwormHAProxy), so the first call on
// a machine runs debootstrap and later ones import or reuse the image.
func HAProxyImage(t testing.TB) string {
	t.Helper()
	return image(t, bookwormHAProxy())
}

// HAProxyBackend is the name of the backend StartHAProxy configures; its
// servers are named in the runtime API as HAProxyBackend + "/" + name.
const HAProxyBackend = "app"

// HAProxy ports inside the container.
const (
	haproxyPort      = "80"
	haproxyAdminPort = "9999"
)

// An HAProxy is a load balancer running in a container, started by
// StartHAProxy.
type HAProxy struct {
	C     *Container
	Addr  string // IP:80, the HTTP frontend, from the test process
	Admin string // IP:9999, the runtime API (level admin), from the test process
}

// haproxyConfig is the configuration StartHAProxy writes, for the servers
// of the backend app. What it holds, and why:
//   - mode http, so that HAProxy balances each request, not each client
//     connection: a client's keep-alive connection to the frontend is never
//     pinned to one server, and a server put in maint receives no new
//     request even from clients that stay connected.
//   - option httpchk GET /health, check inter 500ms fall 2 rise 1: a server
//     that dies or fails its health check leaves the pool within about a
//     second even when no hook took it out; one good check brings it back.
//   - retries 3 and option redispatch: a request whose connection to a
//     server fails (refused, reset while connecting) is retried, on another
//     server for the last retry, instead of answering 503.
//   - timeout connect 1s, timeout client/server 10s: the server timeout is
//     as long as the example app's graceful shutdown, so a request the app
//     finishes while stopping is not cut.
//   - stats socket ipv4@0.0.0.0:9999 level admin: the runtime API over TCP,
//     so that the test process and deployment hooks can drive it without a
//     shared file system (see SetState).
//
// The runtime API takes one command per connection, answers and closes, so
// a deployment hook on the phenix server needs only bash, no socat:
//
//	bash -c 'exec 3<>/dev/tcp/IP/9999; echo "set server app/web-1 state maint" >&3; cat <&3'
//
// and "state ready" to put the server back; an empty answer means success,
// and an error is one line of text such as "No such server.".
//
// This configuration gives zero failed requests for a rolling restart in
// which each server is put in maint, restarted gracefully (the example app
// finishes the requests in flight on SIGTERM), checked and put back in
// ready, as TestRollingRestartBehindHAProxy shows: HAProxy's defaults
// (keep-alive on both sides, http-reuse safe) needed no change, and no
// request is retried or redispatched. Maint takes effect for the next
// request, even on client connections kept alive, because of mode http;
// idle server connections to the server in maint are not reused, and those
// the app closes on shutdown are never picked again. Without the maint and
// ready steps clients saw no failure either in our runs, but only because
// retries 3 and option redispatch resend the hundreds of requests a stopped
// app refuses: a deployment should not rely on it, since a request that
// fails after reaching the server (a crash mid-request) is not retried.
const haproxyConfig = `# written by containertest.StartHAProxy
global
	log stderr format raw local0 info
	stats socket ipv4@0.0.0.0:{{admin}} level admin
	stats timeout 10s
	maxconn 4096

defaults
	mode http
	log global
	option httplog
	option dontlognull
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	timeout http-request 10s
	timeout queue 5s
	retries 3
	option redispatch

frontend web
	bind :{{port}}
	default_backend app

backend app
	balance roundrobin
	option httpchk GET /health
	http-check expect status 200
{{servers}}`

// StartHAProxy starts HAProxy in a container on network, in front of the
// backend servers (server name → IP:port, reachable on network), and waits
// until it answers on its frontend and runtime API. Its log goes to
// /var/log/haproxy.log in the container. It skips t without Docker, and
// without debootstrap when the image has to be built.
func StartHAProxy(t testing.TB, network string, backends map[string]string) *HAProxy {
	t.Helper()
	c := Start(t, HAProxyImage(t), WithNetwork(network))
	var servers strings.Builder
	for _, name := range slices.Sorted(maps.Keys(backends)) {
		fmt.Fprintf(&servers, "\tserver %s %s check inter 500ms fall 2 rise 1\n", name, backends[name])
	}
	cfg := strings.NewReplacer("{{admin}}", haproxyAdminPort, "{{port}}", haproxyPort,
		"{{servers}}", servers.String()).Replace(haproxyConfig)
	const path = "/etc/haproxy/phenix-test.cfg"
	c.WriteFile(t, path, []byte(cfg), 0o644)
	c.MustExec(t, "haproxy", "-c", "-q", "-f", path)
	c.Daemon(t, "/var/log/haproxy.log", "haproxy", "-db", "-f", path)
	ip := c.IP(t, network)
	h := &HAProxy{C: c, Addr: net.JoinHostPort(ip, haproxyPort), Admin: net.JoinHostPort(ip, haproxyAdminPort)}
	testenv.WaitFor(t, "haproxy to listen", func() bool {
		for _, addr := range []string{h.Addr, h.Admin} {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			conn.Close()
		}
		return true
	})
	return h
}

// Command sends one command line to the runtime API, such as "show info",
// and returns the answer.
func (h *HAProxy) Command(t testing.TB, command string) string {
	t.Helper()
	out, err := h.command(command)
	if err != nil {
		t.Fatalf("haproxy runtime API %q: %v", command, err)
	}
	return out
}

func (h *HAProxy) command(command string) (string, error) {
	conn, err := net.DialTimeout("tcp", h.Admin, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn) // the API answers and closes
	return string(b), err
}

// SetState sets the administrative state of server, in the backend app, to
// state: "maint" (no new request; requests in flight finish), "drain" (only
// persistent clients) or "ready". It fails t if HAProxy refuses.
func (h *HAProxy) SetState(t testing.TB, server, state string) {
	t.Helper()
	out := h.Command(t, "set server "+HAProxyBackend+"/"+server+" state "+state)
	if strings.TrimSpace(out) != "" {
		t.Fatalf("haproxy: set server %s/%s state %s: %s", HAProxyBackend, server, state, strings.TrimSpace(out))
	}
}

// Servers returns the servers of the backend app and their status as `show
// stat` gives it: "UP", "DOWN", "MAINT", "DRAIN", or a transition such as
// "UP 1/2".
func (h *HAProxy) Servers(t testing.TB) map[string]string {
	t.Helper()
	rows := h.stat(t)
	m := map[string]string{}
	for _, r := range rows {
		m[r["svname"]] = r["status"]
	}
	return m
}

// Sessions returns the number of requests server is handling now (the
// scur column of show stat).
func (h *HAProxy) Sessions(t testing.TB, server string) int {
	t.Helper()
	for _, r := range h.stat(t) {
		if r["svname"] == server {
			var n int
			fmt.Sscan(r["scur"], &n)
			return n
		}
	}
	t.Fatalf("haproxy: no server %s/%s", HAProxyBackend, server)
	return 0
}

// stat returns the rows of show stat for the servers of the backend app,
// each a map from column name to value.
func (h *HAProxy) stat(t testing.TB) []map[string]string {
	t.Helper()
	out := h.Command(t, "show stat")
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("haproxy: show stat: %v\n%s", err, out)
	}
	head := recs[0]
	var rows []map[string]string
	for _, rec := range recs[1:] {
		r := map[string]string{}
		for i, v := range rec {
			if i < len(head) {
				r[head[i]] = v
			}
		}
		if r["pxname"] == HAProxyBackend && r["svname"] != "BACKEND" && r["svname"] != "FRONTEND" {
			rows = append(rows, r)
		}
	}
	return rows
}
