package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/wire"
)

func TestMaskerValues(t *testing.T) {
	vars := map[string]any{
		"pw":    "hunter2",
		"short": "x",
		"empty": "",
		"port":  float64(5432),
		"db":    map[string]any{"token": "tok-123", "host": "db1"},
		"keys":  []any{"k1-aaa", "k2-bbb"},
		"plain": "visible",
	}
	m := newMasker(vars, []string{"pw", "short", "empty", "port", "db.token", "keys", "missing"})
	got := m.String("pw=hunter2 x=x port=5432 token=tok-123 keys=k1-aaa,k2-bbb plain=visible host=db1")
	want := "pw=hunter2 x=x port=5432 token=tok-123 keys=k1-aaa,k2-bbb plain=visible host=db1"
	for _, s := range []string{"hunter2", "x", "5432", "tok-123", "k1-aaa", "k2-bbb"} {
		want = strings.ReplaceAll(want, s, journal.Masked)
	}
	// Replacing "x" after the others would also hit "********"'s
	// neighbours; the masker replaces in one pass.
	if got != want {
		t.Errorf("masked\n%q\nwant\n%q", got, want)
	}
	if newMasker(vars, []string{"plain"}).String("plain=visible") != "plain="+journal.Masked {
		t.Errorf("plain not masked")
	}
	if newMasker(vars, nil) != nil || newMasker(vars, []string{"empty"}) != nil {
		t.Errorf("a masker with nothing to mask is not nil")
	}
	var none *masker
	if none.String("hunter2") != "hunter2" {
		t.Errorf("nil masker changed its input")
	}
}

// TestMaskerLongestFirst expects a secret that holds another to be masked
// whole.
func TestMaskerLongestFirst(t *testing.T) {
	m := newMasker(map[string]any{"a": "abc", "b": "abcdef"}, []string{"a", "b"})
	if got := m.String("abcdef abc"); got != journal.Masked+" "+journal.Masked {
		t.Errorf("got %q", got)
	}
}

// TestMaskerStream feeds output in every split: the secret never shows,
// whatever the writes, and nothing else is lost or changed.
func TestMaskerStream(t *testing.T) {
	m := newMasker(map[string]any{"s": "hunter2"}, []string{"s"})
	text := "pw=hunter2; ünïcödé hunter hunter2hunter2 end"
	want := m.String(text)
	for cut1 := 0; cut1 <= len(text); cut1++ {
		for cut2 := cut1; cut2 <= len(text); cut2++ {
			var got strings.Builder
			var pending []byte
			for _, piece := range []string{text[:cut1], text[cut1:cut2], text[cut2:]} {
				pending = append(pending, piece...)
				s, rest := m.stream(pending, false)
				if strings.Contains(s, "hunter2") {
					t.Fatalf("cuts %d,%d: sent %q", cut1, cut2, s)
				}
				if !strings.HasSuffix(s, "\uFFFD") && strings.ContainsRune(s, '\uFFFD') {
					t.Fatalf("cuts %d,%d: split a character: %q", cut1, cut2, s)
				}
				got.WriteString(s)
				pending = append([]byte(nil), rest...)
			}
			s, rest := m.stream(pending, true)
			got.WriteString(s)
			if len(rest) != 0 || got.String() != want {
				t.Fatalf("cuts %d,%d: got %q (rest %q), want %q", cut1, cut2, got.String(), rest, want)
			}
		}
	}
}

// TestStreamUTF8 expects a stream without secrets to hold back only an
// incomplete character.
func TestStreamUTF8(t *testing.T) {
	var m *masker
	b := []byte("né")
	s, rest := m.stream(b[:2], false) // "n" and the first byte of "é"
	if s != "n" || string(rest) != string(b[1:2]) {
		t.Errorf("got %q, rest %q", s, rest)
	}
	s, rest = m.stream(b, false)
	if s != "né" || len(rest) != 0 {
		t.Errorf("got %q, rest %q", s, rest)
	}
}

func TestCapped(t *testing.T) {
	c := capped{max: 200}
	half := c.half()
	c.Write([]byte(strings.Repeat("a", 50)))
	if c.String() != strings.Repeat("a", 50) {
		t.Fatalf("short output changed: %q", c.String())
	}
	c.Write([]byte(strings.Repeat("b", 1000)))
	c.Write([]byte(strings.Repeat("c", 30)))
	got := c.String()
	want := strings.Repeat("a", 50) + strings.Repeat("b", half-50) +
		fmt.Sprintf("\n[… %d bytes cut …]\n", 1080-2*half) + strings.Repeat("b", half-30) + strings.Repeat("c", 30)
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if len(got) > c.max {
		t.Errorf("%d bytes kept, more than %d", len(got), c.max)
	}
}

// TestOutputCoalesces expects many small writes to be sent as few
// messages, in order, and big output as soon as the limit is reached.
func TestOutputCoalesces(t *testing.T) {
	var sent []wire.Output
	o := newOutput("j", nil, func(w wire.Output) { sent = append(sent, w) }, time.Hour, 100)
	w := o.stream("stdout")
	for range 10 {
		w.Write([]byte("0123456789"))
	}
	if len(sent) != 1 || len(sent[0].Data) != 100 {
		t.Fatalf("after 100 bytes: %d messages", len(sent))
	}
	w.Write([]byte("tail"))
	o.stream("stderr").Write([]byte("oops"))
	out := o.close()
	want := []wire.Output{
		{Job: "j", Seq: 1, Stream: "stdout", Data: strings.Repeat("0123456789", 10)},
		{Job: "j", Seq: 2, Stream: "stdout", Data: "tail"},
		{Job: "j", Seq: 3, Stream: "stderr", Data: "oops"},
	}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if out != strings.Repeat("0123456789", 10)+"tailoops" {
		t.Errorf("kept %q", out)
	}
}

func TestMaskResults(t *testing.T) {
	m := newMasker(map[string]any{"s": "hunter2"}, []string{"s"})
	in := []engine.Result{{
		ID: "file:/etc/x", Status: engine.Changed, Error: "bad hunter2",
		Diff: &promise.Diff{Content: "-a\n+hunter2\n", Command: "echo hunter2", Changes: []promise.Change{{Field: "content", Before: "hunter2", After: "x"}}},
	}}
	out := m.results(in)
	if in[0].Diff.Content != "-a\n+hunter2\n" || in[0].Error != "bad hunter2" || in[0].Diff.Changes[0].Before != "hunter2" {
		t.Errorf("results changed the input: %+v", in[0])
	}
	want := []engine.Result{{
		ID: "file:/etc/x", Status: engine.Changed, Error: "bad ********",
		Diff: &promise.Diff{Content: "-a\n+********\n", Command: "echo ********", Changes: []promise.Change{{Field: "content", Before: "********", After: "x"}}},
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("masked (-want +got):\n%s", diff)
	}
}

func TestJitterFor(t *testing.T) {
	for size, want := range map[int]time.Duration{0: time.Second, 500: time.Second, 5000: 5 * time.Second, 12500: 12500 * time.Millisecond, 100000: 30 * time.Second} {
		if got := jitterFor(size); got != want {
			t.Errorf("jitterFor(%d) = %v, want %v", size, got, want)
		}
	}
}

// TestSplay expects the schedule of a host to be stable and within one
// interval, and hosts to be spread.
func TestSplay(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := map[time.Duration]bool{}
	for _, id := range []string{"web-1", "web-2", "db-1"} {
		a := &agent{tune: defaultTuning(), ident: identity{id: id}}
		d := a.untilNext(now)
		if d <= 0 || d > a.tune.defaultInterval {
			t.Errorf("%s: next convergence in %v", id, d)
		}
		if again := a.untilNext(now.Add(d)); again != a.tune.defaultInterval {
			t.Errorf("%s: at its time, the next is in %v, want a whole interval", id, again)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("hosts converge at the same time")
	}
}

// TestStreamHoldsBackOnlyPrefixes expects a stream to wait only for an
// end that may begin a secret value.
func TestStreamHoldsBackOnlyPrefixes(t *testing.T) {
	m := newMasker(map[string]any{"a": "abc", "b": "abcdef"}, []string{"a", "b"})
	for _, tt := range []struct{ in, sent, kept string }{
		{"hello\n", "hello\n", ""},
		{"x ab", "x ", "ab"},
		{"x abc", "x ", "abc"}, // abcdef may follow
		{"x abcd!", "x ********d!", ""},
		{"x abcdef", "x ********", ""},
	} {
		sent, kept := m.stream([]byte(tt.in), false)
		if sent != tt.sent || string(kept) != tt.kept {
			t.Errorf("stream(%q) = %q, %q; want %q, %q", tt.in, sent, kept, tt.sent, tt.kept)
		}
	}
}
