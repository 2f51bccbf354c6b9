package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/wire"
)

// The delays of a real agent (internal/agent defaultTuning), which the
// simulated ones keep.
const (
	connectTimeout = 20 * time.Second
	reconnectWait  = 2 * time.Second
	requestTimeout = 10 * time.Second
	backoffMin     = time.Second
	backoffMax     = 30 * time.Second
	defaultHB      = 30 * time.Second
)

// jitterFor is the agent's reconnect jitter for a fleet of size hosts: a
// second per thousand hosts, at least one second and at most 30.
func jitterFor(size int) time.Duration {
	return min(max(time.Second, time.Duration(size)*time.Second/1000), 30*time.Second)
}

// Subject prefixes, taken from package bus rather than written again.
var (
	downPrefix  = strings.TrimSuffix(bus.Down("x", "k"), "x.k") // phenix.down.
	inboxPrefix = strings.TrimSuffix(bus.InboxPrefix("x"), "x") // _INBOX.
)

// heartbeat is the body of every heartbeat: no policy kept, no
// convergence yet.
var heartbeat, _ = json.Marshal(wire.Heartbeat{})

// simAgent is one simulated agent: its identity, its connection and what
// it remembers. It has no goroutine of its own: nats.go calls its
// connection handlers, the sim's workers its message handlers, and timers
// (time.AfterFunc) its heartbeats and retries.
//
// An agent says Hello on every connection, until answered (a request
// timeout of 10 s, then a backoff from 1 s to 30 s, as the real agent);
// the HelloReply sets its heartbeat interval (± 10 %) and reconnect
// jitter, and makes it send again the results not acknowledged yet. A Job
// is answered with an ok Result (exit 0, no output), sent as a request
// until an Ack{OK: true} comes back; a Job seen before is answered with
// the same Result again, as the real agent does.
type simAgent struct {
	s      *sim
	id     string
	tok    string // the id as a subject token
	inbox  string // its reply subjects are under inbox + "."
	cert   tls.Certificate
	hello  []byte // the wire.Hello it sends
	nc     atomic.Pointer[nats.Conn]
	jitter atomic.Int64 // reconnect jitter, from the last HelloReply

	mu       sync.Mutex
	gen      uint64 // connection number: 1 for the first, +1 on each reconnection
	connAt   int64  // when the current connection was made, Unix ns
	lostAt   int64  // when the last connection was lost, Unix ns
	greeted  uint64 // the gen the last HelloReply answered
	helloAt  int64  // when the last HelloReply came, Unix ns
	helloTry *time.Timer
	backoff  time.Duration
	hbEvery  time.Duration
	hb       *time.Timer
	done     map[string][]byte // job id → the encoded Result
	unacked  map[string]*outgoing
}

// outgoing is a Result waiting for its Ack.
type outgoing struct {
	timer   *time.Timer
	backoff time.Duration
}

func newSimAgent(s *sim, id identity, facts map[string]string) (*simAgent, error) {
	hello, err := json.Marshal(wire.Hello{Hostname: id.id, Facts: facts, Version: "fleet-sim"})
	if err != nil {
		return nil, err
	}
	a := &simAgent{
		s: s, id: id.id, tok: bus.Token(id.id), inbox: bus.InboxPrefix(id.id), cert: id.cert, hello: hello,
		backoff: backoffMin, hbEvery: defaultHB,
		done: map[string][]byte{}, unacked: map[string]*outgoing{},
	}
	a.jitter.Store(int64(time.Second))
	return a, nil
}

// connect connects the agent to the bus, subscribes to its job subject and
// its inbox, and says Hello.
func (a *simAgent) connect(ctx context.Context) error {
	cc := bus.ClientConfig{ConnectTimeout: connectTimeout, ReconnectWait: reconnectWait, MaxReconnects: -1}
	var nc *nats.Conn
	var err error
	d := &simDialer{s: a.s, ctx: ctx}
	for attempt := 1; ; attempt++ {
		nc, err = cc.Connect(ctx, a.s.cfg.nats, a.s.ca, a.cert, "",
			nats.CustomReconnectDelay(a.reconnectDelay),
			nats.ReconnectHandler(a.reconnected),
			nats.DisconnectErrHandler(a.disconnected),
			nats.ErrorHandler(a.busError),
			nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
				a.s.lastReconnectErr.Store(a.id + ": " + err.Error())
			}),
			nats.SetCustomDialer(d),
		)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
		d.closeLast()
		a.s.logf("%s: %v; trying again", a.id, err)
	}
	d.release()
	if err != nil {
		d.closeLast()
		return err
	}
	a.nc.Store(nc)
	// The subscriptions of a real agent: jobs, policy notices (which the
	// benchmark never sends) and replies.
	for _, subj := range []string{bus.Down(a.id, wire.KindJob), bus.Down(a.id, wire.KindPolicy), a.inbox + ".>"} {
		if _, err := nc.ChanSubscribe(subj, a.s.msgs); err != nil {
			nc.Close()
			return fmt.Errorf("%s: subscribe %s: %w", a.id, subj, err)
		}
	}
	a.connected()
	return nil
}

func (a *simAgent) close() {
	a.mu.Lock()
	for _, t := range []*time.Timer{a.hb, a.helloTry} {
		if t != nil {
			t.Stop()
		}
	}
	for _, o := range a.unacked {
		o.timer.Stop()
	}
	a.mu.Unlock()
	if nc := a.nc.Load(); nc != nil {
		nc.Close()
	}
}

// reconnectDelay is the real agent's: 2 s plus a random part of the
// jitter the last HelloReply set.
func (a *simAgent) reconnectDelay(int) time.Duration {
	return reconnectWait + time.Duration(rand.Int64N(a.jitter.Load()))
}

func (a *simAgent) busError(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.s.busErrors.Add(1)
	a.s.lastBusErr.Store(a.id + ": " + err.Error())
}

func (a *simAgent) disconnected(*nats.Conn, error) {
	a.s.disconnect.Add(1)
	a.mu.Lock()
	a.lostAt = time.Now().UnixNano()
	a.mu.Unlock()
}

func (a *simAgent) reconnected(*nats.Conn) {
	a.s.reconnects.Add(1)
	a.connected()
}

// connected starts a new connection: Hello, until answered.
func (a *simAgent) connected() {
	a.mu.Lock()
	a.gen++
	a.connAt = time.Now().UnixNano()
	a.backoff = backoffMin
	gen := a.gen
	a.mu.Unlock()
	a.sayHello(gen)
}

// sayHello sends Hello on connection gen, and tries again after the
// request timeout and a backoff unless answered by then.
func (a *simAgent) sayHello(gen uint64) {
	a.mu.Lock()
	if gen != a.gen || a.greeted == gen {
		a.mu.Unlock()
		return
	}
	if a.helloTry != nil {
		a.helloTry.Stop()
	}
	a.helloTry = time.AfterFunc(requestTimeout+a.backoff, func() { a.sayHello(gen) })
	a.backoff = min(2*a.backoff, backoffMax)
	a.mu.Unlock()
	if nc := a.nc.Load(); nc != nil && nc.IsConnected() {
		a.s.hellos.Add(1)
		_ = nc.PublishRequest(bus.Up(a.id, wire.KindHello), a.inbox+".h."+strconv.FormatUint(gen, 10), a.hello)
	}
}

// helloReply handles the HelloReply to a Hello sent on connection gen.
func (a *simAgent) helloReply(gen uint64, data []byte) {
	var rep wire.HelloReply
	if err := json.Unmarshal(data, &rep); err != nil {
		a.s.busErrors.Add(1)
		a.s.lastBusErr.Store(a.id + ": hello reply: " + err.Error())
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen || a.greeted == gen {
		return // an answer to an earlier connection, or a second answer
	}
	first := a.greeted == 0
	a.greeted, a.helloAt = gen, time.Now().UnixNano()
	a.helloTry.Stop()
	a.backoff = backoffMin
	a.jitter.Store(int64(jitterFor(rep.FleetSize)))
	every := rep.Heartbeat
	if every <= 0 {
		every = defaultHB
	}
	switch {
	case a.hb == nil:
		a.hbEvery = every
		a.hb = time.AfterFunc(nextBeat(every), a.beat)
	case every != a.hbEvery:
		a.hbEvery = every
		a.hb.Reset(nextBeat(every))
	}
	for job := range a.unacked { // the outbox is sent at every connection
		a.sendResultLocked(job)
	}
	if first {
		a.s.greeted.Add(1)
	}
}

// nextBeat returns the delay before the next heartbeat: every ± 10 %.
func nextBeat(every time.Duration) time.Duration {
	return every - every/10 + time.Duration(rand.Int64N(int64(every/5)+1))
}

func (a *simAgent) beat() {
	if nc := a.nc.Load(); nc != nil && nc.IsConnected() {
		if nc.Publish(bus.Up(a.id, wire.KindHB), heartbeat) == nil {
			a.s.beats.Add(1)
		}
	}
	a.mu.Lock()
	a.hb.Reset(nextBeat(a.hbEvery))
	a.mu.Unlock()
}

// job handles a Job: ok at once, or the same Result as before.
func (a *simAgent) job(data []byte) {
	var j wire.Job
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
		a.s.busErrors.Add(1)
		a.s.lastBusErr.Store(fmt.Sprintf("%s: bad job %q: %v", a.id, data, err))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.done[j.ID]; ok {
		a.s.repeats.Add(1)
	} else {
		now := time.Now().UTC()
		b, err := json.Marshal(wire.Result{Job: j.ID, Status: wire.StatusOK, ExitCode: 0, Output: "", StartedAt: now, EndedAt: now})
		if err != nil {
			return
		}
		a.done[j.ID] = b
		a.s.jobs.Add(1)
	}
	a.sendResultLocked(j.ID)
}

// sendResultLocked sends the Result of job as a request, and again after
// the request timeout and a backoff unless acknowledged by then.
func (a *simAgent) sendResultLocked(job string) {
	o := a.unacked[job]
	if o == nil {
		o = &outgoing{backoff: backoffMin}
		a.unacked[job] = o
		a.s.pending.Add(1)
	} else {
		o.timer.Stop()
	}
	o.timer = time.AfterFunc(requestTimeout+o.backoff, func() { a.retryResult(job) })
	o.backoff = min(2*o.backoff, backoffMax)
	if nc := a.nc.Load(); nc != nil && nc.IsConnected() {
		a.s.results.Add(1)
		_ = nc.PublishRequest(bus.Up(a.id, wire.KindResult), a.inbox+".r."+job, a.done[job])
	}
}

func (a *simAgent) retryResult(job string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unacked[job] != nil {
		a.sendResultLocked(job)
	}
}

// ack handles the Ack of the Result of job.
func (a *simAgent) ack(job string, data []byte) {
	var ack wire.Ack
	err := json.Unmarshal(data, &ack)
	a.mu.Lock()
	defer a.mu.Unlock()
	o := a.unacked[job]
	if o == nil {
		return // a second Ack, for a retry
	}
	if err != nil || !ack.OK || ack.Error != "" {
		a.s.nacks.Add(1)
		a.s.lastBusErr.Store(fmt.Sprintf("%s: result of %s: ack %q: %v", a.id, job, data, err))
		if err != nil || !ack.OK {
			o.timer.Reset(o.backoff) // the server could not store it: retry
			return
		}
	}
	o.timer.Stop()
	delete(a.unacked, job)
	a.s.pending.Add(-1)
	a.s.acked.Add(1)
}

// dispatch hands a message to its agent; false if it fits none.
func (s *sim) dispatch(m *nats.Msg) bool {
	switch {
	case strings.HasPrefix(m.Subject, downPrefix):
		tok, kind, _ := strings.Cut(m.Subject[len(downPrefix):], ".")
		a := s.byTok[tok]
		if a == nil || kind != wire.KindJob {
			return false // policy notices too: the simulator keeps no policy
		}
		a.job(m.Data)
	case strings.HasPrefix(m.Subject, inboxPrefix):
		tok, rest, _ := strings.Cut(m.Subject[len(inboxPrefix):], ".")
		typ, arg, _ := strings.Cut(rest, ".")
		a := s.byTok[tok]
		if a == nil {
			return false
		}
		switch typ {
		case "h":
			gen, err := strconv.ParseUint(arg, 10, 64)
			if err != nil {
				return false
			}
			a.helloReply(gen, m.Data)
		case "r":
			a.ack(arg, m.Data)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// agentState is when an agent last lost its connection, made the current
// one and was last greeted (Unix ns), and whether that greeting answered
// the current connection.
type agentState struct {
	lostAt, connAt, helloAt int64
	greeted                 bool
}

func (a *simAgent) state() agentState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return agentState{lostAt: a.lostAt, connAt: a.connAt, helloAt: a.helloAt, greeted: a.greeted == a.gen}
}
