package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Backoff is how long the supervisor waits before starting a child that
// exited: Min at first, doubling up to Max, and back to Min after a child
// ran for Reset. A zero field takes its default (1s, 30s, 10s).
type Backoff struct {
	Min, Max, Reset time.Duration
}

const (
	defaultMinBackoff = time.Second
	defaultMaxBackoff = 30 * time.Second
	defaultResetAfter = 10 * time.Second
)

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = defaultMinBackoff
	}
	if b.Max <= 0 {
		b.Max = defaultMaxBackoff
	}
	if b.Reset <= 0 {
		b.Reset = defaultResetAfter
	}
	return b
}

// step returns how long to wait before starting a child again, given the
// current delay and how long the child that exited ran, and the delay after
// that.
func (b Backoff) step(cur, uptime time.Duration) (wait, next time.Duration) {
	if uptime >= b.Reset {
		cur = b.Min
	}
	return cur, min(2*cur, b.Max)
}

// Supervisor keeps one child process running. Its fields are set before
// Run and not changed afterwards.
type Supervisor struct {
	// Spec is what to run.
	Spec Spec
	// Pidfile is where the supervisor writes its own pid. It holds the
	// file locked while it runs and removes it when it returns. "" for
	// none.
	Pidfile string
	// Signals drives the supervisor: SIGHUP restarts the child, SIGUSR1
	// sends it the reload signal, SIGTERM stops it and ends Run. Nil
	// means no signals.
	Signals <-chan os.Signal
	// Ready, if set, is called once: with nil when the first child has
	// started, or with the error that ends Run before that.
	Ready func(error)
	// Log receives the supervisor's log lines; nil discards them.
	Log *slog.Logger
	// Backoff paces restarts of a child that keeps exiting.
	Backoff Backoff
}

// Run starts the child and keeps it running until ctx is cancelled or
// SIGTERM arrives on Signals; it then stops the child and returns nil. It
// returns an error when it cannot start: the Spec is invalid, another
// supervisor holds the pid file, or the first child does not start. Later
// start failures are logged and retried with the backoff.
func (s *Supervisor) Run(ctx context.Context) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	readyDone := false
	ready := func(err error) {
		if !readyDone && s.Ready != nil {
			s.Ready(err)
		}
		readyDone = true
	}
	defer ready(errors.New("supervisor ended before its child started"))
	if err := s.Spec.Validate(); err != nil {
		ready(err)
		return err
	}
	if s.Pidfile != "" {
		unlock, err := lockPidfile(s.Pidfile)
		if err != nil {
			ready(err)
			return err
		}
		defer unlock()
	}
	b := s.Backoff.withDefaults()
	delay := b.Min
	c, err := s.start()
	if err != nil {
		ready(err)
		return err
	}
	ready(nil)
	log.Info("started", "pid", c.pid)
	for {
		select {
		case <-ctx.Done():
			s.stop(c, log)
			log.Info("supervisor exiting", "reason", "context done")
			return nil
		case sig := <-s.Signals:
			switch sig {
			case syscall.SIGTERM:
				s.stop(c, log)
				log.Info("supervisor exiting", "reason", "SIGTERM")
				return nil
			case syscall.SIGHUP:
				log.Info("restarting", "pid", c.pid, "reason", "SIGHUP")
				s.stop(c, log)
				c, delay = nil, b.Min
			case syscall.SIGUSR1:
				sig, _ := ParseSignal(s.Spec.ReloadSignal)
				log.Info("reloading", "pid", c.pid, "signal", sig.String())
				if err := syscall.Kill(c.pid, sig); err != nil {
					log.Warn("reload failed", "pid", c.pid, "err", err)
				}
				continue
			default:
				continue
			}
		case <-c.done:
			up := time.Since(c.started)
			log.Warn("exited", "pid", c.pid, "status", exitStatus(c.err), "uptime", up.Round(time.Millisecond))
			s.reap(c)
			c = nil
			var wait time.Duration
			wait, delay = b.step(delay, up)
			log.Info("restarting", "in", wait)
			if s.wait(ctx, wait, log) {
				return nil
			}
		}
		for c == nil {
			if c, err = s.start(); err != nil {
				c = nil
				var wait time.Duration
				wait, delay = b.step(delay, 0)
				log.Error("start failed", "err", err, "retry_in", wait)
				if s.wait(ctx, wait, log) {
					return nil
				}
				continue
			}
			log.Info("started", "pid", c.pid)
		}
	}
}

// wait waits d while no child runs. It returns true when the supervisor
// must exit, false when it is time to start the child (d passed, or SIGHUP
// asked for it now).
func (s *Supervisor) wait(ctx context.Context, d time.Duration, log *slog.Logger) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("supervisor exiting", "reason", "context done")
			return true
		case <-t.C:
			return false
		case sig := <-s.Signals:
			switch sig {
			case syscall.SIGTERM:
				log.Info("supervisor exiting", "reason", "SIGTERM")
				return true
			case syscall.SIGHUP:
				return false
			case syscall.SIGUSR1:
				log.Info("reload ignored: the child is not running")
			}
		}
	}
}

// lockPidfile creates path, locks it and writes the current pid in it. The
// returned function removes and unlocks it.
func lockPidfile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("already supervised by pid %s (%s is locked)", strings.TrimSpace(string(b)), path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return func() {
		os.Remove(path)
		f.Close()
	}, nil
}
