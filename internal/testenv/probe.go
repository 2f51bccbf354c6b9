package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A probe checks one requirement at most once per process.
type probe struct {
	check func() error
	once  sync.Once
	err   error
}

func (p *probe) result() error {
	p.once.Do(func() { p.err = p.check() })
	return p.err
}

// probes holds every requirement Require knows, by name. Its map is never
// written after initialisation; each probe guards its own result.
var probes = map[string]*probe{
	"docker":      {check: checkDocker},
	"debootstrap": {check: checkDebootstrap},
	"dpkg-deb":    {check: checkDpkgDeb},
	"root":        {check: checkRoot},
}

func checkRoot() error {
	if id := os.Geteuid(); id != 0 {
		return fmt.Errorf("not running as root (euid %d)", id)
	}
	return nil
}

func checkDocker() error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("docker engine not reachable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%v: %s", err, msg)
		}
		return fmt.Errorf("docker engine not reachable: %v", err)
	}
	if strings.TrimSpace(string(out)) == "" {
		return fmt.Errorf("docker engine not reachable: docker version reported no server")
	}
	return nil
}

func checkDebootstrap() error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("debootstrap not available: %v", err)
	}
	if err := checkRoot(); err != nil {
		return fmt.Errorf("debootstrap needs root: %v", err)
	}
	return nil
}

func checkDpkgDeb() error {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return fmt.Errorf("dpkg-deb not available: %v", err)
	}
	return nil
}
