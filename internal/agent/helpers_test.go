package agent

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/wire"
)

// testTuning shortens every delay of an agent.
func testTuning() tuning {
	tu := defaultTuning()
	tu.enrolPoll = 20 * time.Millisecond
	tu.connectTimeout = 5 * time.Second
	tu.reconnectWait = 20 * time.Millisecond
	tu.revokedRetry = 200 * time.Millisecond
	tu.requestTimeout = 2 * time.Second
	tu.policyTimeout = 2 * time.Second
	tu.backoffMin = 20 * time.Millisecond
	tu.backoffMax = 200 * time.Millisecond
	tu.debounce = 50 * time.Millisecond
	tu.flushEvery = 20 * time.Millisecond
	tu.killGrace = 200 * time.Millisecond
	return tu
}

// testLog returns a logger writing to t.Log until the test ends, and
// the writer, which keeps the text.
func testLog(t *testing.T) (*slog.Logger, *logWriter) {
	w := &logWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	text strings.Builder
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	w.text.Write(p)
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

func (w *logWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// enrolledDir returns a state directory holding what enrolment gives host
// id on env's bus.
func enrolledDir(t *testing.T, env *bustest.Env, id string) string {
	t.Helper()
	dir := t.TempDir()
	key, csr, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := env.CA.SignClient(csr, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := env.CA.PEM()
	files := map[string][]byte{
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		certFile: certPEM,
		caFile:   caPEM,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := json.Marshal(enrolled{ID: id, NATS: []string{env.URL}})
	if err := os.WriteFile(filepath.Join(dir, stateFile), st, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startAgent runs an agent until the returned function is called or the
// test ends.
func startAgent(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log, _ = testLog(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, testTuning()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("agent did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// fakeServer plays the phenix server on a test bus: it greets agents,
// acknowledges their results and drift reports when acking, and serves a
// policy payload.
type fakeServer struct {
	t      *testing.T
	env    *bustest.Env
	nc     *nats.Conn
	acking atomic.Bool

	mu       sync.Mutex
	hellos   []wire.Hello
	beats    []wire.Heartbeat
	results  []wire.Result // every result received, acknowledged or not
	acked    []wire.Result
	drifts   []wire.Drift
	outputs  map[string][]wire.Output
	payload  []byte // policy.Payload as JSON; nil for no policy
	digest   string
	revision string
	fleet    int
	policyRq int
}

func newFakeServer(t *testing.T, env *bustest.Env) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, env: env, outputs: map[string][]wire.Output{}, fleet: 3}
	s.acking.Store(true)
	s.nc = env.ConnectServer(t)
	handle := func(kind string, fn func(m *nats.Msg)) {
		if _, err := s.nc.Subscribe(bus.UpAll(kind), fn); err != nil {
			t.Fatal(err)
		}
	}
	handle(wire.KindHello, func(m *nats.Msg) {
		var h wire.Hello
		decode(t, m.Data, &h)
		s.mu.Lock()
		s.hellos = append(s.hellos, h)
		rep := wire.HelloReply{Heartbeat: 50 * time.Millisecond, FleetSize: s.fleet, Revision: s.revision}
		s.mu.Unlock()
		respond(t, m, rep)
	})
	handle(wire.KindHB, func(m *nats.Msg) {
		var hb wire.Heartbeat
		decode(t, m.Data, &hb)
		s.mu.Lock()
		s.beats = append(s.beats, hb)
		s.mu.Unlock()
	})
	handle(wire.KindOut, func(m *nats.Msg) {
		var o wire.Output
		decode(t, m.Data, &o)
		s.mu.Lock()
		s.outputs[o.Job] = append(s.outputs[o.Job], o)
		s.mu.Unlock()
	})
	handle(wire.KindResult, func(m *nats.Msg) {
		var r wire.Result
		decode(t, m.Data, &r)
		s.mu.Lock()
		s.results = append(s.results, r)
		ok := s.acking.Load()
		if ok {
			s.acked = append(s.acked, r)
		}
		s.mu.Unlock()
		if ok {
			respond(t, m, wire.Ack{OK: true})
		} else {
			respond(t, m, wire.Ack{Error: "store unavailable"})
		}
	})
	handle(wire.KindDrift, func(m *nats.Msg) {
		var d wire.Drift
		decode(t, m.Data, &d)
		s.mu.Lock()
		s.drifts = append(s.drifts, d)
		s.mu.Unlock()
		respond(t, m, wire.Ack{OK: true})
	})
	handle(wire.KindPolicy, func(m *nats.Msg) {
		var rq wire.PolicyRequest
		decode(t, m.Data, &rq)
		s.mu.Lock()
		s.policyRq++
		rep := wire.PolicyReply{Revision: s.revision, Digest: s.digest}
		switch {
		case s.payload == nil:
		case rq.Have == s.digest:
			rep.Unchanged = true
		default:
			rep.Payload = s.payload
		}
		s.mu.Unlock()
		respond(t, m, rep)
	})
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// setPolicy makes pl the policy of every host, and tells host id.
func (s *fakeServer) setPolicy(id string, pl policy.Payload) {
	b, err := json.Marshal(pl)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.payload, s.digest, s.revision = b, pl.Digest(), pl.Revision
	s.mu.Unlock()
	if id != "" {
		s.publish(id, wire.KindPolicy, wire.PolicyNotice{Revision: pl.Revision})
	}
}

func (s *fakeServer) publish(id, kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.nc.Publish(bus.Down(id, kind), b); err != nil {
		s.t.Fatal(err)
	}
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		s.t.Fatal(err)
	}
}

// result returns the last result received for job, acknowledged or not.
func (s *fakeServer) result(job string) (wire.Result, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		last wire.Result
		n    int
	)
	for _, r := range s.results {
		if r.Job == job {
			last, n = r, n+1
		}
	}
	return last, n, n > 0
}

func (s *fakeServer) ackedCount(job string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.acked {
		if r.Job == job {
			n++
		}
	}
	return n
}

func (s *fakeServer) output(job string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, o := range s.outputs[job] {
		b.WriteString(o.Data)
	}
	return b.String()
}

func (s *fakeServer) lastBeat() wire.Heartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.beats) == 0 {
		return wire.Heartbeat{}
	}
	return s.beats[len(s.beats)-1]
}

func (s *fakeServer) helloCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hellos)
}

func (s *fakeServer) driftList() []wire.Drift {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wire.Drift(nil), s.drifts...)
}

func decode(t *testing.T, data []byte, v any) {
	if err := json.Unmarshal(data, v); err != nil {
		t.Errorf("decode %s: %v", data, err)
	}
}

func respond(t *testing.T, m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	if err := m.Respond(b); err != nil {
		t.Errorf("respond: %v", err)
	}
}
