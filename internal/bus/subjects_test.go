package bus_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bus"
)

func TestSubjects(t *testing.T) {
	for _, tt := range []struct {
		name, got, want string
	}{
		{name: "Down", got: bus.Down("web-1", "job"), want: "phenix.down.web-1.job"},
		{name: "Down dotted", got: bus.Down("web1.example.com", "job"), want: "phenix.down.web1~example~com.job"},
		{name: "Down kind of two tokens", got: bus.Down("a", "policy.push"), want: "phenix.down.a.policy.push"},
		{name: "Up", got: bus.Up("web-1", "results"), want: "phenix.up.web-1.results"},
		{name: "Up dotted", got: bus.Up("web.1", "results"), want: "phenix.up.web~1.results"},
		{name: "UpAll", got: bus.UpAll("results"), want: "phenix.up.*.results"},
		{name: "DownAll", got: bus.DownAll("job"), want: "phenix.down.*.job"},
		{name: "InboxPrefix", got: bus.InboxPrefix("web-1"), want: "_INBOX.web-1"},
		{name: "InboxPrefix dotted", got: bus.InboxPrefix("a.b"), want: "_INBOX.a~b"},
		{name: "Token", got: bus.Token("a.b.c"), want: "a~b~c"},
		{name: "HostOfToken", got: bus.HostOfToken("a~b~c"), want: "a.b.c"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseUp(t *testing.T) {
	type result struct {
		ID, Kind string
		OK       bool
	}
	for _, tt := range []struct {
		subject string
		want    result
	}{
		{subject: "phenix.up.web-1.results", want: result{"web-1", "results", true}},
		{subject: "phenix.up.web1~example~com.facts.full", want: result{"web1.example.com", "facts.full", true}},
		{subject: bus.Up("a.b", "x"), want: result{"a.b", "x", true}},
		{subject: "phenix.up.web.1.results", want: result{"web", "1.results", true}},
		{subject: "phenix.up.web-1", want: result{}},
		{subject: "phenix.up.web-1.", want: result{}},
		{subject: "phenix.up..results", want: result{}},
		{subject: "phenix.down.web-1.results", want: result{}},
		{subject: "", want: result{}},
	} {
		id, kind, ok := bus.ParseUp(tt.subject)
		if diff := cmp.Diff(tt.want, result{id, kind, ok}); diff != "" {
			t.Errorf("ParseUp(%q) (-want +got):\n%s", tt.subject, diff)
		}
	}
}

func TestReplyOf(t *testing.T) {
	for _, tt := range []struct {
		id, reply string
		want      bool
	}{
		{id: "a", reply: "_INBOX.a.xyz", want: true},
		{id: "a", reply: "_INBOX.a.xyz.1", want: true},
		{id: "a.b", reply: "_INBOX.a~b.xyz", want: true},
		{id: "a", reply: "_INBOX.a", want: false},
		{id: "a", reply: "_INBOX.ab.xyz", want: false},
		{id: "a", reply: "_INBOX.b.xyz", want: false},
		{id: "a", reply: "phenix.down.b.job", want: false},
		{id: "a", reply: "_INBOX.SERVER.xyz", want: false},
		{id: "a", reply: "", want: false},
	} {
		if got := bus.ReplyOf(tt.id, tt.reply); got != tt.want {
			t.Errorf("ReplyOf(%q, %q) = %v, want %v", tt.id, tt.reply, got, tt.want)
		}
	}
}
