package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/selector"
)

// Secret is a value set on the server for the hosts its selector matches.
// A host receives it as a var of that name, masked in every output.
type Secret struct {
	Name, Selector string
	Value          string
}

// Payload is what one host receives of a policy.
type Payload struct {
	Revision string            `json:"revision"` // the policy's Hash
	Bundles  []string          `json:"bundles"`  // names, in the order they apply
	Files    map[string][]byte `json:"files"`    // "bundles/web/app.yml" → content, for those bundles only
	Vars     map[string]any    `json:"vars"`     // merged, secrets included
	Secrets  []string          `json:"secrets"`  // the names of the vars that are secrets, sorted
	Interval time.Duration     `json:"interval"` // how often to re-converge
}

// ForHost returns what host h receives: the bundles whose rules match it,
// in rule order, each once, at its first place; the files of those bundles
// and of no other; and its vars, layered. Each layer replaces whole
// top-level vars of the layers below it: the vars rules whose selector
// matches h, in file order, then hosts.<id>.vars, then the secrets whose
// selector matches h. When several secrets of one name match, the one
// whose selector has the most requirements wins, ties going to the
// greatest selector in canonical form, so the result does not depend on
// the order of secrets. A secret whose selector does not parse is an
// error. Files share their bytes with p: do not modify them.
func (p *Policy) ForHost(h selector.Host, secrets []Secret) (Payload, error) {
	type match struct {
		s   Secret
		sel selector.Selector
	}
	var matched []match
	var errs []error
	for _, s := range secrets {
		if s.Name == "" {
			errs = append(errs, errors.New("secret with no name"))
			continue
		}
		sel, err := selector.Parse(s.Selector)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s: selector %q: %w", s.Name, s.Selector, err))
			continue
		}
		if sel.Match(h) {
			matched = append(matched, match{s, sel})
		}
	}
	if len(errs) > 0 {
		return Payload{}, errors.Join(errs...)
	}
	pl := Payload{
		Revision: p.Hash,
		Bundles:  []string{},
		Files:    map[string][]byte{},
		Vars:     map[string]any{},
		Secrets:  []string{},
		Interval: p.Interval,
	}
	for _, r := range p.rules {
		if !r.sel.Match(h) {
			continue
		}
		for _, b := range r.apply {
			if !slices.Contains(pl.Bundles, b) {
				pl.Bundles = append(pl.Bundles, b)
			}
		}
	}
	for path, data := range p.files {
		if _, rest, ok := strings.Cut(path, "/"); ok {
			if name, _, ok := strings.Cut(rest, "/"); ok && slices.Contains(pl.Bundles, name) {
				pl.Files[path] = data
			}
		}
	}
	for _, l := range p.vars {
		if l.sel.Match(h) {
			for k, v := range l.vars {
				pl.Vars[k] = clone(v)
			}
		}
	}
	for k, v := range p.hosts[h.ID] {
		pl.Vars[k] = clone(v)
	}
	slices.SortStableFunc(matched, func(a, b match) int {
		return cmp.Or(
			strings.Compare(a.s.Name, b.s.Name),
			cmp.Compare(len(a.sel), len(b.sel)),
			strings.Compare(a.sel.String(), b.sel.String()),
			strings.Compare(a.s.Value, b.s.Value),
		)
	})
	for _, m := range matched {
		pl.Vars[m.s.Name] = m.s.Value
		if !slices.Contains(pl.Secrets, m.s.Name) {
			pl.Secrets = append(pl.Secrets, m.s.Name)
		}
	}
	return pl, nil
}

// clone copies the maps and lists of a var, so that a payload shares none
// with the policy.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// Digest is a hash of the payload's content, "sha256:<hex>", stable across
// runs and machines: an agent re-applies when it changes, and the server
// need not send a payload whose digest the agent has. The revision is left
// out, so that a push that changes nothing for a host does not make it
// re-apply. A payload decoded from its JSON has the digest it had.
func (pl Payload) Digest() string {
	c := pl
	c.Revision = ""
	if c.Bundles == nil {
		c.Bundles = []string{}
	}
	if c.Files == nil {
		c.Files = map[string][]byte{}
	}
	if c.Vars == nil {
		c.Vars = map[string]any{}
	}
	if c.Secrets == nil {
		c.Secrets = []string{}
	}
	b, err := json.Marshal(c) // maps are encoded with sorted keys
	if err != nil {
		// Vars that JSON cannot encode never come from a Policy; hash
		// something stable all the same.
		b = fmt.Appendf(nil, "%#v", c)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Write puts the payload's files under dir, replacing what is there in one
// step: it writes them to a new directory beside dir, then swaps the two
// (renameat2 RENAME_EXCHANGE on Linux; elsewhere two renames, with a short
// moment when dir is absent) and removes the old one. It returns the
// directory of each bundle, in order: the paths to give bundle.Load. Paths
// that would leave dir or name no bundle of the payload are refused.
func (pl Payload) Write(dir string) ([]string, error) {
	for _, b := range pl.Bundles {
		if !bundleName.MatchString(b) {
			return nil, fmt.Errorf("payload: bad bundle name %q", b)
		}
	}
	paths := slices.Sorted(maps.Keys(pl.Files))
	for _, p := range paths {
		parts := strings.Split(p, "/")
		if err := checkEntry(p, false); err != nil || len(parts) < 3 || parts[0] != "bundles" || !slices.Contains(pl.Bundles, parts[1]) {
			return nil, fmt.Errorf("payload: file %q is not in a bundle of the payload", p)
		}
	}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	out := make([]string, len(pl.Bundles))
	for i, b := range pl.Bundles {
		if err := os.MkdirAll(filepath.Join(tmp, "bundles", b), 0o755); err != nil {
			return nil, err
		}
		out[i] = filepath.Join(dir, "bundles", b)
	}
	for _, p := range paths {
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := writeSynced(dst, pl.Files[p]); err != nil {
			return nil, err
		}
	}
	if err := replaceDir(tmp, dir); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	done = true
	return out, nil
}

// writeSynced writes a new file and flushes it to disk, so that the swap
// never shows a file without its content after a crash.
func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceDirByRenames moves dir aside, tmp into its place, and removes the
// old one.
func replaceDirByRenames(tmp, dir string) error {
	old := tmp + ".old"
	moved := true
	if err := os.Rename(dir, old); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		moved = false
	}
	if err := os.Rename(tmp, dir); err != nil {
		if moved {
			os.Rename(old, dir)
		}
		return err
	}
	if moved {
		return os.RemoveAll(old)
	}
	return nil
}
