package bus_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
)

// TestRequestReply has the server ask a host on its down subject, and the
// host ask the server on its up subject, each answering the other.
func TestRequestReply(t *testing.T) {
	for _, id := range []string{"web-1", "web1.example.com"} {
		t.Run(id, func(t *testing.T) {
			env := bustest.NewServer(t)
			srv := env.ConnectServer(t)
			opt, errs := asyncErrors()
			agent := env.Connect(t, id, opt)

			if _, err := agent.Subscribe(bus.Down(id, "ping"), func(m *nats.Msg) {
				m.Respond(append([]byte("pong "), m.Data...))
			}); err != nil {
				t.Fatal(err)
			}
			flush(t, agent)
			resp, err := srv.Request(bus.Down(id, "ping"), []byte("1"), wait)
			if err != nil {
				t.Fatalf("server request: %v", err)
			}
			if got := string(resp.Data); got != "pong 1" {
				t.Errorf("server got %q, want %q", got, "pong 1")
			}

			if _, err := srv.Subscribe(bus.UpAll("hello"), func(m *nats.Msg) {
				from, _, ok := bus.ParseUp(m.Subject)
				if !ok || !bus.ReplyOf(from, m.Reply) {
					t.Errorf("request on %s with reply %s", m.Subject, m.Reply)
					return
				}
				m.Respond([]byte("hello " + from))
			}); err != nil {
				t.Fatal(err)
			}
			flush(t, srv)
			resp, err = agent.Request(bus.Up(id, "hello"), nil, wait)
			if err != nil {
				t.Fatalf("host request: %v", err)
			}
			if got, want := string(resp.Data), "hello "+id; got != want {
				t.Errorf("host got %q, want %q", got, want)
			}
			noError(t, errs)
		})
	}
}

// TestRespondOnce expects a host to answer a request once only.
func TestRespondOnce(t *testing.T) {
	env := bustest.NewServer(t)
	srv := env.ConnectServer(t)
	opt, errs := asyncErrors()
	agent := env.Connect(t, "a", opt)
	reqs := subscribe(t, agent, bus.Down("a", "job"))
	replies := subscribe(t, srv, bus.ServerInboxPrefix+".>")

	if err := srv.PublishRequest(bus.Down("a", "job"), bus.ServerInboxPrefix+".r1", nil); err != nil {
		t.Fatal(err)
	}
	m := nextMsg(t, reqs)
	for _, data := range []string{"first", "second"} {
		if err := m.Respond([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, agent)
	waitViolation(t, errs, bus.ServerInboxPrefix+".r1")
	if got := string(nextMsg(t, replies).Data); got != "first" {
		t.Errorf("first reply %q, want %q", got, "first")
	}
	// A fence: this reply comes after the second one in the host's stream.
	if err := srv.PublishRequest(bus.Down("a", "job"), bus.ServerInboxPrefix+".r2", nil); err != nil {
		t.Fatal(err)
	}
	if err := nextMsg(t, reqs).Respond([]byte("fence")); err != nil {
		t.Fatal(err)
	}
	if got := string(nextMsg(t, replies).Data); got != "fence" {
		t.Errorf("reply after the fence %q, want %q (the second reply went through)", got, "fence")
	}
}

// TestPublishConfined has host a publish where it may not: each attempt is
// a permissions violation, and the server, listening to every subject,
// sees only what a published on its own subjects.
func TestPublishConfined(t *testing.T) {
	env := bustest.NewServer(t)
	srv := env.ConnectServer(t)
	all := subscribe(t, srv, ">")
	results := subscribe(t, srv, bus.UpAll("results"))
	env.Connect(t, "b")
	env.Connect(t, "a.1")
	opt, errs := asyncErrors()
	a := env.Connect(t, "a", opt)

	for _, subject := range []string{
		bus.Up("b", "results"),
		bus.Up("a.1", "results"), // phenix.up.a~1.results: "a" cannot pass for "a.1"
		bus.Down("a", "job"),
		bus.Down("b", "job"),
		bus.InboxPrefix("b") + ".x",
		bus.InboxPrefix("a") + ".x",
		bus.ServerInboxPrefix + ".x",
		"phenix.up.a",
		"phenix.results",
		"other",
	} {
		t.Run(subject, func(t *testing.T) {
			if err := a.Publish(subject, []byte("forged")); err != nil {
				t.Fatal(err)
			}
			if err := a.Publish(bus.Up("a", "results"), []byte("fence")); err != nil {
				t.Fatal(err)
			}
			flush(t, a)
			waitViolation(t, errs, subject)
			// Messages of one publisher arrive in order: the fence comes
			// first only if the forged message went nowhere.
			for _, sub := range []*nats.Subscription{all, results} {
				m := nextMsg(t, sub)
				if m.Subject != bus.Up("a", "results") || string(m.Data) != "fence" {
					t.Errorf("%s got %q on %s, want the fence", sub.Subject, m.Data, m.Subject)
				}
			}
		})
	}

	// What "a" may publish reaches the server, which tells who sent it.
	for _, subject := range []string{bus.Up("a", "results"), "phenix.up.a.1.results"} {
		if err := a.Publish(subject, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		m := nextMsg(t, all)
		if id, _, ok := bus.ParseUp(m.Subject); m.Subject != subject || id != "a" || !ok {
			t.Errorf("server got %s (host %q), want %s from host a", m.Subject, id, subject)
		}
	}
	noError(t, errs)
}

// TestSubscribeConfined has host a subscribe where it may not: each
// subscription is a permissions violation and receives nothing.
func TestSubscribeConfined(t *testing.T) {
	env := bustest.NewServer(t)
	srv := env.ConnectServer(t)
	opt, errs := asyncErrors()
	a := env.Connect(t, "a", opt)
	own := subscribe(t, a, bus.Down("a", "fence"))

	for _, tt := range []struct {
		subject string // to subscribe to
		publish string // a subject it matches
	}{
		{subject: bus.Down("b", ">"), publish: bus.Down("b", "job")},
		{subject: bus.Down("b", "job"), publish: bus.Down("b", "job")},
		{subject: bus.Down("a.1", ">"), publish: bus.Down("a.1", "job")},
		{subject: bus.DownAll("job"), publish: bus.Down("b", "job")},
		{subject: ">", publish: bus.Down("b", "job")},
		{subject: "phenix.>", publish: bus.Up("b", "results")},
		{subject: bus.UpAll("results"), publish: bus.Up("b", "results")},
		{subject: bus.Up("a", ">"), publish: bus.Up("a", "results")},
		{subject: "_INBOX.>", publish: bus.ServerInboxPrefix + ".x"},
		{subject: bus.InboxPrefix("b") + ".>", publish: bus.InboxPrefix("b") + ".x"},
		{subject: bus.ServerInboxPrefix + ".>", publish: bus.ServerInboxPrefix + ".x"},
	} {
		t.Run(tt.subject, func(t *testing.T) {
			sub, err := a.SubscribeSync(tt.subject)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			flush(t, a)
			waitViolation(t, errs, tt.subject)
			if err := srv.Publish(tt.publish, []byte("secret")); err != nil {
				t.Fatal(err)
			}
			if err := srv.Publish(bus.Down("a", "fence"), []byte("fence")); err != nil {
				t.Fatal(err)
			}
			flush(t, srv)
			nextMsg(t, own)
			if n, _, _ := sub.Pending(); n != 0 {
				t.Errorf("the refused subscription %s received %d messages", tt.subject, n)
			}
		})
	}
	noError(t, errs)
}

// TestServerEverywhere expects the server identity to publish and
// subscribe on any subject.
func TestServerEverywhere(t *testing.T) {
	env := bustest.NewServer(t)
	opt1, errs1 := asyncErrors()
	opt2, errs2 := asyncErrors()
	srv1 := env.ConnectServer(t, opt1)
	srv2 := env.ConnectServer(t, opt2)
	for _, subject := range []string{">", "phenix.>", bus.DownAll("job"), bus.UpAll("results"), "_INBOX.>", "other.>"} {
		sub := subscribe(t, srv1, subject)
		for _, pub := range []string{bus.Down("a", "job"), bus.Up("a", "results"), bus.InboxPrefix("a") + ".x", bus.ServerInboxPrefix + ".x", "other.x"} {
			if !matches(subject, pub) {
				continue
			}
			if err := srv2.Publish(pub, []byte(pub)); err != nil {
				t.Fatal(err)
			}
			if m := nextMsg(t, sub); m.Subject != pub {
				t.Errorf("subscription %s got %s, want %s", subject, m.Subject, pub)
			}
		}
		sub.Unsubscribe()
	}
	noError(t, errs1)
	noError(t, errs2)
}

// matches reports whether subject matches the subscription sub, which has
// at most one wildcard: a final ">" or a "*" token.
func matches(sub, subject string) bool {
	st, pt := splitTokens(sub), splitTokens(subject)
	for i, tok := range st {
		if tok == ">" {
			return len(pt) > i
		}
		if i >= len(pt) || (tok != "*" && tok != pt[i]) {
			return false
		}
	}
	return len(st) == len(pt)
}
