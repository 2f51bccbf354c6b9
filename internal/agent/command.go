package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/phenixhq/phenix/internal/wire"
)

// exitNotStarted is the exit code of a command that could not start, as
// a shell gives for a command it cannot find.
const exitNotStarted = 127

// runCommand runs a run or op job: Argv with Env added, in its own
// process group, its output streamed and kept. At Timeout, or when ctx
// ends (the agent stops), the whole group is killed.
func (a *agent) runCommand(ctx context.Context, j wire.Job, m *masker) wire.Result {
	return a.runProcess(ctx, j, "/", m)
}

// runProcess is runCommand in the working directory dir.
func (a *agent) runProcess(ctx context.Context, j wire.Job, dir string, m *masker) wire.Result {
	res := wire.Result{Job: j.ID, StartedAt: time.Now().UTC()}
	out := newOutput(j.ID, m, a.sendOutput, a.tune.flushEvery, a.tune.flushBytes)
	finish := func(status string, code int) wire.Result {
		res.Status, res.ExitCode = status, code
		res.Output = out.close()
		res.EndedAt = time.Now().UTC()
		return res
	}
	if len(j.Argv) == 0 {
		out.add("phenix agent: empty command\n")
		return finish(wire.StatusFailed, exitNotStarted)
	}
	cmd := exec.Command(j.Argv[0], j.Argv[1:]...)
	cmd.Env = append(os.Environ(), j.Env...)
	cmd.Dir = dir
	cmd.Stdout = out.stream("stdout")
	cmd.Stderr = out.stream("stderr")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A process left behind in the background may hold the output open:
	// Wait stops reading killGrace after the command ended.
	cmd.WaitDelay = a.tune.killGrace
	if err := cmd.Start(); err != nil {
		out.add(fmt.Sprintf("phenix agent: %v\n", err))
		return finish(wire.StatusFailed, exitNotStarted)
	}
	pgid := cmd.Process.Pid
	var timedOut atomic.Bool
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	if j.Timeout > 0 {
		t := time.AfterFunc(j.Timeout, func() {
			timedOut.Store(true)
			kill()
		})
		defer t.Stop()
	}
	stop := context.AfterFunc(ctx, kill)
	defer stop()
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	switch {
	case timedOut.Load():
		kill() // what the group started since
		out.add(fmt.Sprintf("\nphenix agent: killed after the timeout of %v\n", j.Timeout))
		return finish(wire.StatusTimeout, code)
	case err == nil, errors.Is(err, exec.ErrWaitDelay), errors.As(err, &exitErr):
		if code == 0 {
			return finish(wire.StatusOK, 0)
		}
		return finish(wire.StatusFailed, code)
	default:
		out.add(fmt.Sprintf("phenix agent: %v\n", err))
		return finish(wire.StatusFailed, code)
	}
}

// sendOutput publishes a piece of a job's output, if the bus is there.
func (a *agent) sendOutput(o wire.Output) {
	nc := a.conn()
	if nc == nil {
		return
	}
	if err := publishJSON(nc, a.ident.id, wire.KindOut, o); err != nil {
		a.log.Debug("job output not sent", "job", o.Job, "err", err)
	}
}
