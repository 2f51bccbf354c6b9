// Command phenix converges hosts to their declared promises.
//
// It is a thin wrapper: everything lives in internal/cli so that tests can
// call it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/phenixhq/phenix/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
