package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/server"
)

// serverGODEBUG is the server's GODEBUG, the setting docs/fleet.md
// recommends for large fleets: near GOMEMLIMIT the collector runs often,
// and shrinking the 20,000 goroutine stacks of 10,000 NATS connections at
// every cycle, only for them to grow again, cost 40% of the server's CPU
// (p50 2.68 s → 1.53 s, peak 966 → 906 MiB at 10,000 hosts). A later
// -server-env GODEBUG=… replaces it.
const serverGODEBUG = "GODEBUG=gcshrinkstackoff=1"

// serverMemLimit is the GOMEMLIMIT the server runs with.
const serverMemLimit = "900MiB"

// serverProc is `phenix server` run as a child, always on the same data
// directory and addresses, so that a restarted server is where the agents
// look for it.
type serverProc struct {
	bin, data, listen, natsListen, logPath string
	env                                    []string // added to the environment, after GOMEMLIMIT
	cs                                     *children

	c       *child
	info    server.Info
	token   string
	ca      *x509.CertPool
	api     *api.Client
	started time.Time // when the process was started
}

// start starts the server and waits until it serves: it has written
// server.json with its own PID (written once the API listens).
func (s *serverProc) start(ctx context.Context) error {
	infoPath := filepath.Join(s.data, "server.json")
	if err := os.Remove(infoPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("start server: %w", err)
	}
	cmd := exec.Command(s.bin, "server", "--data", s.data, "--listen", s.listen, "--nats-listen", s.natsListen)
	// The last value of a variable wins in exec.
	cmd.Env = append(append(os.Environ(), "GOMEMLIMIT="+serverMemLimit, serverGODEBUG), s.env...)
	s.started = time.Now()
	c, err := s.cs.start("server", cmd, s.logPath)
	if err != nil {
		return err
	}
	s.c = c
	deadline := time.Now().Add(2 * time.Minute)
	for {
		info, err := server.ReadInfo(s.data)
		if err == nil && info.PID == c.pid() {
			s.info = info
			break
		}
		if c.exited() {
			return fmt.Errorf("server exited at start (%v); its log %s ends:\n%s", c.err, s.logPath, logTail(s.logPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after 2 minutes; its log %s ends:\n%s", s.logPath, logTail(s.logPath, 20))
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if s.api == nil {
		tok, err := os.ReadFile(s.info.Token)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		caPEM, err := os.ReadFile(s.info.CA)
		if err != nil {
			return fmt.Errorf("server CA: %w", err)
		}
		s.ca = x509.NewCertPool()
		if !s.ca.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("server CA %s: no certificate", s.info.CA)
		}
		s.token = strings.TrimSpace(string(tok))
		s.api = api.NewClient(s.info.URL, s.token, s.ca)
	}
	return nil
}

// stop stops the server with SIGTERM and returns how long it took to exit.
func (s *serverProc) stop() time.Duration {
	if s.c == nil {
		return 0
	}
	d := s.c.stop(30 * time.Second)
	s.c = nil
	return d
}

// alive returns an error if the server has exited.
func (s *serverProc) alive() error {
	if s.c == nil || s.c.exited() {
		return fmt.Errorf("the server exited; its log %s ends:\n%s", s.logPath, logTail(s.logPath, 20))
	}
	return nil
}

// freeAddr returns a loopback address with a port free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
