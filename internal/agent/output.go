package agent

import (
	"fmt"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/wire"
)

// output collects the output of a running job: it sends it as it comes,
// coalesced (every flushEvery, or as soon as flushBytes wait), with
// secrets masked, and keeps it for the Result, capped (see capped).
// Its Write methods are safe for concurrent use.
type output struct {
	job   string
	mask  *masker
	send  func(wire.Output) // best effort: drops when the bus is away
	every time.Duration
	limit int

	mu      sync.Mutex
	seq     int
	pending map[string][]byte // per stream, not sent yet
	size    int               // bytes in pending
	timer   *time.Timer       // armed while something is pending
	kept    capped
	closed  bool
}

func newOutput(job string, m *masker, send func(wire.Output), every time.Duration, limit int) *output {
	return &output{
		job:     job,
		mask:    m,
		send:    send,
		every:   every,
		limit:   limit,
		pending: map[string][]byte{},
		kept:    capped{max: wire.MaxOutput},
	}
}

// stream returns the writer of one stream, "stdout" or "stderr".
func (o *output) stream(name string) *streamWriter { return &streamWriter{o: o, name: name} }

type streamWriter struct {
	o    *output
	name string
}

func (w *streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending[w.name] = append(o.pending[w.name], p...)
	o.size += len(p)
	switch {
	case o.size >= o.limit:
		o.flushLocked(false)
	case o.timer == nil && !o.closed:
		o.timer = time.AfterFunc(o.every, o.tick)
	}
	return len(p), nil
}

func (o *output) tick() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.timer = nil
	o.flushLocked(false)
}

// flushLocked sends what is pending (all of it when final) in the order
// stdout, stderr.
func (o *output) flushLocked(final bool) {
	for _, name := range []string{"stdout", "stderr"} {
		buf := o.pending[name]
		if len(buf) == 0 {
			continue
		}
		text, rest := o.mask.stream(buf, final)
		o.pending[name] = append(buf[:0:0], rest...)
		o.size -= len(buf) - len(rest)
		if text == "" {
			continue
		}
		o.kept.Write([]byte(text))
		o.seq++
		o.send(wire.Output{Job: o.job, Seq: o.seq, Stream: name, Data: text})
	}
	if final && o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if !final && o.size > 0 && o.timer == nil && !o.closed {
		// Held back for a secret that may straddle two writes.
		o.timer = time.AfterFunc(o.every, o.tick)
	}
}

// close sends the rest and returns the whole output, capped.
func (o *output) close() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.flushLocked(true)
	return o.kept.String()
}

// add appends text that is not a command's output (an error) to the kept
// output, masked.
func (o *output) add(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kept.Write([]byte(o.mask.String(text)))
}

// capped keeps at most max bytes of what is written to it: the first half
// and the last, around a line that says how much was cut.
type capped struct {
	max   int
	head  []byte
	tail  []byte
	total int
}

// cutReserve is the room kept for the line that says what was cut.
const cutReserve = 64

func (c *capped) half() int { return (c.max - cutReserve) / 2 }

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	c.total += n
	if room := c.half() - len(c.head); room > 0 {
		take := min(room, len(p))
		c.head = append(c.head, p[:take]...)
		p = p[take:]
	}
	c.tail = append(c.tail, p...)
	if len(c.tail) > 2*c.half() {
		c.tail = append([]byte(nil), c.tail[len(c.tail)-c.half():]...)
	}
	return n, nil
}

func (c *capped) String() string {
	if c.total <= c.max {
		return string(c.head) + string(c.tail)
	}
	tail := c.tail
	if len(tail) > c.half() {
		tail = tail[len(tail)-c.half():]
	}
	cut := c.total - len(c.head) - len(tail)
	return string(c.head) + fmt.Sprintf("\n[… %d bytes cut …]\n", cut) + string(tail)
}
