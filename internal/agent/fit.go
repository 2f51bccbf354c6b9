package agent

import (
	"encoding/json"
	"fmt"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/wire"
)

// payloadMargin is the room left in a bus message for the protocol around
// the data (subject, reply, headers).
const payloadMargin = 4 << 10

// fit returns data, a Result or a Drift as JSON, cut to at most limit
// bytes: the bus refuses a bigger message, and a message it refuses would
// be retried forever. A result's output is cut in the middle first (JSON
// escapes can make the output kept, wire.MaxOutput, bigger than the bus
// takes); then its detail or the drift's diffs are cut, saying so.
func fit(kind string, data []byte, limit int) ([]byte, error) {
	if len(data) <= limit {
		return data, nil
	}
	switch kind {
	case wire.KindResult:
		var r wire.Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		for range 8 {
			excess := len(data) - limit
			if excess <= 0 {
				return data, nil
			}
			switch {
			case len(r.Output) > 0:
				r.Output = shrink(r.Output, excess)
			case len(r.Detail) > 64:
				r.Detail, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("the report, %d bytes, is too big for the bus", len(r.Detail))})
			}
			var err error
			if data, err = json.Marshal(r); err != nil {
				return nil, err
			}
		}
	case wire.KindDrift:
		var d wire.Drift
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, err
		}
		var rs []engine.Result
		if err := json.Unmarshal(d.Changes, &rs); err != nil {
			return nil, err
		}
		for range 8 {
			excess := len(data) - limit
			if excess <= 0 {
				return data, nil
			}
			// Cut the biggest diff in the middle.
			big := -1
			for i, r := range rs {
				if r.Diff != nil && (big < 0 || len(r.Diff.Content) > len(rs[big].Diff.Content)) {
					big = i
				}
			}
			if big < 0 || len(rs[big].Diff.Content) == 0 {
				break
			}
			diff := *rs[big].Diff
			diff.Content = shrink(diff.Content, excess)
			rs[big].Diff = &diff
			var err error
			if d.Changes, err = json.Marshal(rs); err != nil {
				return nil, err
			}
			if data, err = json.Marshal(d); err != nil {
				return nil, err
			}
		}
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s of %d bytes is too big for the bus (%d)", kind, len(data), limit)
	}
	return data, nil
}

// shrink cuts s in the middle so that its JSON is excess bytes shorter,
// with some room: escapes make the JSON of some text longer than the text.
func shrink(s string, excess int) string {
	enc, _ := json.Marshal(s)
	want := (len(enc)-excess)*15/16 - 64
	return cutMiddle(s, int(int64(len(s))*int64(max(want, 0))/int64(len(enc))))
}

// cutMiddle returns s cut to about n bytes: its first and last halves
// around a line that says how much was cut.
func cutMiddle(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	half := n / 2
	return s[:half] + fmt.Sprintf("\n[… %d bytes cut …]\n", len(s)-2*half) + s[len(s)-half:]
}
