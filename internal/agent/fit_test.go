package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/wire"
)

// TestFit expects a result or a drift report too big for the bus to be
// cut to fit, keeping both ends of what it cuts.
func TestFit(t *testing.T) {
	const limit = 64 << 10
	// Control characters take six bytes each in JSON.
	out := "first line\n" + strings.Repeat("\x01", 100<<10) + "last line\n"
	data, _ := json.Marshal(wire.Result{Job: "j", Status: wire.StatusOK, Output: out})
	got, err := fit(wire.KindResult, data, limit)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Result
	if err := json.Unmarshal(got, &r); err != nil {
		t.Fatal(err)
	}
	if len(got) > limit || !strings.HasPrefix(r.Output, "first line\n") || !strings.HasSuffix(r.Output, "last line\n") || !strings.Contains(r.Output, "bytes cut") || r.Job != "j" {
		t.Errorf("result of %d bytes, output %.40q…", len(got), r.Output)
	}

	changes, _ := json.Marshal([]engine.Result{
		{ID: "file:/a", Status: engine.Changed, Diff: &promise.Diff{Content: "-a\n" + strings.Repeat("+x\n", 50<<10)}},
		{ID: "file:/b", Status: engine.Changed, Diff: &promise.Diff{Content: "-b\n+c\n"}},
	})
	data, _ = json.Marshal(wire.Drift{ID: "d", Time: time.Now(), Trigger: triggerWatch, Result: wire.StatusChanged, Changes: changes})
	got, err = fit(wire.KindDrift, data, limit)
	if err != nil {
		t.Fatal(err)
	}
	var d wire.Drift
	if err := json.Unmarshal(got, &d); err != nil {
		t.Fatal(err)
	}
	var rs []engine.Result
	if err := json.Unmarshal(d.Changes, &rs); err != nil {
		t.Fatal(err)
	}
	if len(got) > limit || len(rs) != 2 || !strings.Contains(rs[0].Diff.Content, "bytes cut") || rs[1].Diff.Content != "-b\n+c\n" {
		t.Errorf("drift of %d bytes: %s", len(got), d.Changes[:200])
	}

	small := []byte(`{"job":"j"}`)
	if got, _ := fit(wire.KindResult, small, limit); string(got) != string(small) {
		t.Errorf("a small result changed: %s", got)
	}
}

// TestBigOutput expects a job with more output than the bus takes in one
// message to stream it all and deliver its result, cut.
func TestBigOutput(t *testing.T) {
	srv, _ := startFleet(t)
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "big", Kind: wire.JobRun, Timeout: time.Minute,
		Argv: []string{"sh", "-c", "echo begin; head -c 3000000 /dev/zero | tr '\\0' '\\1'; echo; echo end"}})
	r := waitResult(t, srv, "big")
	if r.Status != wire.StatusOK || !strings.HasPrefix(r.Output, "begin\n") || !strings.HasSuffix(r.Output, "end\n") ||
		!strings.Contains(r.Output, "bytes cut") || len(r.Output) > wire.MaxOutput {
		t.Errorf("status %s, %d bytes of output", r.Status, len(r.Output))
	}
	if n := len(srv.output("big")); n < 3000000 {
		t.Errorf("%d bytes streamed, want all of it", n)
	}
}
