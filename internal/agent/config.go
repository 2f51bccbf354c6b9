package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/pki"
)

// Config configures Run. The CLI (phenix agent) fills it from its flags.
type Config struct {
	Server    string            // https://host:port of the phenix server (enrolment only)
	JoinToken string            // phx_<id>_<secret>; "" → the host enrols as pending and waits until accepted
	CAHash    string            // "sha256:<hex>" of the server's CA certificate DER: fetched unverified, checked, then pinned
	CAFile    string            // or a CA PEM file to trust; one of the two is required unless StateDir holds ca.pem
	ID        string            // host id; default: the hostname, lower-cased, invalid characters replaced (see DefaultID)
	Labels    map[string]string // asked for at enrolment
	StateDir  string            // key.pem (0600), cert.pem, ca.pem, agent.json, policy/, outbox/, jobs/
	Root      string            // promises apply under Root as if it were / (tests); "" for the real system
	Log       *slog.Logger
	Version   string
}

// tuning holds the delays of an agent. Run uses defaultTuning; tests
// shorten them.
type tuning struct {
	enrolPoll       time.Duration // between two enrolment attempts while pending or unreachable
	connectTimeout  time.Duration // each attempt to connect to the bus
	reconnectWait   time.Duration // before a reconnection, plus the fleet-scaled jitter
	revokedRetry    time.Duration // before connecting again after the bus refused the host
	requestTimeout  time.Duration // a request to the server (hello, result, drift)
	policyTimeout   time.Duration // a policy request, whose reply may be large
	backoffMin      time.Duration // first retry of the outbox and of a failed request
	backoffMax      time.Duration // longest retry delay
	defaultInterval time.Duration // convergence interval when the payload names none
	defaultHB       time.Duration // heartbeat interval until the server says
	debounce        time.Duration // file-watch events are gathered this long
	flushEvery      time.Duration // job output is sent at least this often
	flushBytes      int           // or as soon as this much is buffered
	maxJobs         int           // jobs running at once; others queue
	jobMemory       time.Duration // how long a job id is remembered
	killGrace       time.Duration // how long output pipes stay open after a job's process ended
}

func defaultTuning() tuning {
	return tuning{
		enrolPoll:       5 * time.Second,
		connectTimeout:  20 * time.Second,
		reconnectWait:   2 * time.Second,
		revokedRetry:    time.Minute,
		requestTimeout:  10 * time.Second,
		policyTimeout:   30 * time.Second,
		backoffMin:      time.Second,
		backoffMax:      30 * time.Second,
		defaultInterval: 5 * time.Minute,
		defaultHB:       30 * time.Second,
		debounce:        100 * time.Millisecond,
		flushEvery:      50 * time.Millisecond,
		flushBytes:      32 << 10,
		maxJobs:         4,
		jobMemory:       24 * time.Hour,
		killGrace:       2 * time.Second,
	}
}

// withDefaults fills the empty fields of c that have a default, and
// checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		return c, errors.New("agent: no state directory")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.ID == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("agent: host id: %w", err)
		}
		c.ID = DefaultID(h)
	}
	if err := pki.ValidateHostID(c.ID); err != nil {
		return c, fmt.Errorf("agent: %w", err)
	}
	if c.Root != "" {
		// Watched paths are Root joined with the paths promises claim:
		// Root must be absolute and clean.
		abs, err := filepath.Abs(c.Root)
		if err != nil {
			return c, fmt.Errorf("agent: root: %w", err)
		}
		c.Root = abs
		if abs == "/" {
			c.Root = ""
		}
	}
	return c, nil
}

// DefaultID returns the host id made from hostname: lower-cased, every
// character pki.ValidateHostID refuses replaced by '-', leading
// punctuation dropped and cut to 63 bytes. It returns "" when nothing is
// left.
func DefaultID(hostname string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(hostname) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	id := strings.TrimLeft(b.String(), "._-")
	if len(id) > 63 {
		id = id[:63]
	}
	return id
}
