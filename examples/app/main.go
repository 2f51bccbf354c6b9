// Command app is a small HTTP service to deploy with phenix: the example
// application of the documentation and of phenix's deployment tests.
//
// It serves its version, read from a VERSION file of the release it was
// started from, and shuts down gracefully on SIGTERM: it stops accepting
// connections and lets the requests already accepted finish, so that a
// rolling restart behind a load balancer drops no request. See README.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// shutdownTimeout is how long a stopping server waits for in-flight
// requests, unless the config sets SHUTDOWN_TIMEOUT.
const shutdownTimeout = 10 * time.Second

// maxSlow caps /slow?ms=N.
const maxSlow = time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

// options are what the command line and the config file set.
type options struct {
	listen      string
	versionFile string
	config      string
	shutdown    time.Duration
}

// run parses args, serves until ctx ends, then shuts the server down
// gracefully and returns. ready, if not nil, is called with the address
// listened on, and the app, once connections are accepted.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string, a *app)) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	a, err := newApp(opts.versionFile, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving", "addr", ln.Addr().String(), "version", a.version, "broken", a.broken, "pid", os.Getpid())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String(), a)
	}
	select {
	case err := <-served:
		return err // Serve failed before any shutdown
	case <-ctx.Done():
	}
	log.Info("shutting down: no new connections, waiting for requests in flight",
		"in_flight", a.inFlight.Load(), "timeout", opts.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), opts.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing the remaining connections", "in_flight", a.inFlight.Load())
		srv.Close()
		return fmt.Errorf("shutdown: %v", err)
	}
	log.Info("stopped", "served", a.served.Load())
	return nil
}

// parseArgs reads the flags, then the config file they name. A flag given
// on the command line wins over the same setting in the config file.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.listen, "listen", ":8080", "`address` to listen on")
	fs.StringVar(&o.versionFile, "version-file", "", "`file` holding the version (default: VERSION in the release directory, the parent of the executable's directory)")
	fs.StringVar(&o.config, "config", "", "optional env `file` of KEY=VALUE lines: LISTEN, SHUTDOWN_TIMEOUT")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.shutdown = shutdownTimeout
	if o.config != "" {
		env, err := readEnvFile(o.config)
		if err != nil {
			return o, err
		}
		for _, e := range env {
			k, v := e.key, e.value
			switch k {
			case "LISTEN":
				if !set["listen"] {
					o.listen = v
				}
			case "SHUTDOWN_TIMEOUT":
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					return o, fmt.Errorf("%s:%d: SHUTDOWN_TIMEOUT=%q: want a positive duration such as 10s", o.config, e.line, v)
				}
				o.shutdown = d
			default:
				return o, fmt.Errorf("%s:%d: unknown key %s: want LISTEN or SHUTDOWN_TIMEOUT", o.config, e.line, k)
			}
		}
	}
	if o.versionFile == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the executable to locate VERSION: %v; use --version-file", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return o, err
		}
		o.versionFile = filepath.Join(filepath.Dir(filepath.Dir(exe)), "VERSION")
	}
	return o, nil
}

// An envVar is one KEY=VALUE line of a config file.
type envVar struct {
	key, value string
	line       int
}

// readEnvFile reads KEY=VALUE lines, optionally prefixed by "export ".
// Blank lines and lines starting with # are skipped; a value may be quoted
// with " or '.
func readEnvFile(name string) ([]envVar, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var env []envVar
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: %q: want KEY=VALUE", name, n, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env = append(env, envVar{k, v, n})
	}
	return env, sc.Err()
}

// app holds what the handlers serve.
type app struct {
	version  string
	host     string
	started  time.Time
	broken   bool // the release directory holds a file named BROKEN
	log      *slog.Logger
	inFlight atomic.Int64
	served   atomic.Int64
}

// newApp reads the version from versionFile and looks for BROKEN in the
// same directory, the release directory.
func newApp(versionFile string, log *slog.Logger) (*app, error) {
	b, err := os.ReadFile(versionFile)
	if err != nil {
		return nil, fmt.Errorf("read version: %v", err)
	}
	version := strings.TrimSpace(string(b))
	if version == "" {
		return nil, fmt.Errorf("%s is empty; want the version", versionFile)
	}
	_, err = os.Stat(filepath.Join(filepath.Dir(versionFile), "BROKEN"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	broken := err == nil
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return &app{version: version, host: host, started: time.Now().UTC(), broken: broken, log: log}, nil
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, "hello from app %s on %s\n", a.version, a.host)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if a.broken {
			text(w, http.StatusInternalServerError, "broken %s\n", a.version)
			return
		}
		text(w, http.StatusOK, "ok %s\n", a.version)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Version   string    `json:"version"`
			Host      string    `json:"host"`
			StartedAt time.Time `json:"started_at"`
		}{a.version, a.host, a.started})
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxSlow {
			text(w, http.StatusBadRequest, "want ms=N, 0 <= N <= %d\n", maxSlow.Milliseconds())
			return
		}
		a.log.Info("slow request", "ms", ms, "remote", r.RemoteAddr)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return // the client went away
		}
		text(w, http.StatusOK, "slept %d ms in app %s on %s\n", ms, a.version, a.host)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inFlight.Add(1)
		defer a.inFlight.Add(-1)
		defer a.served.Add(1)
		mux.ServeHTTP(w, r)
	})
}

func text(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, format, args...)
}
