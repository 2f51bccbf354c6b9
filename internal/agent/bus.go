package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/selector"
	"github.com/phenixhq/phenix/internal/wire"
)

// errNotConnected is returned by requests made while the bus is away.
var errNotConnected = errors.New("not connected to the bus")

// jitterFor returns the reconnect jitter of a fleet of size hosts: a
// second per thousand hosts, at least one second and at most 30.
func jitterFor(size int) time.Duration {
	return min(max(time.Second, time.Duration(size)*time.Second/1000), 30*time.Second)
}

// busLoop keeps a connection to the bus until ctx ends. nats.go
// reconnects by itself, forever; a connection closes only when the bus
// refuses the host twice in a row (revoked, or unknown), and busLoop then
// connects again, slowly.
func (a *agent) busLoop(ctx context.Context) error {
	for {
		closed := make(chan struct{})
		nc, err := a.connect(ctx, closed)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.WarnContext(ctx, "cannot connect to the bus", "err", err)
			if sleep(ctx, a.tune.reconnectWait) != nil {
				return nil
			}
			continue
		}
		a.nc.Store(nc)
		select {
		case <-ctx.Done():
			a.nc.Store(nil)
			nc.Close()
			return nil
		case <-closed:
		}
		a.nc.Store(nil)
		wait := a.tune.reconnectWait
		if err := nc.LastError(); errors.Is(err, nats.ErrAuthorization) {
			wait = a.tune.revokedRetry
			a.log.ErrorContext(ctx, fmt.Sprintf("host %s was revoked or is unknown to the server: the bus refuses it; trying again every %v, convergence goes on", a.ident.id, wait),
				"err", err)
		} else {
			a.log.WarnContext(ctx, "bus connection closed", "err", err)
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// connect connects to the bus and subscribes to the host's down subjects.
// closed is closed when the connection is closed for good.
//
// The reconnect jitter scales with the fleet (HelloReply.FleetSize), which
// is only known once connected, while nats.go reads ReconnectJitter once,
// at connect. So the delay before each reconnection comes from
// nats.CustomReconnectDelay, which nats.go calls before every round of
// reconnections: ReconnectWait plus a random part of the jitter known
// then.
func (a *agent) connect(ctx context.Context, closed chan struct{}) (*nats.Conn, error) {
	cc := bus.ClientConfig{
		ConnectTimeout:  a.tune.connectTimeout,
		ReconnectWait:   a.tune.reconnectWait,
		ReconnectJitter: time.Duration(a.jitter.Load()),
		MaxReconnects:   -1,
		Log:             a.log,
	}
	url := strings.Join(a.ident.nats, ",")
	// Hello must follow the subscriptions, so that the server may send
	// jobs as soon as it is greeted: the handlers wait for them.
	subscribed := make(chan struct{})
	defer close(subscribed)
	var lastErrLog atomic.Int64
	greet := func(nc *nats.Conn) {
		select {
		case <-subscribed:
		case <-ctx.Done():
			return
		}
		a.nc.Store(nc)
		replace(a.connected, nc)
	}
	nc, err := cc.Connect(ctx, url, a.ident.ca, a.ident.cert, "",
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(a.reconnectDelay),
		nats.ConnectHandler(func(nc *nats.Conn) {
			a.log.InfoContext(ctx, "connected to the bus", "url", nc.ConnectedUrlRedacted())
			greet(nc)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			a.log.InfoContext(ctx, "reconnected to the bus", "url", nc.ConnectedUrlRedacted())
			greet(nc)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.WarnContext(ctx, "disconnected from the bus", "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			// Once a minute at most: a server away for long is not news.
			now := time.Now().UnixNano()
			if last := lastErrLog.Load(); now-last >= int64(time.Minute) && lastErrLog.CompareAndSwap(last, now) {
				a.log.WarnContext(ctx, "cannot reach the bus, trying again", "err", err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	)
	if err != nil {
		return nil, err
	}
	subs := []struct {
		kind string
		fn   nats.MsgHandler
	}{
		{wire.KindJob, func(m *nats.Msg) { a.onJob(ctx, m.Data) }},
		{wire.KindPolicy, func(m *nats.Msg) { a.onPolicyNotice(ctx, m.Data) }},
	}
	for _, s := range subs {
		if _, err := nc.Subscribe(bus.Down(a.ident.id, s.kind), s.fn); err != nil {
			nc.Close()
			return nil, fmt.Errorf("subscribe to %s: %w", bus.Down(a.ident.id, s.kind), err)
		}
	}
	return nc, nil
}

// reconnectDelay is the nats.CustomReconnectDelay of the connection.
func (a *agent) reconnectDelay(int) time.Duration {
	d := a.tune.reconnectWait
	if j := a.jitter.Load(); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	return d
}

// replace puts v in ch, a channel of one slot, in place of what it holds.
func replace[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// greetLoop says Hello to the server on every (re)connection and when the
// facts change.
func (a *agent) greetLoop(ctx context.Context) error {
	for {
		var nc *nats.Conn
		select {
		case <-ctx.Done():
			return nil
		case nc = <-a.connected:
		case <-a.factsCh:
			if nc = a.conn(); nc == nil {
				continue // the next connection says Hello anyway
			}
		}
		a.greet(ctx, nc)
	}
}

// greet sends Hello on nc until the server answers, nc is lost or ctx
// ends, and acts on the answer.
func (a *agent) greet(ctx context.Context, nc *nats.Conn) {
	backoff := a.tune.backoffMin
	for {
		rep, err := a.hello(ctx, nc)
		if err == nil {
			if a.hbEvery.Swap(int64(rep.Heartbeat)) != int64(rep.Heartbeat) {
				signal(a.hbCh, struct{}{})
			}
			a.jitter.Store(int64(jitterFor(rep.FleetSize)))
			a.log.DebugContext(ctx, "server greeted", "heartbeat", rep.Heartbeat, "fleet_size", rep.FleetSize, "revision", rep.Revision)
			if rep.Revision != a.policy().Revision {
				signal(a.fetchCh, struct{}{})
			}
			signal(a.outboxCh, struct{}{})
			return
		}
		if ctx.Err() != nil || !nc.IsConnected() {
			return
		}
		a.log.WarnContext(ctx, "hello: no answer from the server, trying again", "err", err, "in", backoff)
		if sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, a.tune.backoffMax)
	}
}

// hello sends one Hello.
func (a *agent) hello(ctx context.Context, nc *nats.Conn) (wire.HelloReply, error) {
	f := a.gatherFacts()
	h := wire.Hello{
		Hostname: f["hostname"],
		Facts:    f,
		Version:  a.cfg.Version,
		Revision: a.policy().Revision,
	}
	var rep wire.HelloReply
	if err := a.request(ctx, nc, wire.KindHello, h, &rep, a.tune.requestTimeout); err != nil {
		return rep, err
	}
	a.mu.Lock()
	a.factsSent = f
	a.mu.Unlock()
	if rep.Heartbeat <= 0 {
		rep.Heartbeat = a.tune.defaultHB
	}
	return rep, nil
}

// gatherFacts returns the host's facts, flattened.
func (a *agent) gatherFacts() map[string]string {
	return selector.FlattenFacts(facts.Gather(a.cfg.Root).Map())
}

// checkFacts greets the server again when the facts changed since the
// last Hello.
func (a *agent) checkFacts() {
	f := a.gatherFacts()
	a.mu.Lock()
	sent := a.factsSent
	a.mu.Unlock()
	if sent != nil && !equalMaps(f, sent) {
		signal(a.factsCh, struct{}{})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// request sends v as a request of kind on nc (the current connection when
// nil) and decodes the answer into out.
func (a *agent) request(ctx context.Context, nc *nats.Conn, kind string, v, out any, timeout time.Duration) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return a.requestRaw(ctx, nc, kind, data, out, timeout)
}

func (a *agent) requestRaw(ctx context.Context, nc *nats.Conn, kind string, data []byte, out any, timeout time.Duration) error {
	if nc == nil {
		nc = a.conn()
	}
	if nc == nil || !nc.IsConnected() {
		return fmt.Errorf("%s: %w", kind, errNotConnected)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, bus.Up(a.ident.id, kind), data)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", kind, err)
	}
	return nil
}

// heartbeatLoop publishes a Heartbeat every HelloReply.Heartbeat, ±10%.
func (a *agent) heartbeatLoop(ctx context.Context) error {
	next := func() time.Duration {
		every := time.Duration(a.hbEvery.Load())
		return every - every/10 + time.Duration(rand.Int64N(int64(every/5)+1))
	}
	timer := time.NewTimer(next())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.hbCh: // a new interval
			timer.Reset(next())
			continue
		case <-timer.C:
		}
		timer.Reset(next())
		nc := a.conn()
		if nc == nil {
			continue
		}
		a.mu.Lock()
		hb := wire.Heartbeat{Revision: a.kept.Revision, LastResult: a.lastResult}
		a.mu.Unlock()
		if err := publishJSON(nc, a.ident.id, wire.KindHB, hb); err != nil {
			a.log.DebugContext(ctx, "heartbeat not sent", "err", err)
		}
	}
}

// publishJSON publishes v on host id's up subject of kind.
func publishJSON(nc *nats.Conn, id, kind string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return nc.Publish(bus.Up(id, kind), data)
}
