package promise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Line promises that one line is present in a file, or absent from it,
// leaving the rest of the file as it is, byte for byte.
//
//   - line: /etc/ssh/sshd_config
//     text: "PermitRootLogin no"
//     match: '^#?PermitRootLogin\s'
//     insert_before: '^Match\s'
//
// With state present (the default), the last line matching match is
// replaced by text. When no line matches (or match is not given) and no
// line equals text, text is added: after the last line matching
// insert_after, before the first line matching insert_before, or at the end
// of the file when neither is given or neither matches. Those positions
// keep a line inside a block; insert_before: '^' puts it first.
//
// With state absent, every line matching match is removed or, when match is
// not given, every line equal to text.
//
// Lines are compared without their line ending. A file whose first line
// ends in "\r\n" gets "\r\n" endings for the lines added; a file with no
// newline at its end keeps none. The file keeps its mode and owner, is
// written atomically, and its previous content is backed up unless backup
// is false. The file must exist unless create is true (it is then created
// with mode 0644).
type Line struct {
	Path         string `yaml:"line"`
	Text         string `yaml:"text"`          // the whole line, without its newline
	Match        string `yaml:"match"`         // a regexp: the last matching line is replaced
	InsertAfter  string `yaml:"insert_after"`  // a regexp: add after the last matching line
	InsertBefore string `yaml:"insert_before"` // a regexp: add before the first matching line
	State        string `yaml:"state"`         // present (default) or absent
	Create       bool   `yaml:"create"`        // create the file when it does not exist
	Backup       *bool  `yaml:"backup"`        // keep a copy of the replaced content (default true)

	match, after, before *regexp.Regexp
}

var (
	_ Resource     = (*Line)(nil)
	_ Validator    = (*Line)(nil)
	_ AutoRequirer = (*Line)(nil)
	_ PathClaimer  = (*Line)(nil)
)

// Validate checks the attributes and compiles the regexps.
func (r *Line) Validate() []FieldError {
	errs := checkState(r.State, "present", "absent")
	errs = append(errs, checkAbsPath("line", r.Path)...)
	if strings.ContainsAny(r.Text, "\r\n") {
		errs = append(errs, Errf("text", "must be a single line: it contains a line break (use one line promise per line, or a file promise)"))
	}
	if r.State == "absent" {
		if r.Text == "" && r.Match == "" {
			errs = append(errs, Errf("text", "missing: an absent line needs text (the line to remove) or match (a regexp for the lines to remove)"))
		}
		if r.InsertAfter != "" || r.InsertBefore != "" || r.Create {
			errs = append(errs, Errf("state", "an absent line takes no insert_after, insert_before or create"))
		}
	} else if r.Text == "" {
		errs = append(errs, Errf("text", "missing: expected the whole line wanted, for example \"PermitRootLogin no\""))
	}
	if r.InsertAfter != "" && r.InsertBefore != "" {
		errs = append(errs, Errf("insert_after", "give only one of insert_after and insert_before"))
	}
	errs = append(errs, r.compile()...)
	return errs
}

// compile compiles the regexps that are set.
func (r *Line) compile() []FieldError {
	var errs []FieldError
	for _, re := range []struct {
		field, src string
		dst        **regexp.Regexp
	}{
		{"match", r.Match, &r.match},
		{"insert_after", r.InsertAfter, &r.after},
		{"insert_before", r.InsertBefore, &r.before},
	} {
		if re.src == "" || *re.dst != nil {
			continue
		}
		c, err := regexp.Compile(re.src)
		if err != nil {
			errs = append(errs, Errf(re.field, "bad regexp %q: %s", re.src, strings.TrimPrefix(err.Error(), "error parsing regexp: ")))
			continue
		}
		*re.dst = c
	}
	return errs
}

// AutoRequire names the file promise of the same path, so that the line is
// edited after the file is written, and the directories that hold it.
func (r *Line) AutoRequire() []Ref {
	return append(requireParents(r.Path, "", ""), Ref{Type: "file", Subject: r.Path})
}

// ClaimedPaths names the file when the promise may create it, so that a
// purged directory keeps it. A line promise does not otherwise own the
// file it edits.
func (r *Line) ClaimedPaths() []string {
	if r.Create {
		return []string{r.Path}
	}
	return nil
}

// Check compares the file with the promise and shows the edit as a
// unified diff.
func (r *Line) Check(ctx context.Context, env *Env) (*Diff, error) {
	if errs := r.compile(); len(errs) > 0 {
		return nil, errs[0]
	}
	old, exists, err := r.read(env)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if !exists {
		if r.State == "absent" {
			return d, nil
		}
		if !r.Create {
			return nil, fmt.Errorf("%s does not exist: set create: true to create it", r.Path)
		}
		d.Add("state", "absent", "present")
		d.Content = contentDiff(r.Path, nil, r.edit(nil))
		return d, nil
	}
	if edited := r.edit(old); !bytes.Equal(edited, old) {
		d.Content = contentDiff(r.Path, old, edited)
	}
	return d, nil
}

// Apply edits the file, from its content now rather than as Check saw it.
func (r *Line) Apply(ctx context.Context, env *Env, d *Diff) error {
	if errs := r.compile(); len(errs) > 0 {
		return errs[0]
	}
	old, exists, err := r.read(env)
	if err != nil {
		return err
	}
	if !exists && (r.State == "absent" || !r.Create) {
		return nil
	}
	edited := r.edit(old)
	if exists && bytes.Equal(edited, old) {
		return nil
	}
	p := env.Path(r.Path)
	perm, own := os.FileMode(defaultFileMode), keepOwner
	if exists {
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		perm, own = unixPerm(st.Mode()), statOwner(st)
		if err := backup(env, r.Path, r.Backup == nil || *r.Backup); err != nil {
			return err
		}
	} else if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err // create: true makes missing parents, as a file promise does
	}
	return writeAtomicBytes(p, edited, perm, own)
}

// read returns the content of the file, and whether it exists.
func (r *Line) read(env *Env) ([]byte, bool, error) {
	p := env.Path(r.Path)
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is %s: a line promise edits regular files only", r.Path, pathKind(st.Mode()))
	}
	data, err := os.ReadFile(p)
	return data, true, err
}

// edit returns data with the promise kept. Lines keep their own endings.
func (r *Line) edit(data []byte) []byte {
	lines := splitLines(string(data))
	if r.State == "absent" {
		kept := lines[:0:0]
		for _, l := range lines {
			if !r.removes(lineBody(l)) {
				kept = append(kept, l)
			}
		}
		return []byte(strings.Join(kept, ""))
	}
	last := -1
	if r.match != nil {
		for i, l := range lines {
			if r.match.MatchString(lineBody(l)) {
				last = i
			}
		}
	}
	if last >= 0 {
		lines[last] = r.Text + lines[last][len(lineBody(lines[last])):]
		return []byte(strings.Join(lines, ""))
	}
	for _, l := range lines {
		if lineBody(l) == r.Text {
			return data
		}
	}
	eol := "\n"
	if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
		eol = "\r\n"
	}
	pos := len(lines)
	switch {
	case r.after != nil:
		for i, l := range lines {
			if r.after.MatchString(lineBody(l)) {
				pos = i + 1
			}
		}
	case r.before != nil:
		for i := len(lines) - 1; i >= 0; i-- {
			if r.before.MatchString(lineBody(lines[i])) {
				pos = i
			}
		}
	}
	add := r.Text + eol
	if pos == len(lines) && pos > 0 && !strings.HasSuffix(lines[pos-1], "\n") {
		// The file has no newline at its end: end the last line, and
		// leave the new one without, as the file was.
		lines[pos-1] += eol
		add = r.Text
	}
	lines = append(lines[:pos], append([]string{add}, lines[pos:]...)...)
	return []byte(strings.Join(lines, ""))
}

// removes reports whether a line (without its ending) is one state absent
// removes.
func (r *Line) removes(body string) bool {
	if r.match != nil {
		return r.match.MatchString(body)
	}
	return body == r.Text
}

// splitLines splits s after each "\n"; the last line may have no ending.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// lineBody strips the line ending, "\n" or "\r\n", from a line.
func lineBody(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}
