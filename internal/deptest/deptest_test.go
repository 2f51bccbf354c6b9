package deptest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is two levels up from this package.
const moduleRoot = "../.."

// packages returns every directory under the module holding non-test Go
// files, keyed by path relative to the module root.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != moduleRoot {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			rel, _ := filepath.Rel(moduleRoot, filepath.Dir(p))
			out[rel] = append(out[rel], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, files := range packages(t) {
		n := 0
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				n++
			}
		}
		switch {
		case n == 0:
			t.Errorf("package %s has no package comment (add a doc.go)", dir)
		case n > 1:
			t.Errorf("package %s has %d package comments, want one", dir, n)
		}
	}
}

// domain packages hold types and rules; adapters live elsewhere.
var domain = []string{"internal/promise", "internal/bundle", "internal/engine", "internal/facts", "internal/selector", "internal/journal", "internal/pki", "internal/host", "internal/secret", "internal/policy", "internal/check"}

var forbidden = []string{"github.com/spf13/", "golang.org/x/term", "database/sql", "github.com/nats-io/", "net/http"}

// allowed are the forbidden imports a domain package needs for its own
// job, as prefixes.
var allowed = map[string][]string{
	// Health checks are HTTP requests: net/http as a client, no server.
	"internal/check": {"net/http"},
}

func TestDomainImportsNoAdapter(t *testing.T) {
	pkgs := packages(t)
	for _, dir := range domain {
		for _, f := range pkgs[dir] {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if strings.HasPrefix(path, bad) && !hasPrefix(path, allowed[dir]) {
						t.Errorf("%s imports %s: domain packages must not import adapters", f, path)
					}
				}
			}
		}
		if len(pkgs[dir]) == 0 {
			t.Errorf("domain package %s not found", dir)
		}
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
