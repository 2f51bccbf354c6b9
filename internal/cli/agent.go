package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/agent"
	"github.com/phenixhq/phenix/internal/host"
)

// defaultAgentState is where phenix agent keeps its key, certificate,
// policy and outbox: /var/lib/phenix/agent for root, else under the user's
// data directory.
func defaultAgentState() string {
	if os.Geteuid() == 0 {
		return "/var/lib/phenix/agent"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "phenix", "agent")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "phenix", "agent")
	}
	return filepath.Join(home, ".local", "share", "phenix", "agent")
}

func (a *app) agentCommand() *cobra.Command {
	var (
		cfg    agent.Config
		labels string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the phenix agent: join a server, keep this host's promises, run its jobs",
		Long: `Run the phenix agent until interrupted.

The first time, it generates its own key (which never leaves the host) and
enrols over HTTPS with the server, trusting only the CA whose hash
--ca-hash gives (or the CA file --ca names). With a valid join token it is
accepted at once; without one it waits as pending until an operator runs
'phenix hosts accept ID'. It then connects outward to the server's NATS
with its own certificate, which allows it its own subjects only.

The agent keeps the last policy it received in its state directory and
re-converges it on an interval, when a new revision arrives and when a
managed file is edited by hand (repaired within a second and reported as
drift) — also while the server is unreachable. Results of jobs are kept on
disk until the server has stored them.`,
		Example: `  phenix agent --server https://phenix.example.com:4680 \
    --join-token phx_0123456789abcdef_… --ca-hash sha256:… --labels role=web,env=prod
  phenix agent --server https://10.0.0.5:4680 --ca-hash sha256:…   # waits for 'phenix hosts accept'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if labels != "" {
				m, err := host.ParseLabels(labels)
				if err != nil {
					return badInput(fmt.Errorf("--labels: %w", err))
				}
				cfg.Labels = m
			}
			if cfg.Server == "" {
				if _, err := os.Stat(filepath.Join(cfg.StateDir, "cert.pem")); err != nil {
					return badInput(fmt.Errorf("--server is required to enrol (PHENIX_SERVER)"))
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg.Log = a.serviceLogger()
			cfg.Version = version()
			return agent.Run(ctx, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Server, "server", os.Getenv("PHENIX_SERVER"), "the server's `URL`, https://host:4680 (env PHENIX_SERVER)")
	fl.StringVar(&cfg.JoinToken, "join-token", os.Getenv("PHENIX_JOIN_TOKEN"), "a join `TOKEN` from 'phenix tokens create' (env PHENIX_JOIN_TOKEN)")
	fl.StringVar(&cfg.CAHash, "ca-hash", os.Getenv("PHENIX_CA_HASH"), "trust the server whose CA certificate has this `sha256:HEX` hash")
	fl.StringVar(&cfg.CAFile, "ca", "", "trust the server's CA from this PEM `FILE` instead of --ca-hash")
	fl.StringVar(&cfg.ID, "id", "", "this host's `ID` in the fleet (default: the host name)")
	fl.StringVar(&labels, "labels", "", "labels to ask for, `k=v,…` (a join token's labels win)")
	fl.StringVar(&cfg.StateDir, "state", defaultAgentState(), "keep the key, certificate, policy and outbox in `DIR`")
	fl.StringVar(&cfg.Root, "root", "", "apply promises under `DIR` as if it were / (for tests)")
	_ = fl.MarkHidden("root")
	return cmd
}
