package benchkit

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

// Server is `phenix server` run as a Child, always on the same data
// directory and addresses, so that a restarted server is where the agents
// look for it.
type Server struct {
	Bin, Data, Listen, NATSListen, LogPath string
	Args                                   []string // more flags of phenix server
	Env                                    []string // added to its environment
	Children                               *Children

	Proc    *Child
	Info    server.Info
	Token   string
	CA      *x509.CertPool
	API     *api.Client
	Started time.Time // when the process was started
}

// Start starts the server and waits until it serves: it has written
// server.json with its own PID (written once the API listens).
func (s *Server) Start(ctx context.Context) error {
	infoPath := filepath.Join(s.Data, "server.json")
	if err := os.Remove(infoPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("start server: %w", err)
	}
	cmd := exec.Command(s.Bin, append([]string{"server", "--data", s.Data, "--listen", s.Listen, "--nats-listen", s.NATSListen}, s.Args...)...)
	// The last value of a variable wins in exec.
	cmd.Env = append(os.Environ(), s.Env...)
	s.Started = time.Now()
	c, err := s.Children.Start("server", cmd, s.LogPath)
	if err != nil {
		return err
	}
	s.Proc = c
	deadline := time.Now().Add(2 * time.Minute)
	for {
		info, err := server.ReadInfo(s.Data)
		if err == nil && info.PID == c.Pid() {
			s.Info = info
			break
		}
		if c.Exited() {
			return fmt.Errorf("server exited at start (%v); its log %s ends:\n%s", c.Err, s.LogPath, LogTail(s.LogPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after 2 minutes; its log %s ends:\n%s", s.LogPath, LogTail(s.LogPath, 20))
		}
		if err := Sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if s.API == nil {
		tok, err := os.ReadFile(s.Info.Token)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		caPEM, err := os.ReadFile(s.Info.CA)
		if err != nil {
			return fmt.Errorf("server CA: %w", err)
		}
		s.CA = x509.NewCertPool()
		if !s.CA.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("server CA %s: no certificate", s.Info.CA)
		}
		s.Token = strings.TrimSpace(string(tok))
		s.API = api.NewClient(s.Info.URL, s.Token, s.CA)
	}
	return nil
}

// Stop stops the server with SIGTERM and returns how long it took to exit.
func (s *Server) Stop() time.Duration {
	if s.Proc == nil {
		return 0
	}
	d := s.Proc.Stop(30 * time.Second)
	s.Proc = nil
	return d
}

// Alive returns an error if the server has exited.
func (s *Server) Alive() error {
	if s.Proc == nil || s.Proc.Exited() {
		return fmt.Errorf("the server exited; its log %s ends:\n%s", s.LogPath, LogTail(s.LogPath, 20))
	}
	return nil
}

// FreeAddr returns a loopback address with a port free now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
