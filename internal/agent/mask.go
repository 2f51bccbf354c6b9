package agent

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/journal"
)

// masker replaces the values of secret vars with journal.Masked in what
// the agent sends: job output, diffs, errors. A nil masker masks nothing.
type masker struct {
	values []string // longest first, so that the longest match wins
	r      *strings.Replacer
}

// newMasker returns the masker of the secrets named in secrets, whose
// values are in vars (a name may be dotted, "db.password", to reach into
// a mapping). A value that is a list or a mapping masks each of its
// scalars. It returns nil when there is nothing to mask.
func newMasker(vars map[string]any, secrets []string) *masker {
	seen := map[string]bool{}
	var values []string
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			for _, e := range v {
				add(e)
			}
		case []any:
			for _, e := range v {
				add(e)
			}
		default:
			s := fmt.Sprint(v)
			if s != "" && !seen[s] {
				seen[s] = true
				values = append(values, s)
			}
		}
	}
	for _, name := range secrets {
		if v, ok := lookupVar(vars, name); ok {
			add(v)
		}
	}
	if len(values) == 0 {
		return nil
	}
	slices.SortFunc(values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, journal.Masked)
	}
	return &masker{values: values, r: strings.NewReplacer(pairs...)}
}

// lookupVar finds var name in vars, by its whole name first, then as a
// dotted path through mappings.
func lookupVar(vars map[string]any, name string) (any, bool) {
	if v, ok := vars[name]; ok {
		return v, true
	}
	cur := any(vars)
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// String returns s with every secret value masked.
func (m *masker) String(s string) string {
	if m == nil || s == "" {
		return s
	}
	return m.r.Replace(s)
}

// stream masks the text of buf that can be sent now and returns it with
// the bytes to keep for later: an end of buf that begins a secret value
// waits for the rest (a value may straddle two writes), and so does an
// incomplete UTF-8 character. final sends everything.
func (m *masker) stream(buf []byte, final bool) (string, []byte) {
	end := len(buf)
	if !final {
		// Do not split a character: when the last one is incomplete, it
		// waits.
		for i := end - 1; i >= 0 && i >= end-utf8.UTFMax; i-- {
			if utf8.RuneStart(buf[i]) {
				if !utf8.FullRune(buf[i:end]) {
					end = i
				}
				break
			}
		}
	}
	if m == nil {
		return string(buf[:end]), buf[end:]
	}
	var b strings.Builder
	i := 0
scan:
	for i < end {
		rest := buf[i:end]
		// Longest first: a longer value that may still come wins over a
		// shorter one that is here.
		for _, v := range m.values {
			switch {
			case len(rest) >= len(v):
				if string(rest[:len(v)]) == v {
					b.WriteString(journal.Masked)
					i += len(v)
					continue scan
				}
			case !final && strings.HasPrefix(v, string(rest)):
				break scan // may be a value cut by the end of the write
			}
		}
		b.WriteByte(buf[i])
		i++
	}
	return b.String(), buf[i:]
}

// results returns a copy of rs with every secret value masked in their
// text: subjects, diffs, errors.
func (m *masker) results(rs []engine.Result) []engine.Result {
	out := slices.Clone(rs)
	if m == nil {
		return out
	}
	for i := range out {
		r := &out[i]
		r.ID = m.String(r.ID)
		r.Subject = m.String(r.Subject)
		r.Refreshed = m.String(r.Refreshed)
		r.Error = m.String(r.Error)
		r.Reason = m.String(r.Reason)
		if r.Diff != nil {
			d := *r.Diff
			d.Content = m.String(d.Content)
			d.Command = m.String(d.Command)
			d.Changes = slices.Clone(d.Changes)
			for j := range d.Changes {
				c := &d.Changes[j]
				c.Field = m.String(c.Field)
				c.Before = m.String(c.Before)
				c.After = m.String(c.After)
			}
			r.Diff = &d
		}
	}
	return out
}

// report returns a copy of rep with every secret value masked.
func (m *masker) report(rep *engine.Report) *engine.Report {
	out := *rep
	out.Results = m.results(rep.Results)
	return &out
}
