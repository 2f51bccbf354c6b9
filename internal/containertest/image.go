package containertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// images records the tags known to exist in this process, so that each is
// checked or built at most once. The mutex is held while building.
var images struct {
	sync.Mutex
	ready map[string]bool
}

// DebianImage returns the tag of a Debian bookworm image, such as
// phenix-test/debian:bookworm-1a2b3c4d, for Start.
//
// The image is a debootstrap --variant=minbase system with adduser,
// ca-certificates, cron, passwd and procps added, built from the mirror the
// host's apt uses; its command is "sleep infinity". If Docker lacks the tag,
// DebianImage imports the cached root file system tarball, or first builds
// that tarball with debootstrap, which takes a minute or more and needs
// root. Concurrent test processes wait for one another with a lock file in
// the cache directory.
//
// DebianImage skips t without Docker, and without debootstrap when the image
// has to be built.
func DebianImage(t testing.TB) string {
	t.Helper()
	return image(t, bookworm())
}

// image returns the tag of the image of r, importing or building it the
// first time in the process.
func image(t testing.TB, r recipe) string {
	t.Helper()
	testenv.Require(t, "docker")
	tag := r.tag()
	images.Lock()
	defer images.Unlock()
	if images.ready[tag] {
		return tag
	}
	if err := ensureImage(t, r); err != nil {
		t.Fatalf("%s image %s: %v", r.Image, tag, err)
	}
	if images.ready == nil {
		images.ready = map[string]bool{}
	}
	images.ready[tag] = true
	return tag
}

// ensureImage makes sure Docker has the image of r, importing or building it.
func ensureImage(t testing.TB, r recipe) error {
	t.Helper()
	ctx := t.Context()
	if ok, err := imageExists(ctx, r.tag()); ok || err != nil {
		return err
	}
	dir, err := cacheDir()
	if err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(dir, r.name()+".lock"), func() {
		t.Helper()
		t.Logf("waiting for another test process to build %s", r.tag())
	})
	if err != nil {
		return err
	}
	defer unlock()
	if ok, err := imageExists(ctx, r.tag()); ok || err != nil {
		return err // built by the process that held the lock
	}
	tarball := filepath.Join(dir, r.name()+".tar")
	if _, err := os.Stat(tarball); errors.Is(err, fs.ErrNotExist) {
		testenv.Require(t, "debootstrap")
		t.Logf("building the %s %s root file system with debootstrap from %s into %s; this takes a minute or more",
			r.Image, r.Suite, r.Mirror, tarball)
		start := time.Now()
		if err := buildTarball(ctx, r, tarball); err != nil {
			return err
		}
		t.Logf("debootstrap and tar took %s", time.Since(start).Round(time.Second))
	} else if err != nil {
		return err
	}
	start := time.Now()
	if err := importImage(ctx, r, tarball); err != nil {
		return err
	}
	t.Logf("imported %s from %s in %s", r.tag(), tarball, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// imageExists reports whether Docker has an image tagged tag.
func imageExists(ctx context.Context, tag string) (bool, error) {
	_, err := docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", tag)
	if err != nil {
		if strings.Contains(err.Error(), "No such image") {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func importImage(ctx context.Context, r recipe, tarball string) error {
	_, err := docker(ctx, nil, "import",
		"--change", `CMD ["/bin/sleep", "infinity"]`,
		"--change", "LABEL phenix-test=1",
		"--message", fmt.Sprintf("containertest recipe v%d: debootstrap --variant=%s --include=%s %s %s",
			recipeVersion, r.Variant, strings.Join(r.Include, ","), r.Suite, r.Mirror),
		tarball, r.tag())
	return err
}
