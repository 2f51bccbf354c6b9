package check

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"
)

// Run runs c until it passes, its retry deadline passes or ctx ends. The
// attempts are Retry.Interval apart, measured from the end of one to the
// start of the next; the last starts at the deadline at the latest, so Run
// takes no longer than the deadline plus one attempt's timeout.
//
// Result.Error says why the last attempt failed. Run has no other error:
// a check that cannot be run (a template that fails, a URL that does not
// parse) fails like one whose host does not answer, and is tried again.
func Run(ctx context.Context, c Check, v Vars) Result {
	c = c.withDefaults()
	start := time.Now()
	deadline := start.Add(c.Retry.Deadline)
	res := Result{Name: c.Name}
	for {
		res.Attempts++
		steps, err := attempt(ctx, c, v)
		res.Steps = steps
		if err == nil {
			res.OK, res.Error = true, ""
			break
		}
		res.Error = err.Error()
		now := time.Now()
		if ctx.Err() != nil || !now.Before(deadline) {
			break
		}
		if !sleep(ctx, min(c.Retry.Interval, deadline.Sub(now))) {
			res.Error += fmt.Sprintf(" (then, waiting to retry: %v)", context.Cause(ctx))
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

// attempt runs c once.
func attempt(ctx context.Context, c Check, v Vars) ([]StepResult, error) {
	switch c.Type {
	case TypeHTTP:
		if c.HTTP != nil {
			s := newSession()
			defer s.close()
			_, err := s.do(ctx, c.HTTP, templateData(v, nil))
			return nil, err
		}
	case TypeTCP:
		if c.TCP != nil {
			return nil, dialTCP(ctx, c.TCP, templateData(v, nil))
		}
	case TypeCommand:
		if c.Command != nil {
			return nil, runCommand(ctx, c.Command, templateData(v, nil))
		}
	case TypeScenario:
		if len(c.Scenario) > 0 {
			return runScenario(ctx, c.Scenario, v)
		}
	}
	return nil, fmt.Errorf("check type %q is unknown or has no settings: checks come from Decode", c.Type)
}

// sleep waits for d and reports whether ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// withDefaults fills in what a Check built in Go rather than decoded may
// leave out, without changing the caller's values.
func (c Check) withDefaults() Check {
	if c.Retry.Interval <= 0 {
		c.Retry.Interval = DefaultInterval
	}
	httpDefaults := func(h HTTPCheck) HTTPCheck {
		h.Method = cmp.Or(h.Method, "GET")
		h.Timeout = cmp.Or(h.Timeout, DefaultHTTPTimeout)
		if len(h.Status) == 0 {
			h.Status = []int{200}
		}
		return h
	}
	if c.HTTP != nil {
		h := httpDefaults(*c.HTTP)
		c.HTTP = &h
	}
	if c.TCP != nil {
		t := *c.TCP
		t.Timeout = cmp.Or(t.Timeout, DefaultTCPTimeout)
		c.TCP = &t
	}
	if c.Command != nil {
		cmd := *c.Command
		cmd.Timeout = cmp.Or(cmd.Timeout, DefaultCommandTimeout)
		c.Command = &cmd
	}
	if c.Scenario != nil {
		steps := make([]Step, len(c.Scenario))
		for i, s := range c.Scenario {
			s.HTTPCheck = httpDefaults(s.HTTPCheck)
			if s.Name == "" {
				s.Name = "step " + strconv.Itoa(i+1)
			}
			steps[i] = s
		}
		c.Scenario = steps
	}
	return c
}
