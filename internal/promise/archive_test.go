package promise_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
)

// arEnt is one entry of an archive built by a test.
type arEnt struct {
	name string
	typ  byte   // a tar type; for zip: tar.TypeDir, tar.TypeSymlink or 0 for a file
	mode int64  // permission bits
	body string // a file's content
	link string // a link's target
	noUx bool   // zip: no Unix attributes (made on Windows)
}

func arFile(name string, mode int64, body string) arEnt {
	return arEnt{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func arDir(name string, mode int64) arEnt { return arEnt{name: name, typ: tar.TypeDir, mode: mode} }
func arLink(name, target string) arEnt {
	return arEnt{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func arHardlink(name, target string) arEnt {
	return arEnt{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}

// writeArchive writes entries as an archive named name in dir, in the format
// its suffix says, and returns its sha256.
func arWrite(t *testing.T, dir, name string, ents ...arEnt) string {
	t.Helper()
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".zip"):
		zw := zip.NewWriter(&buf)
		for _, e := range ents {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
			mode := fs.FileMode(e.mode)
			switch e.typ {
			case tar.TypeDir:
				mode |= fs.ModeDir
			case tar.TypeSymlink:
				mode |= fs.ModeSymlink
			}
			if !e.noUx {
				h.SetMode(mode)
			}
			w, err := zw.CreateHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			body := e.body
			if e.typ == tar.TypeSymlink {
				body = e.link
			}
			if _, err := w.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		var tw *tar.Writer
		var gz *gzip.Writer
		if strings.HasSuffix(name, ".tar") {
			tw = tar.NewWriter(&buf)
		} else {
			gz = gzip.NewWriter(&buf)
			tw = tar.NewWriter(gz)
		}
		for _, e := range ents {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), Format: tar.FormatPAX}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(e.body)); err != nil && e.typ == tar.TypeReg {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if gz != nil {
			if err := gz.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// marker is the expected content of the marker phenix writes.
func arMarker(t *testing.T, source, sum string, entries ...string) string {
	t.Helper()
	b, err := json.MarshalIndent(struct {
		Source  string   `json:"source"`
		SHA256  string   `json:"sha256"`
		Entries []string `json:"entries"`
	}{source, sum, entries}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestArchive(t *testing.T) {
	for _, tt := range []struct {
		name   string
		source string
		ents   []arEnt
		want   map[string]string // under /opt/app, the marker left out
		marker []string          // entries listed in the marker
	}{
		{
			name:   "tar.gz with links, modes and implied directories",
			source: "app-1.0.tar.gz",
			ents: []arEnt{
				arDir("./", 0o755),
				arDir("bin/", 0o750),
				arFile("bin/run", 0o755, "#!/bin/sh\necho run\n"),
				arHardlink("bin/run-again", "bin/run"),
				arFile("bin/suid", 0o4755, "setuid dropped\n"),
				arFile("etc/secret.conf", 0o600, "s=1\n"), // etc/ is implied
				arLink("current", "bin"),
				arLink("abs", "/opt/app/etc/secret.conf"),
				arFile("./doc/../README", 0o444, "read me\n"),
			},
			want: map[string]string{
				"README":          "f 0444 read me\n",
				"abs":             "l /opt/app/etc/secret.conf",
				"bin":             "d 0750",
				"bin/run":         "f 0755 #!/bin/sh\necho run\n",
				"bin/run-again":   "f 0755 #!/bin/sh\necho run\n",
				"bin/suid":        "f 0755 setuid dropped\n",
				"current":         "l bin",
				"etc":             "d 0755",
				"etc/secret.conf": "f 0600 s=1\n",
			},
			marker: []string{"README", "abs", "bin", "bin/run", "bin/run-again", "bin/suid", "current", "etc", "etc/secret.conf"},
		},
		{
			name:   "plain tar",
			source: "app.tar",
			ents:   []arEnt{arFile("a/b/c.txt", 0o640, "c\n")},
			want:   map[string]string{"a": "d 0755", "a/b": "d 0755", "a/b/c.txt": "f 0640 c\n"},
			marker: []string{"a", "a/b", "a/b/c.txt"},
		},
		{
			name:   "zip",
			source: "site.zip",
			ents: []arEnt{
				arDir("docs/", 0o700),
				arFile("docs/index.html", 0o644, "<h1>hi</h1>\n"),
				arFile("bin/tool", 0o750, "tool\n"),
				arLink("latest", "docs"),
				{name: "windows.txt", body: "no unix mode\r\n", noUx: true},
			},
			want: map[string]string{
				"bin":             "d 0755",
				"bin/tool":        "f 0750 tool\n",
				"docs":            "d 0700",
				"docs/index.html": "f 0644 <h1>hi</h1>\n",
				"latest":          "l docs",
				"windows.txt":     "f 0644 no unix mode\r\n",
			},
			marker: []string{"bin", "bin/tool", "docs", "docs/index.html", "latest", "windows.txt"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			sum := arWrite(t, r.dir, tt.source, tt.ents...)
			src := fmt.Sprintf("promises:\n  - archive: /opt/app\n    source: %s\n    checksum: sha256:%s\n", tt.source, strings.ToUpper(sum))
			dry := r.dryRunChangesNothing(src)
			res := r.converge(src)
			wantChanges := []promise.Change{{Field: "source", After: "sha256:" + sum}}
			if diff := cmp.Diff(wantChanges, fsChanges(res[0])); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantChanges, fsChanges(dry[0])); diff != "" {
				t.Errorf("dry run changes (-want +got):\n%s", diff)
			}
			want := map[string]string{"opt": "d 0755", "opt/app": "d 0755", "opt/app/.phenix-archive": "f 0644 " + arMarker(t, tt.source, sum, tt.marker...)}
			for k, v := range tt.want {
				want["opt/app/"+k] = v
			}
			r.wantTree(want)
		})
	}
}

func TestArchiveReextract(t *testing.T) {
	r := newFSRunner(t)
	sum1 := arWrite(t, r.dir, "app.tar.gz",
		arFile("bin/run", 0o755, "v1\n"),
		arFile("lib/old.so", 0o644, "old\n"),
		arFile("lib/keep.so", 0o644, "keep\n"),
		arLink("lib/current", "keep.so"),
	)
	src := "promises:\n  - archive: /opt/app\n    source: app.tar.gz\n"
	r.converge(src)
	r.write("/opt/app/local.conf", "mine\n", 0o644) // not the archive's: left alone

	// A deleted file, and a file whose size changed, are extracted again.
	if err := os.Remove(filepath.Join(r.root, "opt/app/bin/run")); err != nil {
		t.Fatal(err)
	}
	r.write("/opt/app/lib/keep.so", "edited, longer\n", 0o644)
	res := r.converge(src)
	want := []promise.Change{{Field: "entries", Before: "2 entries missing or changed (bin/run)", After: "extracted"}}
	if diff := cmp.Diff(want, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// A link that points elsewhere is put back.
	os.Remove(filepath.Join(r.root, "opt/app/lib/current"))
	r.symlink("old.so", "/opt/app/lib/current")
	res = r.converge(src)
	want = []promise.Change{{Field: "entries", Before: "1 entry missing or changed (lib/current)", After: "extracted"}}
	if diff := cmp.Diff(want, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}

	// A new version: what it no longer holds is removed.
	sum2 := arWrite(t, r.dir, "app.tar.gz",
		arFile("bin/run", 0o755, "v2\n"),
		arFile("lib/keep.so", 0o644, "keep\n"),
		arFile("share/new.txt", 0o644, "new\n"),
	)
	res = r.converge(src)
	want = []promise.Change{{Field: "source", Before: "sha256:" + sum1, After: "sha256:" + sum2}}
	if diff := cmp.Diff(want, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	r.wantTree(map[string]string{
		"opt":                     "d 0755",
		"opt/app":                 "d 0755",
		"opt/app/.phenix-archive": "f 0644 " + arMarker(t, "app.tar.gz", sum2, "bin", "bin/run", "lib", "lib/keep.so", "share", "share/new.txt"),
		"opt/app/bin":             "d 0755",
		"opt/app/bin/run":         "f 0755 v2\n",
		"opt/app/lib":             "d 0755",
		"opt/app/lib/keep.so":     "f 0644 keep\n",
		"opt/app/local.conf":      "f 0644 mine\n",
		"opt/app/share":           "d 0755",
		"opt/app/share/new.txt":   "f 0644 new\n",
	})
}

func TestArchiveUnsafe(t *testing.T) {
	good := arFile("good.txt", 0o644, "fine\n")
	for _, tt := range []struct {
		name    string
		source  string
		ents    []arEnt
		setup   func(r *fsRunner)
		wantErr string
	}{
		{name: "dot-dot", source: "a.tar.gz", ents: []arEnt{good, arFile("../evil", 0o644, "x")}, wantErr: `unsafe entry "../evil": leaves the destination through ..`},
		{name: "dot-dot after cleaning", source: "a.tar.gz", ents: []arEnt{good, arFile("a/../../evil", 0o644, "x")}, wantErr: `unsafe entry "a/../../evil": leaves the destination through ..`},
		{name: "absolute", source: "a.tar.gz", ents: []arEnt{good, arFile("/abs", 0o644, "x")}, wantErr: `unsafe entry "/abs": has an absolute path`},
		{name: "symlink to /etc then a file through it", source: "a.tar.gz", ents: []arEnt{good, arLink("etc", "/etc"), arFile("etc/cron.d/evil", 0o644, "x")}, wantErr: `unsafe entry "etc/cron.d/evil": lies below etc, which is not a directory in the archive`},
		{name: "symlink to /etc", source: "a.tar.gz", ents: []arEnt{good, arLink("etc", "/etc")}, wantErr: `unsafe entry "etc": is a symlink to /etc, which resolves outside the destination`},
		{name: "symlink to a sibling of the destination", source: "a.tar.gz", ents: []arEnt{arLink("x", "/opt/application")}, wantErr: `unsafe entry "x": is a symlink to /opt/application, which resolves outside the destination`},
		{name: "relative symlink up", source: "a.tar", ents: []arEnt{good, arLink("sub/up", "../../x")}, wantErr: `unsafe entry "sub/up": is a symlink to ../../x, which resolves outside the destination`},
		{name: "symlink out through another symlink", source: "a.tar", ents: []arEnt{arLink("a", "."), arLink("m", "a/x/../..")}, wantErr: `unsafe entry "m": is a symlink to a/x/../.., which resolves outside the destination`},
		{name: "symlink loop", source: "a.tar", ents: []arEnt{arLink("a", "b"), arLink("b", "a")}, wantErr: `unsafe entry "a": is a symlink to b, which resolves outside the destination`},
		{name: "hardlink to /etc/passwd", source: "a.tar.gz", ents: []arEnt{good, arHardlink("passwd", "/etc/passwd")}, wantErr: `unsafe entry "passwd": is a hardlink to /etc/passwd, outside the destination`},
		{name: "hardlink outside", source: "a.tar.gz", ents: []arEnt{good, arHardlink("h", "../outside")}, wantErr: `unsafe entry "h": is a hardlink to ../outside, outside the destination`},
		{name: "hardlink to nothing", source: "a.tar.gz", ents: []arEnt{arHardlink("h", "later"), arFile("later", 0o644, "x")}, wantErr: `unsafe entry "h": is a hardlink to later, which is not a regular file earlier in the archive`},
		{name: "device", source: "a.tar.gz", ents: []arEnt{good, {name: "dev/null", typ: tar.TypeChar, mode: 0o666}}, wantErr: `unsafe entry "dev/null": is a device file`},
		{name: "fifo", source: "a.tar.gz", ents: []arEnt{good, {name: "pipe", typ: tar.TypeFifo, mode: 0o644}}, wantErr: `unsafe entry "pipe": is a named pipe`},
		{name: "twice", source: "a.tar.gz", ents: []arEnt{good, arFile("good.txt", 0o644, "again")}, wantErr: `unsafe entry "good.txt": appears twice in the archive`},
		{name: "marker", source: "a.tar.gz", ents: []arEnt{good, arFile(".phenix-archive", 0o644, "{}")}, wantErr: `unsafe entry ".phenix-archive": uses the name of phenix's marker file`},
		{name: "zip dot-dot", source: "a.zip", ents: []arEnt{good, arFile("../evil", 0o644, "x")}, wantErr: `unsafe entry "../evil": leaves the destination through ..`},
		{name: "zip absolute", source: "a.zip", ents: []arEnt{good, arFile("/abs", 0o644, "x")}, wantErr: `unsafe entry "/abs": has an absolute path`},
		{name: "zip symlink to /etc", source: "a.zip", ents: []arEnt{good, arLink("etc", "/etc")}, wantErr: `unsafe entry "etc": is a symlink to /etc, which resolves outside the destination`},
		{
			name:    "symlink through a link already in the destination",
			source:  "a.tar.gz",
			ents:    []arEnt{good, arLink("x", "data/passwd")},
			setup:   func(r *fsRunner) { r.symlink("/etc", "/opt/app/data") },
			wantErr: `unsafe entry "x": is a symlink to data/passwd, which resolves outside the destination`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			r.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
			if tt.setup != nil {
				tt.setup(r)
			}
			arWrite(t, r.dir, tt.source, tt.ents...)
			src := fmt.Sprintf("promises:\n  - archive: /opt/app\n    source: %s\n", tt.source)
			before := r.tree()
			for _, dry := range []bool{true, false} {
				res := r.run(src, dry)
				fsWantStatus(t, res[0], engine.Failed, "archive "+tt.source+" refused, nothing extracted: "+tt.wantErr)
				if diff := cmp.Diff(before, r.tree()); diff != "" {
					t.Fatalf("dry run %v: an unsafe archive changed the tree (-before +after):\n%s", dry, diff)
				}
			}
		})
	}
}

func TestArchiveReplacesLinksInTheWay(t *testing.T) {
	// A symlink on disk where the archive has a directory is replaced, not
	// written through.
	r := newFSRunner(t)
	r.write("/outside/keep", "k\n", 0o644)
	r.symlink(filepath.Join(r.root, "outside"), "/opt/app/data")
	arWrite(t, r.dir, "a.tar.gz", arFile("data/keep", 0o600, "from the archive\n"))
	r.converge("promises:\n  - archive: /opt/app\n    source: a.tar.gz\n")
	tree := r.tree()
	delete(tree, "opt/app/.phenix-archive")
	want := map[string]string{
		"outside": "d 0755", "outside/keep": "f 0644 k\n",
		"opt": "d 0755", "opt/app": "d 0755", "opt/app/data": "d 0755", "opt/app/data/keep": "f 0600 from the archive\n",
	}
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestArchiveConflict(t *testing.T) {
	r := newFSRunner(t)
	r.write("/opt/app/conf/x", "mine\n", 0o644)
	arWrite(t, r.dir, "a.tar.gz", arFile("aaa", 0o644, "a\n"), arFile("conf", 0o644, "a file\n"))
	before := r.tree()
	res := r.run("promises:\n  - archive: /opt/app\n    source: a.tar.gz\n", false)
	fsWantStatus(t, res[0], engine.Failed, "extract a.tar.gz: conf is a directory with content, where the archive has a file or a link")
	if diff := cmp.Diff(before, r.tree()); diff != "" {
		t.Errorf("a conflict changed the tree (-before +after):\n%s", diff)
	}
}

func TestArchiveWithPurge(t *testing.T) {
	r := newFSRunner(t)
	r.write("/opt/app/stray", "s\n", 0o644)
	sum := arWrite(t, r.dir, "a.zip", arFile("bin/app", 0o755, "app\n"))
	src := `
promises:
  - directory: /opt/app
    purge: true
  - archive: /opt/app
    source: a.zip
    owner: "` + fmt.Sprint(os.Getuid()) + `"
`
	res := r.converge(src)
	if diff := cmp.Diff([]promise.Change{{Field: "purge", Before: "stray", After: "(removed)"}}, fsChanges(res[0])); diff != "" {
		t.Errorf("directory changes (-want +got):\n%s", diff)
	}
	r.wantTree(map[string]string{
		"opt": "d 0755", "opt/app": "d 0755",
		"opt/app/.phenix-archive": "f 0644 " + arMarker(t, "a.zip", sum, "bin", "bin/app"),
		"opt/app/bin":             "d 0755",
		"opt/app/bin/app":         "f 0755 app\n",
	})
}

func TestArchiveCreates(t *testing.T) {
	r := newFSRunner(t)
	r.write("/opt/app/VERSION", "9\n", 0o644)
	arWrite(t, r.dir, "a.tar.gz", arFile("VERSION", 0o644, "1\n"))
	before := r.tree()
	res := r.run("promises:\n  - archive: /opt/app\n    source: a.tar.gz\n    creates: /opt/app/VERSION\n", false)
	fsWantStatus(t, res[0], engine.OK, "")
	if diff := cmp.Diff(before, r.tree()); diff != "" {
		t.Errorf("a kept promise changed the tree (-before +after):\n%s", diff)
	}
}

func TestArchiveCorrupt(t *testing.T) {
	r := newFSRunner(t)
	if err := os.WriteFile(filepath.Join(r.dir, "bad.tar.gz"), []byte("not gzip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.run("promises:\n  - archive: /opt/app\n    source: bad.tar.gz\n", false)
	fsWantStatus(t, res[0], engine.Failed, "archive bad.tar.gz refused, nothing extracted: read archive: gzip: invalid header")
	r.wantTree(map[string]string{})
}

func TestArchiveValidate(t *testing.T) {
	r := newFSRunner(t)
	sum := arWrite(t, r.dir, "a.tar.gz", arFile("x", 0o644, "x"))
	zero := strings.Repeat("0", 64)
	for _, tt := range []struct{ bundle, want string }{
		{"promises:\n  - archive: /opt/app\n    source: a.tar.gz\n    checksum: sha256:" + zero + "\n", "bundle.yaml:4:5: checksum: a.tar.gz has sha256:" + sum + ", not the sha256:" + zero + " the promise expects"},
		{"promises:\n  - archive: /opt/app\n    source: a.tar.gz\n    checksum: md5:abc\n", "bundle.yaml:4:5: checksum: bad checksum \"md5:abc\": expected sha256: and 64 hex digits"},
		{"promises:\n  - archive: /opt/app\n    source: a.rar\n", "bundle.yaml:3:5: source: unknown archive format \"a.rar\": expected a name ending in .tar.gz, .tgz, .tar or .zip"},
		{"promises:\n  - archive: /opt/app\n    source: missing.zip\n", "bundle.yaml:3:5: source: open missing.zip: no such file or directory"},
		{"promises:\n  - archive: /opt/app\n", "bundle.yaml:2:5: source: missing: expected an archive beside the bundle, for example app.tar.gz"},
		{"promises:\n  - archive: /\n    source: a.tar.gz\n", "bundle.yaml:2:5: archive: refusing to extract into /: give a directory of its own"},
		{"promises:\n  - archive: /opt/app\n    source: a.tar.gz\n    creates: VERSION\n", "bundle.yaml:4:5: creates: expected an absolute path, got \"VERSION\""},
	} {
		if got := r.parseErrors(tt.bundle); got != tt.want {
			t.Errorf("errors of\n%s\n= %q\nwant %q", tt.bundle, got, tt.want)
		}
	}
}
