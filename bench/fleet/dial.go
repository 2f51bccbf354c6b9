package main

import (
	"context"
	"net"
	"sync"
)

// simDialer dials the connections of one agent. Before it dials, it closes
// the agent's previous connection: nats.go (v1.55) does not close a
// connection whose handshake or first exchange failed while reconnecting,
// and leaves it to the garbage collector. An agent, alone in its process,
// hardly notices; 10,000 simulated agents in one process would run out of
// file descriptors after a few thousand failed attempts. It also counts
// the attempts, which tells failed ones from the reconnections that
// succeeded. Until release, dials end with ctx (the first connection);
// reconnections run on their own.
type simDialer struct {
	s    *sim
	mu   sync.Mutex
	ctx  context.Context // nil after release
	last net.Conn
}

func (d *simDialer) Dial(network, address string) (net.Conn, error) {
	d.s.dials.Add(1)
	d.closeLast() // already closed, unless nats.go left it open
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	conn, err := (&net.Dialer{Timeout: connectTimeout}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.last = conn
	d.mu.Unlock()
	return conn, nil
}

func (d *simDialer) closeLast() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil {
		d.last.Close()
		d.last = nil
	}
}

// release detaches the dialer from the context of the first connection.
func (d *simDialer) release() {
	d.mu.Lock()
	d.ctx = nil
	d.mu.Unlock()
}
