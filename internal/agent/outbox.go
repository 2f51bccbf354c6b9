package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/wire"
)

// Kinds of outbox entries; an entry's file name is <kind>-<id>.json and
// it is sent as a request of that kind.
const (
	outboxResult = wire.KindResult
	outboxDrift  = wire.KindDrift
)

func (a *agent) outboxPath(kind, id string) string {
	return filepath.Join(a.cfg.StateDir, outboxDir, kind+"-"+fileName(id)+".json")
}

// outboxPut keeps v, a Result or a Drift, in the outbox until the server
// acknowledges it, and wakes the sender.
func (a *agent) outboxPut(kind, id string, v any) error {
	if err := writeJSON(a.outboxPath(kind, id), v, 0o600); err != nil {
		return err
	}
	signal(a.outboxCh, struct{}{})
	return nil
}

// outboxLoop sends the outbox whenever something is put in it and at
// every connection, and retries what was not acknowledged with a backoff
// from backoffMin to backoffMax.
func (a *agent) outboxLoop(ctx context.Context) error {
	backoff := a.tune.backoffMin
	retry := time.NewTimer(0) // send what a previous run left at once
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.outboxCh:
			backoff = a.tune.backoffMin
		case <-retry.C:
		}
		retry.Stop()
		err := a.sendOutbox(ctx)
		switch {
		case err == nil:
			backoff = a.tune.backoffMin
		case ctx.Err() != nil:
			return nil
		default:
			if !errors.Is(err, errNotConnected) {
				a.log.WarnContext(ctx, "outbox not delivered, trying again", "err", err, "in", backoff)
			}
			retry.Reset(backoff)
			backoff = min(2*backoff, a.tune.backoffMax)
		}
	}
}

// sendOutbox sends every entry of the outbox, oldest first, and removes
// those the server acknowledged. It stops at the first failure.
func (a *agent) sendOutbox(ctx context.Context) error {
	dir := filepath.Join(a.cfg.StateDir, outboxDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	type entry struct {
		name, kind string
		mod        time.Time
	}
	var todo []entry
	for _, e := range ents {
		name := e.Name()
		kind, _, ok := strings.Cut(name, "-")
		if !ok || !strings.HasSuffix(name, ".json") || (kind != outboxResult && kind != outboxDrift) {
			continue // a temporary file being written, or debris
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		todo = append(todo, entry{name, kind, info.ModTime()})
	}
	slices.SortFunc(todo, func(x, y entry) int { return x.mod.Compare(y.mod) })
	for _, e := range todo {
		p := filepath.Join(dir, e.name)
		data, err := os.ReadFile(p)
		if err != nil {
			continue // acknowledged and removed meanwhile
		}
		nc := a.conn()
		if nc == nil {
			return errNotConnected
		}
		if data, err = fit(e.kind, data, int(nc.MaxPayload())-payloadMargin); err != nil {
			a.log.ErrorContext(ctx, "cannot deliver: dropped", "file", e.name, "err", err)
			os.Remove(p)
			continue
		}
		var ack wire.Ack
		if err := a.requestRaw(ctx, nc, e.kind, data, &ack, a.tune.requestTimeout); err != nil {
			return err
		}
		if !ack.OK {
			return fmt.Errorf("%s: the server could not store it: %s", e.kind, ack.Error)
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		a.log.DebugContext(ctx, "delivered", "kind", e.kind, "file", e.name)
	}
	return nil
}
