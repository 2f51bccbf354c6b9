package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// The simulator's control protocol: the benchmark writes one command per
// line on the simulator's stdin, and the simulator answers each with one
// line on its stdout, starting with the command's name (progress goes to
// stderr). Times are Unix nanoseconds, from the same clock as the
// benchmark's.
//
//	mark            → marked <now>: later commands count from now
//	back <ms>       → back ok <n> <last> once every agent was greeted on a
//	                  connection made since the mark (last: the latest
//	                  greeting), or back timeout <n> after ms
//	idle <ms>       → idle ok <acked> once no result waits for its Ack, or
//	                  idle timeout <pending>
//	stats           → stats k=v …
//	quit            → bye, and the simulator closes its connections and exits
//
// The end of stdin is quit: the simulator never outlives the benchmark.
func (s *sim) control(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var mark int64
	for {
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
		}
		if !ok {
			return nil
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		ms, _ := strconv.Atoi(arg)
		within := time.Duration(ms) * time.Millisecond
		switch cmd {
		case "mark":
			mark = time.Now().UnixNano()
			fmt.Fprintf(stdout, "marked %d\n", mark)
		case "back":
			n, last, err := s.waitBack(ctx, mark, within)
			if err != nil {
				fmt.Fprintf(stdout, "back timeout %d\n", n)
			} else {
				fmt.Fprintf(stdout, "back ok %d %d\n", n, last)
			}
		case "idle":
			if err := s.waitIdle(ctx, within); err != nil {
				fmt.Fprintf(stdout, "idle timeout %d\n", s.pending.Load())
			} else {
				fmt.Fprintf(stdout, "idle ok %d\n", s.acked.Load())
			}
		case "stats":
			fmt.Fprintf(stdout, "stats %s\n", s.stats())
		case "quit":
			fmt.Fprintln(stdout, "bye")
			return nil
		default:
			fmt.Fprintf(stdout, "error unknown command %q\n", cmd)
		}
	}
}

// waitBack waits until every agent has been greeted on a connection made
// after mark, and returns how many are, and the latest greeting. It logs
// when the agents lost their connection, reconnected and were greeted.
func (s *sim) waitBack(ctx context.Context, mark int64, within time.Duration) (int, int64, error) {
	deadline := time.Now().Add(within)
	lastLog := time.Now()
	for {
		n, last := 0, int64(0)
		states := make([]agentState, 0, len(s.agents))
		for _, a := range s.agents {
			st := a.state()
			if st.greeted && st.connAt > mark && st.helloAt > mark {
				n++
				last = max(last, st.helloAt)
				states = append(states, st)
			}
		}
		if n == len(s.agents) {
			s.logf("back after the mark: lost %s; reconnected %s; greeted %s after reconnecting",
				spread(states, func(st agentState) int64 { return st.lostAt - mark }),
				spread(states, func(st agentState) int64 { return st.connAt - mark }),
				spread(states, func(st agentState) int64 { return st.helloAt - st.connAt }))
			return n, last, nil
		}
		if time.Now().After(deadline) {
			return n, last, fmt.Errorf("%d of %d back", n, len(s.agents))
		}
		if time.Since(lastLog) >= 2*time.Second {
			lastLog = time.Now()
			s.logf("back: %d/%d", n, len(s.agents))
		}
		if err := benchkit.Sleep(ctx, 20*time.Millisecond); err != nil {
			return n, last, err
		}
	}
}

// spread describes the distribution of f over states, in seconds: min,
// median, 90th percentile and max.
func spread(states []agentState, f func(agentState) int64) string {
	if len(states) == 0 {
		return "-"
	}
	v := make([]float64, len(states))
	for i, st := range states {
		v[i] = float64(f(st)) / 1e9
	}
	slices.Sort(v)
	return fmt.Sprintf("min %.2fs p50 %.2fs p90 %.2fs max %.2fs", v[0], percentile(v, 50), percentile(v, 90), v[len(v)-1])
}

// waitIdle waits until no result waits for its Ack.
func (s *sim) waitIdle(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for s.pending.Load() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d results not acknowledged", s.pending.Load())
		}
		if err := benchkit.Sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (s *sim) stats() string {
	connected := 0
	for _, a := range s.agents {
		if nc := a.nc.Load(); nc != nil && nc.IsConnected() {
			connected++
		}
	}
	last, _ := s.lastBusErr.Load().(string)
	lastReconnect, _ := s.lastReconnectErr.Load().(string)
	return fmt.Sprintf("agents=%d connected=%d hellos=%d jobs=%d repeats=%d results=%d acked=%d pending=%d nacks=%d beats=%d "+
		"reconnects=%d dials=%d disconnects=%d bus_errors=%d dropped=%d last_error=%q last_reconnect_error=%q",
		len(s.agents), connected, s.hellos.Load(), s.jobs.Load(), s.repeats.Load(), s.results.Load(), s.acked.Load(), s.pending.Load(),
		s.nacks.Load(), s.beats.Load(), s.reconnects.Load(), s.dials.Load(), s.disconnect.Load(), s.busErrors.Load(), s.dropped.Load(),
		last, lastReconnect)
}
