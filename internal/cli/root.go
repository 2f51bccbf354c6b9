package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/bundle"
)

// Exit statuses. They follow sysexits(3) for bad input.
const (
	ExitOK       = 0  // converged, nothing to change
	ExitFailed   = 1  // a promise failed, or phenix could not run
	ExitChanged  = 2  // something changed (or would, in a dry run)
	ExitBadInput = 64 // bad bundle, flag or argument: nothing was applied
)

// exitError carries an exit status other than ExitFailed through cobra.
type exitError struct {
	code int
	err  error // nil when there is nothing more to print
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as the user's mistake: exit status 64.
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// app is what every command shares: the output streams and the logger.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	verbose        bool
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// Run runs phenix with args (without the program name) and returns the
// process exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(stderr, ee.err)
		}
		return ee.code
	}
	printError(stderr, err)
	return ExitFailed
}

func printError(w io.Writer, err error) {
	var el bundle.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "phenix: %d %s, nothing applied\n", len(el), plural(len(el), "error", "errors"))
		return
	}
	fmt.Fprintln(w, "phenix:", err)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "phenix",
		Short: "Converge hosts to declared promises, run fleets, ship releases",
		Long: `phenix takes an application from a commit to production and keeps every
server the way it was promised. Promises (files, packages, services, users,
…) are declared in YAML bundles; phenix computes the difference with the
host and changes only what is needed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return badInput(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	root.AddCommand(
		a.applyCommand(),
		a.validateCommand(),
		a.factsCommand(),
		a.versionCommand(),
		a.superviseCommand(),
		a.serverCommand(),
		a.agentCommand(),
		a.upCommand(),
	)
	root.AddCommand(a.fleetCommands()...)
	return root
}

// minArgs is cobra.MinimumNArgs with the bad-input exit status.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return badInput(fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
		}
		return nil
	}
}
