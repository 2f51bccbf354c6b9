package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/agent"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/server"
)

func (a *app) upCommand() *cobra.Command {
	var (
		f    serverFlags
		id   string
		root string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a server and a local agent on this machine, ready in seconds",
		Long: `Start everything on this machine with no other setup: the server (HTTPS
API, embedded NATS, SQLite store and journal in the data directory) and an
agent for this machine, enrolled with a join token the server makes for it.
It prints the next commands, then runs until interrupted.

After it, the CLI on this machine needs no flags: it reads server.json and
admin.token from the data directory. Elsewhere, give --server and --token
(PHENIX_SERVER, PHENIX_TOKEN) and --ca.`,
		Example: `  phenix up
  phenix up --data /tmp/phenix --listen 127.0.0.1:4680 --nats-listen 127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			log := a.serviceLogger()
			srv, err := server.Start(ctx, f.config(log))
			if err != nil {
				return err
			}
			defer srv.Close()
			info := srv.Info()
			token, created := srv.AdminToken()
			if created {
				fmt.Fprintf(a.stdout, "admin token: %s (saved in %s, mode 0600; shown only this once)\n", token, info.Token)
			}
			c, err := clientSettings{URL: info.URL, Token: token, CA: info.CA}.client()
			if err != nil {
				return err
			}
			state := filepath.Join(f.data, "agent")
			acfg := agent.Config{Server: info.URL, CAFile: info.CA, ID: id, StateDir: state, Root: root, Log: log, Version: version()}
			if acfg.ID == "" {
				acfg.ID = localHostID()
			}
			if _, err := os.Stat(filepath.Join(state, "cert.pem")); err != nil {
				// Enrol the local agent with a single-use token.
				var tr api.TokenResponse
				err := c.Do(ctx, "POST", "/api/v1/tokens", api.TokenRequest{MaxUses: 1, TTL: api.Duration(10 * time.Minute)}, &tr)
				if err != nil {
					return fmt.Errorf("join token for the local agent: %w", err)
				}
				acfg.JoinToken = tr.Token
			}
			agentDone := make(chan error, 1)
			go func() { agentDone <- agent.Run(ctx, acfg) }()

			fmt.Fprintf(a.stdout, "phenix is up\n  API    %s  (token in %s)\n  agents %s\n  data   %s\n", info.URL, info.Token, info.NATS[0], f.data)
			if waitOnline(ctx, c, acfg.ID, 15*time.Second) {
				fmt.Fprintf(a.stdout, "  host   %s (this machine) online\n", acfg.ID)
			} else {
				fmt.Fprintf(a.stdout, "  host   %s (this machine) not online yet; see the log above\n", acfg.ID)
			}
			fmt.Fprintf(a.stdout, `next:
  phenix hosts
  phenix run '*' -- uname -a
  phenix policy push examples/policy && phenix apply '*' --dry-run
  phenix tokens create --labels role=web    # join another machine
`)
			select {
			case <-ctx.Done():
				<-agentDone
			case err := <-agentDone:
				if err != nil && ctx.Err() == nil {
					return fmt.Errorf("local agent: %w", err)
				}
			}
			return srv.Close()
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the local host's `ID` (default: the host name)")
	cmd.Flags().StringVar(&root, "root", "", "the local agent applies promises under `DIR` as if it were / (for tests)")
	_ = cmd.Flags().MarkHidden("root")
	return cmd
}

// localHostID is the host name as a valid host id.
func localHostID() string {
	h, err := os.Hostname()
	if err != nil || pki.ValidateHostID(h) != nil {
		return "local"
	}
	return h
}

// waitOnline waits until host id is online, at most d.
func waitOnline(ctx context.Context, c *api.Client, id string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		hl, err := c.Hosts(ctx, "id="+id)
		if err == nil && len(hl.Hosts) == 1 && hl.Hosts[0].Status == "online" {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}
