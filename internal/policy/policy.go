package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/selector"
)

// DefaultInterval is how often agents re-converge when policy.yml does not
// say.
const DefaultInterval = 5 * time.Minute

// MinInterval is the shortest interval policy.yml may ask for.
const MinInterval = 10 * time.Second

// Policy is a loaded, valid policy. Nothing modifies it once loaded but
// its callers, who may set Hash: its methods are safe for concurrent use.
type Policy struct {
	// Hash identifies the policy's revision: the hash Pack returns.
	// FromArchive sets it; Load leaves it "".
	Hash     string
	Interval time.Duration
	Ops      map[string]*Op  // by name
	Apps     map[string]*App // by name

	rules []rule
	vars  []varLayer
	hosts map[string]map[string]any // host id → vars
	files map[string][]byte         // every file under bundles/<name>/, by slash path
}

// rule adds bundles to the hosts its selector matches.
type rule struct {
	sel   selector.Selector
	apply []string
}

// varLayer sets vars on the hosts its selector matches.
type varLayer struct {
	sel  selector.Selector
	vars map[string]any
}

// Load reads and checks the policy in directory dir (see the package
// documentation). Every problem is reported at once, as a
// bundle.ErrorList whose positions name files as dir/relative/path;
// other errors (dir missing, policy too large) come alone.
func Load(dir string) (*Policy, error) {
	p, _, err := loadDir(dir)
	return p, err
}

// loadDir is Load that also returns the tree it read, for Pack.
func loadDir(dir string) (*Policy, *tree, error) {
	prefix := dir
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	t, errs, err := readDir(dir, prefix)
	if err != nil {
		return nil, nil, err
	}
	p, err := load(t, prefix, errs)
	return p, t, err
}

// FromArchive loads a policy from an archive made by Pack, in memory, with
// the checks of Load; positions name files by their path in the archive.
// It sets Hash to the archive's hash, the one Pack returned for it.
func FromArchive(archive []byte) (*Policy, error) {
	t, hash, err := readArchive(archive)
	if err != nil {
		return nil, err
	}
	p, err := load(t, "", nil)
	if err != nil {
		return nil, err
	}
	p.Hash = hash
	return p, nil
}

// loader checks a tree and builds its Policy.
type loader struct {
	t      *tree
	prefix string // before every path in positions
	errs   bundle.ErrorList
	p      *Policy
}

func load(t *tree, prefix string, errs bundle.ErrorList) (*Policy, error) {
	l := &loader{t: t, prefix: prefix, errs: errs, p: &Policy{
		Interval: DefaultInterval,
		Ops:      map[string]*Op{},
		Apps:     map[string]*App{},
		hosts:    map[string]map[string]any{},
		files:    map[string][]byte{},
	}}
	l.policyFile()
	l.ops()
	l.apps()
	l.bundles()
	if err := l.errs.Err(); err != nil {
		return nil, err
	}
	return l.p, nil
}

// file returns the YAML file at rel, which exists.
func (l *loader) file(rel string) *yamlFile {
	return &yamlFile{name: l.prefix + rel, src: l.t.files[rel].data, errs: &l.errs}
}

// problem records a problem with a whole file or directory.
func (l *loader) problem(rel, format string, args ...any) {
	l.errs = append(l.errs, &bundle.Error{Pos: promise.Pos{File: l.prefix + rel}, Msg: fmt.Sprintf(format, args...)})
}
