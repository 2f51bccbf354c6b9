package containertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// buildTarball runs debootstrap for r in a directory beside dst, tidies the
// root file system and writes it to dst as an uncompressed tarball. dst
// appears only once complete.
func buildTarball(ctx context.Context, r recipe, dst string) (err error) {
	work, err := os.MkdirTemp(filepath.Dir(dst), "rootfs-")
	if err != nil {
		return err
	}
	defer func() {
		// A killed debootstrap can leave /proc or /sys mounted in the
		// target; never remove files through a mount.
		if uerr := unmountUnder(work); uerr != nil {
			err = errors.Join(err, fmt.Errorf("leaving %s in place: %v", work, uerr))
			return
		}
		os.RemoveAll(work)
	}()
	root := filepath.Join(work, "rootfs")
	if err := debootstrap(ctx, r, root); err != nil {
		return err
	}
	if err := tidy(root); err != nil {
		return fmt.Errorf("tidy root file system: %v", err)
	}
	tmp := dst + ".tmp"
	tar := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-cf", tmp, ".")
	if out, err := tar.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tar root file system: %v: %s", err, out)
	}
	return os.Rename(tmp, dst)
}

func debootstrap(ctx context.Context, r recipe, root string) error {
	cmd := exec.CommandContext(ctx, "debootstrap",
		"--variant="+r.Variant, "--include="+strings.Join(r.Include, ","),
		r.Suite, root, r.Mirror)
	// debootstrap unmounts what it mounted in the target when it exits on a
	// signal it can trap.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := lastLines(string(out), 20)
	if log, lerr := os.ReadFile(filepath.Join(root, "debootstrap", "debootstrap.log")); lerr == nil {
		msg += "\ndebootstrap.log:\n" + lastLines(string(log), 30)
	}
	return fmt.Errorf("debootstrap %s from %s: %v\n%s", r.Suite, r.Mirror, err, msg)
}

// tidy removes what an image does not need from root and keeps dpkg's
// database intact: downloaded packages, apt's package lists and caches. It
// makes dpkg skip fsync, which containers do not need.
func tidy(root string) error {
	for _, pattern := range []string{
		"var/cache/apt/archives/*.deb",
		"var/cache/apt/*.bin",
		"var/lib/apt/lists/*_*", // keeps lock and partial/
	} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return err
		}
		for _, f := range m {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(root, "etc/dpkg/dpkg.cfg.d/phenix-test"),
		[]byte("# containertest: containers need no fsync\nforce-unsafe-io\n"), 0o644)
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mountinfo: id parent major:minor root mount-point options ...
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %v", p, err)
		}
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
