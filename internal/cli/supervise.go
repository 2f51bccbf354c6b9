package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/supervisor"
)

func (a *app) superviseCommand() *cobra.Command {
	var (
		statePath string
		readyFD   int
		detach    bool
		boot      bool
		stateDir  string
	)
	cmd := &cobra.Command{
		Use:   "supervise (--state FILE [--detach] | --boot)",
		Short: "Keep a service's process running where there is no init system",
		Long: `Supervise is started by phenix apply for service promises whose provider is
"supervisor" (hosts without systemd, such as containers). It is not meant to
be run by hand, except --boot.

--state FILE runs the supervisor of one service in the foreground: it reads
the service's spec from FILE (written by phenix apply), starts the command
and starts it again when it exits. SIGHUP restarts the command, SIGUSR1
sends it its reload signal, SIGTERM stops it and exits. --detach starts the
same supervisor in the background, in its own session, and returns once
the command has started.

--boot starts the supervisor of every enabled service (enabled: true) that
is not running. A container's entrypoint, or the agent, runs it at start:

  phenix supervise --boot && exec sleep infinity`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			switch {
			case boot:
				started, err := supervisor.Boot(ctx, exe, stateDir)
				for _, name := range started {
					fmt.Fprintln(a.stdout, "started", name)
				}
				return err
			case statePath == "":
				return badInput(errors.New("supervise: expected --state FILE or --boot"))
			case detach:
				return supervisor.Start(ctx, exe, statePath)
			}
			return runSupervisor(cmd, statePath, readyFD)
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "supervise the service whose state file is `FILE`")
	cmd.Flags().BoolVar(&detach, "detach", false, "start the supervisor in the background and return once the service runs")
	cmd.Flags().BoolVar(&boot, "boot", false, "start every enabled service that is not running")
	cmd.Flags().StringVar(&stateDir, "state-dir", supervisor.DefaultDirs().State, "with --boot, read the state files in `DIR`")
	cmd.Flags().IntVar(&readyFD, "ready-fd", 0, "report on file descriptor `N` once the service has started")
	cmd.Flags().MarkHidden("ready-fd")
	return cmd
}

// runSupervisor runs the supervisor of the service in statePath in the
// foreground until SIGTERM or the command's context ends.
func runSupervisor(cmd *cobra.Command, statePath string, readyFD int) error {
	// Catch the signals first: SIGHUP's default action is to exit.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ready := func(error) {}
	if readyFD > 0 {
		syscall.CloseOnExec(readyFD) // the service must not hold it open
		f := os.NewFile(uintptr(readyFD), "ready")
		ready = func(err error) {
			msg := "ok\n"
			if err != nil {
				msg = err.Error() + "\n"
			}
			f.WriteString(msg)
			f.Close()
		}
	}
	st, err := supervisor.ReadState(statePath)
	if err != nil {
		ready(err)
		return err
	}
	logf, err := os.OpenFile(st.Spec.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		ready(err)
		return err
	}
	defer logf.Close()
	s := &supervisor.Supervisor{
		Spec:    st.Spec,
		Pidfile: st.SupervisorPidfile,
		Signals: sigs,
		Ready:   ready,
		Log:     slog.New(slog.NewTextHandler(logf, nil)).With("component", "supervisor", "service", st.Spec.Name),
	}
	return s.Run(cmd.Context())
}
