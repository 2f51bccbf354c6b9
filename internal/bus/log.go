package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// levelTrace is the slog level of NATS trace lines: every protocol message,
// below Debug, so that a debug log does not show them.
const levelTrace = slog.LevelDebug - 4

// natsLogger writes the log of the NATS server to a slog.Logger:
//
//	Tracef   levelTrace (Debug-4)
//	Debugf   Debug
//	Noticef  Info
//	Warnf    Warn
//	Errorf   Error
//	Fatalf   Error, with fatal=true
//
// A NATS server calls Fatalf when it cannot go on (it cannot listen, for
// example), and expects the logger to end the process; natsLogger does not,
// but remembers the message for Start to return.
type natsLogger struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal string // the last Fatalf message
}

var _ server.Logger = (*natsLogger)(nil)

func (l *natsLogger) Tracef(format string, v ...any)  { l.logf(levelTrace, format, v) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = msg
	l.mu.Unlock()
	l.log.Error(msg, "fatal", true)
}

// lastFatal returns the last message given to Fatalf, or "".
func (l *natsLogger) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// enabled reports whether the logger writes records of level.
func (l *natsLogger) enabled(level slog.Level) bool {
	return l.log.Enabled(context.Background(), level)
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...))
}
