package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/server"
)

// simProc is the simulator run as a child; the benchmark talks to it with
// the commands of control.go.
type simProc struct {
	c     *benchkit.Child
	in    io.WriteCloser
	lines chan string // its stdout
}

// ready is what the simulator says once its fleet is connected.
type ready struct {
	n, enrolled                 int
	enrolMS, connectMS, greetMS float64
}

// simCommand returns the command that runs the simulator, exe -simulate,
// with n agents against the server info describes.
// The simulator collects garbage less often than Go's default (GOGC=100)
// unless GOGC is set: it shares the CPUs with the server, and memory is
// not what is measured of it.
func simCommand(exe string, n int, ids string, info server.Info, token string) *exec.Cmd {
	cmd := exec.Command(exe, simulateFlag, "-n", strconv.Itoa(n), "-ids", ids, "-server", info.URL,
		"-nats", info.NATS[0], "-ca", info.CA, "-token", token)
	cmd.Env = os.Environ()
	if _, ok := os.LookupEnv("GOGC"); !ok {
		cmd.Env = append(cmd.Env, "GOGC=400")
	}
	return cmd
}

// startSim starts the simulator cmd (simCommand) and waits until its n
// agents are connected and greeted.
func startSim(ctx context.Context, cs *benchkit.Children, cmd *exec.Cmd, n int, stderr io.Writer) (*simProc, ready, error) {
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, ready{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, ready{}, err
	}
	c, err := cs.Start("simulator", cmd, "")
	if err != nil {
		return nil, ready{}, err
	}
	p := &simProc{c: c, in: in, lines: make(chan string, 16)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	// Enrolling 10,000 hosts takes minutes; connecting them, less.
	line, err := p.next(ctx, time.Hour)
	if err != nil {
		return p, ready{}, err
	}
	var r ready
	f := fields(line, "ready")
	if f == nil {
		return p, r, fmt.Errorf("simulator: unexpected %q", line)
	}
	r.n, _ = strconv.Atoi(f["n"])
	r.enrolled, _ = strconv.Atoi(f["enrolled"])
	r.enrolMS, _ = strconv.ParseFloat(f["enrol_ms"], 64)
	r.connectMS, _ = strconv.ParseFloat(f["connect_ms"], 64)
	r.greetMS, _ = strconv.ParseFloat(f["greet_ms"], 64)
	if r.n != n {
		return p, r, fmt.Errorf("simulator: %d agents ready, want %d", r.n, n)
	}
	return p, r, nil
}

// next returns the next line of the simulator's stdout.
func (p *simProc) next(ctx context.Context, within time.Duration) (string, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
		return "", fmt.Errorf("simulator: no answer after %v", within)
	case line, ok := <-p.lines:
		if !ok {
			<-p.c.Done
			return "", fmt.Errorf("simulator exited: %v", p.c.Err)
		}
		return line, nil
	}
}

// do sends a command and returns the words of its answer, which must
// start with want.
func (p *simProc) do(ctx context.Context, cmd, want string, within time.Duration) ([]string, error) {
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return nil, fmt.Errorf("simulator: %s: %w", cmd, err)
	}
	line, err := p.next(ctx, within+30*time.Second)
	if err != nil {
		return nil, err
	}
	w := strings.Fields(line)
	if len(w) == 0 || w[0] != want {
		return nil, fmt.Errorf("simulator: %s: unexpected answer %q", cmd, line)
	}
	return w[1:], nil
}

// mark starts counting reconnections from now.
func (p *simProc) mark(ctx context.Context) error {
	_, err := p.do(ctx, "mark", "marked", 0)
	return err
}

// back waits until every agent is back since the mark, and returns when
// the last one was greeted; n is how many were back.
func (p *simProc) back(ctx context.Context, within time.Duration) (n int, last time.Time, err error) {
	w, err := p.do(ctx, fmt.Sprintf("back %d", within.Milliseconds()), "back", within)
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(w) >= 2 {
		n, _ = strconv.Atoi(w[1])
	}
	if w[0] != "ok" || len(w) < 3 {
		return n, time.Time{}, fmt.Errorf("only %d agents back after %v", n, within)
	}
	ns, err := strconv.ParseInt(w[2], 10, 64)
	if err != nil {
		return n, time.Time{}, fmt.Errorf("simulator: back: %w", err)
	}
	return n, time.Unix(0, ns), nil
}

// idle waits until every result the simulator sent was acknowledged.
func (p *simProc) idle(ctx context.Context, within time.Duration) error {
	w, err := p.do(ctx, fmt.Sprintf("idle %d", within.Milliseconds()), "idle", within)
	if err != nil {
		return err
	}
	if w[0] != "ok" {
		return fmt.Errorf("simulator: %s results still not acknowledged after %v", strings.Join(w[1:], " "), within)
	}
	return nil
}

// stats returns the simulator's counters.
func (p *simProc) stats(ctx context.Context) (map[string]string, error) {
	if _, err := fmt.Fprintln(p.in, "stats"); err != nil {
		return nil, fmt.Errorf("simulator: stats: %w", err)
	}
	line, err := p.next(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	f := fields(line, "stats")
	if f == nil {
		return nil, fmt.Errorf("simulator: stats: unexpected answer %q", line)
	}
	return f, nil
}

// quit makes the simulator close its connections and exit.
func (p *simProc) quit() {
	_, _ = fmt.Fprintln(p.in, "quit")
	p.in.Close()
	select {
	case <-p.c.Done:
	case <-time.After(30 * time.Second):
		p.c.Stop(5 * time.Second)
	}
}

// fields parses "name k=v k=v …" (a value may be a Go-quoted string) and
// returns nil unless the line starts with name.
func fields(line, name string) map[string]string {
	rest, ok := strings.CutPrefix(line, name+" ")
	if !ok {
		return nil
	}
	m := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				break
			}
			m[k], _ = strconv.Unquote(q)
			rest = v[len(q):]
			continue
		}
		v, rest, _ = strings.Cut(v, " ")
		m[k] = v
	}
	return m
}
