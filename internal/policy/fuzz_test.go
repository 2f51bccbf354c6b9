package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/selector"
)

func hostFor(id string) selector.Host {
	return selector.Host{ID: id, Labels: map[string]string{"role": "web", "env": "prod"}}
}

// FuzzLoad checks that no policy.yml, op file or bundle file makes loading
// panic, that every problem found in them has a position, and that a
// policy that loads gives every host a payload.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"../../examples/policy", "testdata/errors/policy_values", "testdata/errors/selectors", "testdata/errors/unknown_keys"} {
		pol, _ := os.ReadFile(filepath.Join(dir, "policy.yml"))
		f.Add(pol, []byte("command: [uptime]\n"), []byte("promises:\n  - directory: /srv\n"))
	}
	ops, _ := filepath.Glob("testdata/errors/ops_errors/ops/*.yml")
	for _, o := range ops {
		b, _ := os.ReadFile(o)
		f.Add([]byte("{}\n"), b, []byte("promises: []\n"))
	}
	bundles, _ := filepath.Glob("testdata/errors/*/bundles/*/*.y*ml")
	for _, b := range bundles {
		src, _ := os.ReadFile(b)
		f.Add([]byte("bundles: [{select: '*', apply: [web]}]\n"), []byte("command: [x]\n"), src)
	}
	f.Add([]byte("vars: [{select: '*', vars: &a {x: [*a]}}]\n"), []byte("params: {a: &p {type: int}, b: *p}\ncommand: [x]\n"), []byte("promises: [{file: /x, source: &s \"/a/b\"}, {file: /y, template: *s}]\n"))
	f.Fuzz(func(t *testing.T, pol, op, bun []byte) {
		tr := newTree()
		tr.dirs["bundles"], tr.dirs["bundles/base"], tr.dirs["bundles/web"], tr.dirs["ops"] = true, true, true, true
		tr.files["policy.yml"] = &treeFile{data: pol}
		tr.files["ops/op.yml"] = &treeFile{data: op}
		tr.files["bundles/base/a.yml"] = &treeFile{data: []byte("promises:\n  - file: /etc/motd\n    content: hi\n")}
		tr.files["bundles/web/a.yml"] = &treeFile{data: bun}
		tr.files["bundles/web/app.conf.tmpl"] = &treeFile{data: []byte("port={{ .vars.port }}\n")}
		p, err := load(tr, "", nil)
		if err != nil {
			for _, e := range err.(bundle.ErrorList) {
				if e.Pos.Line < 1 {
					t.Errorf("error without a line: %v", e)
				}
			}
			return
		}
		for _, id := range []string{"web-1", "db-1"} {
			pl, err := p.ForHost(hostFor(id), nil)
			if err != nil {
				t.Fatalf("ForHost: %v", err)
			}
			pl.Digest()
		}
		for _, o := range p.Ops {
			if params, err := o.Bind(nil); err == nil {
				o.Render(params)
			}
		}
	})
}
