package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/server"
)

// serverFlags are the flags of phenix server and phenix up.
type serverFlags struct {
	data       string
	listen     string
	natsListen string
	db         string
	advertise  []string
	heartbeat  time.Duration

	nats            string
	natsCreds       string
	natsSystemCreds string
	natsAdvertise   []string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.data, "data", envOr("PHENIX_DATA", server.DefaultDataDir()), "keep the CA, the admin token, the secrets key and the SQLite database in `DIR` (env PHENIX_DATA)")
	cmd.Flags().StringVar(&f.listen, "listen", server.DefaultListen, "serve the HTTPS API on `ADDR` (host:port)")
	cmd.Flags().StringVar(&f.natsListen, "nats-listen", server.DefaultNATSListen, "serve the embedded NATS server for agents on `ADDR` (host:port)")
	cmd.Flags().StringVar(&f.db, "db", "", "store in `DSN`: sqlite:PATH or postgres://… (default: SQLite in the data directory)")
	cmd.Flags().StringArrayVar(&f.advertise, "advertise", nil, "a `NAME` or address agents use to reach this server, added to its certificate (repeatable)")
	cmd.Flags().StringVar(&f.nats, "nats", "", "use the external NATS servers at `URL` (nats://phenix:PASSWORD@host:4222, several separated by commas) instead of the embedded one, answering their auth callout (docs/fleet.md)")
	cmd.Flags().StringVar(&f.natsCreds, "nats-creds", "", "authenticate the auth callout user to the external NATS servers with the nkey seed or .creds `FILE`, instead of a password in --nats")
	cmd.Flags().StringVar(&f.natsSystemCreds, "nats-system-creds", "", "the nkey seed or .creds `FILE` of a system account user of the external NATS servers: with it, 'phenix hosts revoke' cuts a host off at once, else within 2 minutes")
	cmd.Flags().StringArrayVar(&f.natsAdvertise, "nats-advertise", nil, "a `URL` by which agents reach the external NATS servers (repeatable; default: --nats without its user and password)")
	cmd.Flags().DurationVar(&f.heartbeat, "heartbeat", server.DefaultHeartbeat, "how often agents send a heartbeat; a host is offline after three missed")
	_ = cmd.Flags().MarkHidden("heartbeat")
}

func (f *serverFlags) config(log *slog.Logger) server.Config {
	return server.Config{
		DataDir: f.data, Listen: f.listen, NATSListen: f.natsListen, DB: f.db,
		Advertise: f.advertise, Heartbeat: f.heartbeat, Log: log, Version: version(),
		NATS: f.nats, NATSCreds: f.natsCreds, NATSSystemCreds: f.natsSystemCreds, NATSAdvertise: f.natsAdvertise,
	}
}

// serviceLogger logs at Info (Debug with -v): long-running commands say
// what they do.
func (a *app) serviceLogger() *slog.Logger {
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

func (a *app) serverCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the phenix server: API, embedded NATS for agents, store and journal",
		Long: `Run the phenix server until interrupted.

It serves the HTTPS JSON API (the CLI's only way in) on --listen, and an
embedded NATS server on --nats-listen to which agents connect outward with
the certificate they received at enrolment; the NATS server itself confines
each agent to its own subjects. With --nats, agents use external NATS
servers instead, which leave authentication to this server (NATS auth
callout): it creates the callout's issuer key on first start, and prints
the configuration the NATS servers need (see docs/fleet.md). State is kept
in an SQLite database in the data directory, or in PostgreSQL with --db.

On first start it creates the fleet's CA and an admin API token, written
to the data directory (mode 0600) and printed once. Join agents with a
token from 'phenix tokens create'.`,
		Example: `  phenix server --data /var/lib/phenix/server
  phenix server --listen :4680 --nats-listen :4222 --advertise phenix.example.com
  phenix server --db 'postgres://phenix:secret@db/phenix?sslmode=require'
  phenix server --nats nats://phenix:secret@nats.example.com:4222 --nats-system-creds /etc/phenix/nats-sys.nk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			srv, err := server.Start(ctx, f.config(a.serviceLogger()))
			if err != nil {
				return err
			}
			info := srv.Info()
			if tok, created := srv.AdminToken(); created {
				fmt.Fprintf(a.stdout, "admin token: %s\n  (saved in %s, mode 0600; it is shown only this once)\n", tok, info.Token)
			}
			if setup := srv.NATSSetup(); setup != "" {
				fmt.Fprintf(a.stdout, "the external NATS servers need this configuration (auth callout of this server):\n\n%s\n", setup)
			}
			fmt.Fprintf(a.stdout, "phenix server: API %s, agents %s, data %s\n", info.URL, info.NATS[0], f.data)
			fmt.Fprintf(a.stdout, "join an agent: phenix tokens create, then run the command it prints on the host\n")
			<-ctx.Done()
			return srv.Close()
		},
	}
	f.register(cmd)
	return cmd
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
