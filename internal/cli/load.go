package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/promise"
)

// loadFlags are the flags shared by apply and validate.
type loadFlags struct {
	root      string
	vars      []string
	varsFiles []string
	noCache   bool
}

func (lf *loadFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&lf.root, "root", "", "apply file, directory, symlink, line and archive promises under `DIR` as if it were /")
	cmd.Flags().StringArrayVar(&lf.vars, "var", nil, "set a template var, `key=value` (repeatable; overrides bundle vars)")
	cmd.Flags().StringArrayVar(&lf.varsFiles, "vars-file", nil, "read template vars from a YAML mapping in `FILE` (repeatable)")
	cmd.Flags().BoolVar(&lf.noCache, "no-cache", false, "parse the bundles even if they are unchanged since the last run")
}

// vars merges --vars-file files in order, then --var pairs.
func (lf *loadFlags) mergedVars() (map[string]any, error) {
	out := map[string]any{}
	for _, f := range lf.varsFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("vars file: %w", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, bundle.ErrorList{{Pos: promise.Pos{File: f, Line: 1, Col: 1}, Msg: "vars file: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
		for k, v := range m {
			out[k] = v
		}
	}
	for _, kv := range lf.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: expected key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// load reads the bundles and plans them. Every error it returns is bad
// input.
func (lf *loadFlags) load(paths []string) (*engine.Plan, *promise.Env, error) {
	env := &promise.Env{BackupDir: promise.DefaultBackupDir}
	if lf.root != "" {
		abs, err := filepath.Abs(lf.root)
		if err != nil {
			return nil, nil, badInput(fmt.Errorf("--root: %w", err))
		}
		// A root that does not exist yet is an empty tree: the promises
		// create it as they create what is under it.
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			return nil, nil, badInput(fmt.Errorf("--root %s: not a directory", lf.root))
		}
		env.Root = abs
	}
	vars, err := lf.mergedVars()
	if err != nil {
		return nil, nil, badInput(err)
	}
	// Facts are gathered only when a template refers to them.
	gather := func() map[string]any { return facts.Gather(env.Root).Map() }
	ps, err := bundle.Load(paths, bundle.Options{Vars: vars, FactsFunc: gather, CacheDir: lf.cacheDir()})
	if err != nil {
		return nil, nil, badInput(err)
	}
	plan, err := engine.NewPlan(ps, env)
	if err != nil {
		return nil, nil, badInput(err)
	}
	return plan, env, nil
}

// cacheDir is where decoded bundles are kept between runs:
// $XDG_CACHE_HOME/phenix/bundles, usually ~/.cache/phenix/bundles.
func (lf *loadFlags) cacheDir() string {
	if lf.noCache {
		return ""
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "phenix", "bundles")
}
