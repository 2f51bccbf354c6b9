package bus

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNATSLogger(t *testing.T) {
	var buf bytes.Buffer
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: levelTrace,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	l.Tracef("t %d", 1)
	l.Debugf("d %d", 2)
	l.Noticef("n %d", 3)
	l.Warnf("w %d", 4)
	l.Errorf("e %d", 5)
	l.Fatalf("f %d", 6)
	want := `level=DEBUG-4 msg="t 1"
level=DEBUG msg="d 2"
level=INFO msg="n 3"
level=WARN msg="w 4"
level=ERROR msg="e 5"
level=ERROR msg="f 6" fatal=true
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if got := l.lastFatal(); got != "f 6" {
		t.Errorf("lastFatal() = %q, want %q", got, "f 6")
	}
	if !l.enabled(levelTrace) {
		t.Errorf("trace not enabled")
	}
}

func TestNATSLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l.Tracef("t")
	l.Debugf("d")
	if buf.Len() != 0 {
		t.Errorf("an Info logger wrote %q", buf.String())
	}
	if l.enabled(slog.LevelDebug) {
		t.Errorf("debug enabled on an Info logger")
	}
}
