package bus_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// wait bounds every wait of these tests for something that should happen
// at once; they never sleep.
const wait = 5 * time.Second

// asyncErrors returns an option that sends a connection's asynchronous
// errors to the channel it returns.
func asyncErrors() (nats.Option, <-chan error) {
	ch := make(chan error, 64)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case ch <- err:
		default:
		}
	}), ch
}

// waitViolation waits for a permissions violation whose message holds
// subject.
func waitViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
			t.Logf("other error: %v", err)
		case <-timeout:
			t.Fatalf("no permissions violation for %q after %v", subject, wait)
		}
	}
}

// noError checks that errs holds no error.
func noError(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		t.Errorf("unexpected asynchronous error: %v", err)
	default:
	}
}

// nextMsg returns the next message of sub.
func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(wait)
	if err != nil {
		t.Fatalf("next message on %s: %v", sub.Subject, err)
	}
	return m
}

func subscribe(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	return sub
}

// flush waits until the server has processed everything nc sent.
func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(wait); err != nil {
		t.Fatal(err)
	}
}

// signal returns a channel and a function that closes it once.
func signal() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	return ch, func() { once.Do(func() { close(ch) }) }
}

// waitFor waits for ch to close, for at most d.
func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not after %v", what, d)
	}
}

func splitTokens(s string) []string { return strings.Split(s, ".") }
