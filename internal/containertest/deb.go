package containertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A DebPackage describes a tiny Debian package for AptRepo. Its architecture
// is "all".
type DebPackage struct {
	Name    string // such as "phenix-hello"
	Version string // such as "1.0" or "1:2.0-1"
	Depends string // the Depends field, such as "cron, adduser (>= 3)"; optional

	// Files maps absolute paths in the installed system to their content.
	// A file whose content starts with "#!" is executable (0755), any other
	// is 0644; all are owned by root.
	Files map[string]string

	// Scripts maps maintainer script names ("preinst", "postinst",
	// "prerm", "postrm") to their content; optional.
	Scripts map[string]string
}

// maintainerScripts lists the names DebPackage.Scripts accepts.
var maintainerScripts = []string{"preinst", "postinst", "prerm", "postrm"}

// filename returns the conventional .deb file name, without the epoch.
func (p DebPackage) filename() string {
	v := p.Version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	return p.Name + "_" + v + "_all.deb"
}

// installedSize returns the Installed-Size field: the content size in KiB,
// each file rounded up to a whole KiB.
func (p DebPackage) installedSize() int64 {
	var kib int64
	for _, content := range p.Files {
		kib += (int64(len(content)) + 1023) / 1024
	}
	return max(kib, 1)
}

// control returns the DEBIAN/control file of p.
func (p DebPackage) control() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: %s\nInstalled-Size: %d\n",
		p.Name, p.Version, maintainer, p.installedSize())
	if p.Depends != "" {
		fmt.Fprintf(&b, "Depends: %s\n", p.Depends)
	}
	fmt.Fprintf(&b, "Description: %s\n", p.description())
	return b.String()
}

const maintainer = "phenix tests <tests@phenix.invalid>"

func (p DebPackage) description() string {
	return "phenix test package " + p.Name + " " + p.Version
}

// buildDeb builds p with dpkg-deb into dir and returns the path of the .deb.
func buildDeb(ctx context.Context, dir string, p DebPackage) (string, error) {
	staging, err := os.MkdirTemp("", "containertest-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	if err := os.Chmod(staging, 0o755); err != nil { // the package's "/"
		return "", err
	}
	for name, content := range p.Files {
		if !path.IsAbs(name) || path.Clean(name) != name {
			return "", fmt.Errorf("package %s: file %q: want a clean absolute path", p.Name, name)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := writeFile(filepath.Join(staging, name), content, mode); err != nil {
			return "", err
		}
	}
	if err := writeFile(filepath.Join(staging, "DEBIAN", "control"), p.control(), 0o644); err != nil {
		return "", err
	}
	for name, content := range p.Scripts {
		if !slices.Contains(maintainerScripts, name) {
			return "", fmt.Errorf("package %s: script %q: want one of %s", p.Name, name, strings.Join(maintainerScripts, ", "))
		}
		if err := writeFile(filepath.Join(staging, "DEBIAN", name), content, 0o755); err != nil {
			return "", err
		}
	}
	deb := filepath.Join(dir, p.filename())
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--build", "--root-owner-group", "-Zgzip", staging, deb)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb --build %s %s: %v: %s", p.Name, p.Version, err, out)
	}
	return deb, nil
}

// writeFile writes content to name with mode, creating parent directories.
func writeFile(name, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(name, mode) // WriteFile's mode is subject to the umask
}
