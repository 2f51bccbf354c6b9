package promise

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// cronField is one of the five time fields of a crontab entry.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i (jan is 1, sun is 0)
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	// 7 is Sunday as well as 0.
	{name: "weekday", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronSpecials are the @ shorthands cron accepts instead of time fields.
var cronSpecials = []string{"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

func isCronSpecial(s string) bool { return slices.Contains(cronSpecials, s) }

// check validates a field: a comma-separated list of "*", values and
// ranges, each optionally followed by "/step" ("*/15", "8-18/2").
func (f cronField) check(s string) error {
	if s == "" {
		return fmt.Errorf("empty: expected * or a value from %d to %d", f.min, f.max)
	}
	for _, item := range strings.Split(s, ",") {
		if err := f.checkItem(item); err != nil {
			return err
		}
	}
	return nil
}

func (f cronField) checkItem(item string) error {
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > f.max {
			return fmt.Errorf("bad step %q in %q: expected a number from 1 to %d", step, item, f.max)
		}
	}
	if rng == "*" {
		return nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	a, err := f.value(lo, item)
	if err != nil {
		return err
	}
	if !isRange {
		if hasStep {
			return fmt.Errorf("bad %q: a step goes after * or a range, for example %s-%d/%s", item, lo, f.max, step)
		}
		return nil
	}
	b, err := f.value(hi, item)
	if err != nil {
		return err
	}
	if a > b {
		return fmt.Errorf("bad range %q: %s comes after %s", item, lo, hi)
	}
	return nil
}

// value parses a number or a name and checks its range.
func (f cronField) value(s, item string) (int, error) {
	if i := slices.Index(f.names, strings.ToLower(s)); i >= 0 {
		return f.min + i, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		msg := fmt.Sprintf("bad value %q in %q: expected a number from %d to %d", s, item, f.min, f.max)
		if f.names != nil {
			msg += " or a name such as " + f.names[1]
			if m := Suggest(strings.ToLower(s), f.names); m != "" && len(s) > 1 {
				msg += fmt.Sprintf(" (did you mean %q?)", m)
			}
		}
		return 0, fmt.Errorf("%s", msg)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%d in %q is out of range %d-%d", n, item, f.min, f.max)
	}
	return n, nil
}
