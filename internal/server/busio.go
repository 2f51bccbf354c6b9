package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/wire"
)

func busDown(id, kind string) string { return bus.Down(id, kind) }

// subscribe listens to what agents send. Requests are answered only on a
// reply subject of the sending host (bus.ReplyOf).
func (s *Server) subscribe() error {
	handlers := map[string]func(id string, m *nats.Msg){
		wire.KindHello:  s.onHello,
		wire.KindHB:     s.onHeartbeat,
		wire.KindOut:    s.onOutput,
		wire.KindResult: s.onResult,
		wire.KindPolicy: s.onPolicy,
		wire.KindDrift:  s.onDrift,
	}
	for kind, h := range handlers {
		sub, err := s.nc.Subscribe(bus.UpAll(kind), func(m *nats.Msg) {
			id, _, ok := bus.ParseUp(m.Subject)
			if !ok {
				return
			}
			h(id, m)
		})
		if err != nil {
			return fmt.Errorf("server: subscribe %s: %w", kind, err)
		}
		// A burst from 10,000 hosts must not be dropped as a slow consumer.
		_ = sub.SetPendingLimits(-1, -1)
	}
	return s.nc.Flush()
}

// reply answers m if its reply subject belongs to host id.
func (s *Server) reply(id string, m *nats.Msg, v any) {
	if m.Reply == "" || !bus.ReplyOf(id, m.Reply) {
		s.log.Warn("request with a foreign reply subject ignored", "host", id, "subject", m.Subject, "reply", m.Reply)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode reply", "err", err)
		return
	}
	_ = s.nc.Publish(m.Reply, b)
}

func (s *Server) onHello(id string, m *nats.Msg) {
	var hello wire.Hello
	if err := json.Unmarshal(m.Data, &hello); err != nil {
		s.log.Warn("bad hello", "host", id, "err", err)
		return
	}
	now := time.Now().UTC()
	s.hosts.seen(id, now)
	h, ok := s.hosts.get(id)
	if !ok {
		return
	}
	if (hello.Hostname != "" && hello.Hostname != h.Hostname) || (hello.Facts != nil && !maps.Equal(hello.Facts, h.Facts)) {
		name := hello.Hostname
		if name == "" {
			name = h.Hostname
		}
		if err := s.db.SetFacts(s.ctx, id, name, hello.Facts); err != nil {
			s.log.Warn("store facts", "host", id, "err", err)
		} else {
			s.hosts.update(id, func(x *host.Host) { x.Hostname = name; x.Facts = maps.Clone(hello.Facts) })
		}
	}
	rev := ""
	if p, err := s.policies.latest(s.ctx, s.db); err == nil && p != nil {
		rev = p.rev.Hash
	}
	s.reply(id, m, wire.HelloReply{Heartbeat: s.cfg.Heartbeat, FleetSize: s.hosts.accepted(), Revision: rev})
	s.jobs.redispatch(id)
}

func (s *Server) onHeartbeat(id string, m *nats.Msg) {
	var hb wire.Heartbeat
	_ = json.Unmarshal(m.Data, &hb)
	s.hosts.seen(id, time.Now().UTC())
	if hb.LastResult != "" {
		s.setLastResult(id, hb.LastResult)
	}
}

func (s *Server) onOutput(id string, m *nats.Msg) {
	var o wire.Output
	if err := json.Unmarshal(m.Data, &o); err != nil {
		return
	}
	if rj := s.jobs.get(o.Job); rj != nil {
		rj.output(id, o)
	}
}

func (s *Server) onResult(id string, m *nats.Msg) {
	if m.Reply == "" || !bus.ReplyOf(id, m.Reply) {
		s.log.Warn("result with a foreign reply subject ignored", "host", id, "reply", m.Reply)
		return
	}
	var r wire.Result
	if err := json.Unmarshal(m.Data, &r); err != nil || !wire.Final(r.Status) {
		s.reply(id, m, wire.Ack{OK: true, Error: fmt.Sprintf("malformed result dropped: %v", err)})
		return
	}
	s.hosts.seen(id, time.Now().UTC())
	out := r.Output
	if len(out) > wire.MaxOutput+1024 {
		out = out[:wire.MaxOutput]
	}
	pr := &pendingResult{reply: m.Reply, r: sqlstore.JobResult{
		JobID: r.Job, HostID: id, Status: r.Status, ExitCode: r.ExitCode, Output: out,
		Detail: string(r.Detail), StartedAt: r.StartedAt.UTC(), EndedAt: r.EndedAt.UTC(),
	}}
	select {
	case s.results <- pr:
	case <-s.ctx.Done():
	}
}

func (s *Server) onDrift(id string, m *nats.Msg) {
	var d wire.Drift
	if err := json.Unmarshal(m.Data, &d); err != nil || d.ID == "" {
		s.reply(id, m, wire.Ack{OK: true, Error: "malformed drift report dropped"})
		return
	}
	changes := string(d.Changes)
	if changes == "" {
		changes = "[]"
	}
	_, err := s.db.AddDrift(s.ctx, sqlstore.Drift{ID: d.ID, HostID: id, Time: d.Time.UTC(), Revision: d.Revision, Trigger: d.Trigger, Result: d.Result, Changes: changes})
	if err != nil {
		s.log.Error("store drift", "host", id, "err", err)
		s.reply(id, m, wire.Ack{Error: "the server could not store the report; retry"})
		return
	}
	s.reply(id, m, wire.Ack{OK: true})
}

func (s *Server) onPolicy(id string, m *nats.Msg) {
	var req wire.PolicyRequest
	_ = json.Unmarshal(m.Data, &req)
	s.reply(id, m, s.payloadFor(id, req.Have))
}
