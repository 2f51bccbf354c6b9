package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/promise"
)

// The bundle cache plays the part of CFEngine's validated-policy cache.
// Most runs apply bundles that did not change since the last run (an agent
// re-converging on a schedule), and for them parsing YAML is most of the
// work. Load keeps what it decoded from valid bundles, keyed by the hash of:
//
//   - the cache format and the phenix executable (path, size, mtime), so a
//     new build never reads an old layout;
//   - the working directory, and each bundle file's path as given and
//     its content;
//   - the vars given by --var and --vars-file.
//
// An entry also records the hash of the facts when a template used them,
// and is not used when the facts changed. Files beside the bundle (sources,
// templates) are not trusted to the cache: a hit runs every Validator and
// Resolver again, which read them afresh. Anything unexpected in the cache (unreadable,
// undecodable, a Resolver error) is a miss, and the bundles are parsed as
// if there were no cache. Entries are written atomically; the newest
// keepCached are kept.

const (
	cacheFormat = "phenix-bundle-cache-1"
	keepCached  = 32
)

// cacheEntry is what the cache stores for one set of bundles.
type cacheEntry struct {
	FactsHash string            // "" when no template read the facts
	Vars      map[string]string // bundle file → its merged vars, as YAML
	Promises  []*promise.Promise
}

var registerOnce sync.Once

// registerTypes tells gob about every promise type.
func registerTypes() {
	registerOnce.Do(func() {
		for _, n := range promise.TypeNames() {
			t, _ := promise.Lookup(n)
			gob.Register(t.New())
		}
	})
}

func cacheKey(files []string, srcs [][]byte, vars map[string]any) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", cacheFormat)
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", exe, st.Size(), st.ModTime().UnixNano())
		}
	}
	// Positions keep each file's path as given, and Resolvers read
	// relative to it: the working directory is part of the key too.
	wd, _ := os.Getwd()
	fmt.Fprintf(h, "%s\x00", wd)
	for i, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(srcs[i]))
		h.Write(srcs[i])
	}
	vb, _ := json.Marshal(vars) // map keys are sorted
	h.Write(vb)
	return hex.EncodeToString(h.Sum(nil))
}

func factsHash(facts map[string]any) string {
	b, _ := json.Marshal(facts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// loadCached returns the promises cached under key, resolved again, or
// false.
func loadCached(opts Options, key string) ([]*promise.Promise, bool) {
	b, err := os.ReadFile(filepath.Join(opts.CacheDir, key))
	if err != nil {
		return nil, false
	}
	registerTypes()
	var e cacheEntry
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&e); err != nil {
		return nil, false
	}
	if e.FactsHash != "" && e.FactsHash != factsHash(opts.FactsFunc()) {
		return nil, false
	}
	// Resolvers render templates with the vars of their bundle: decode
	// those only for a bundle whose promises render something.
	tmpl := map[string]*templater{}
	templaterFor := func(file string) (*templater, error) {
		if t := tmpl[file]; t != nil {
			return t, nil
		}
		vars := map[string]any{}
		if err := yaml.Unmarshal([]byte(e.Vars[file]), &vars); err != nil {
			return nil, err
		}
		t := newTemplater(vars, opts.facts())
		tmpl[file] = t
		return t, nil
	}
	for _, p := range e.Promises {
		if p == nil || p.Resource == nil {
			return nil, false
		}
		// Validate again: it is cheap, and some types keep what it derives
		// (compiled regexps) in unexported fields the cache does not hold.
		if v, ok := p.Resource.(promise.Validator); ok && len(v.Validate()) > 0 {
			return nil, false
		}
		r, ok := p.Resource.(promise.Resolver)
		if !ok {
			continue
		}
		file := p.Pos.File
		rc := &promise.ResolveContext{Dir: filepath.Dir(file), Render: func(name, text string) (string, error) {
			t, err := templaterFor(file)
			if err != nil {
				return "", err
			}
			return t.render(name, text)
		}}
		if errs := r.Resolve(rc); len(errs) > 0 {
			return nil, false
		}
	}
	return e.Promises, true
}

// storeCached writes an entry; failures only cost the next run a parse.
func storeCached(dir, key string, ps []*promise.Promise, vars map[string]map[string]any, facts map[string]any) {
	registerTypes()
	e := cacheEntry{Promises: ps, Vars: map[string]string{}}
	for f, v := range vars {
		b, err := yaml.Marshal(v)
		if err != nil {
			return
		}
		e.Vars[f] = string(b)
	}
	if facts != nil {
		e.FactsHash = factsHash(facts)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&e); err != nil {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	tmp := filepath.Join(dir, "."+key+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return
	}
	if err := os.Rename(tmp, filepath.Join(dir, key)); err != nil {
		os.Remove(tmp)
		return
	}
	pruneCache(dir)
}

// pruneCache keeps the newest keepCached entries.
func pruneCache(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= keepCached {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			all = append(all, aged{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for _, a := range all[min(keepCached, len(all)):] {
		os.Remove(filepath.Join(dir, a.name))
	}
}
