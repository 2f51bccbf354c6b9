package containertest

import (
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

func TestDebianImage(t *testing.T) {
	t.Parallel()
	c := Start(t, DebianImage(t))
	got := strings.TrimSpace(c.MustExec(t, "cat", "/etc/debian_version"))
	if !strings.HasPrefix(got, "12.") {
		t.Errorf("/etc/debian_version = %q, want bookworm (12.x)", got)
	}
	// debootstrap's packages are in dpkg's database: the image kept it.
	c.MustExec(t, "dpkg-query", "--status", "cron", "passwd", "adduser", "procps", "ca-certificates")
	for _, tool := range []string{"useradd", "groupadd", "crontab", "adduser", "ps", "apt-get", "dpkg"} {
		c.MustExec(t, "sh", "-c", `command -v "$1"`, "sh", tool)
	}
}

func TestNoNetwork(t *testing.T) {
	t.Parallel()
	c := Start(t, DebianImage(t))
	ifaces := c.MustExec(t, "sh", "-c", `cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '`)
	if got := strings.Fields(ifaces); len(got) != 1 || got[0] != "lo" {
		t.Errorf("network interfaces = %q, want only lo", got)
	}

	start := time.Now()
	c.Stop(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %s; want docker-init to end the container at once on SIGTERM", took)
	}
	if _, _, _, err := c.Exec(t.Context(), "true"); err == nil {
		t.Errorf("Exec in a stopped container: no error, want one")
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	c := Start(t, DebianImage(t))
	stdout, stderr, code, err := c.Exec(t.Context(), "sh", "-c", "echo out; echo err >&2; exit 3")
	if stdout != "out\n" || stderr != "err\n" || code != 3 || err != nil {
		t.Errorf("Exec = %q, %q, %d, %v; want \"out\\n\", \"err\\n\", 3, nil", stdout, stderr, code, err)
	}
	if _, _, code, err := c.Exec(t.Context(), "no-such-command"); code != 126 && code != 127 || err != nil {
		t.Errorf("Exec(no-such-command) = %d, %v; want 126 or 127, nil", code, err)
	}

	data := []byte("line 1\nline 2\n")
	c.WriteFile(t, "/etc/phenix/test/data.txt", data, 0o640)
	if got := c.ReadFile(t, "/etc/phenix/test/data.txt"); string(got) != string(data) {
		t.Errorf("ReadFile = %q, want %q", got, data)
	}
	if got := c.MustExec(t, "stat", "-c", "%a %U", "/etc/phenix/test/data.txt"); got != "640 root\n" {
		t.Errorf("mode and owner = %q, want \"640 root\"", got)
	}

	c.Kill(t)
	if _, _, _, err := c.Exec(t.Context(), "true"); err == nil {
		t.Errorf("Exec in a killed container: no error, want one")
	}
}

func TestUseradd(t *testing.T) {
	t.Parallel()
	c := Start(t, DebianImage(t))
	c.MustExec(t, "groupadd", "--system", "phenix")
	c.MustExec(t, "useradd", "--create-home", "--gid", "phenix", "--shell", "/bin/bash", "alice")
	got := c.MustExec(t, "getent", "passwd", "alice")
	if !strings.HasPrefix(got, "alice:x:") || !strings.HasSuffix(got, ":/home/alice:/bin/bash\n") {
		t.Errorf("getent passwd alice = %q", got)
	}
	c.WriteFile(t, "/tmp/crontab", []byte("*/5 * * * * /bin/true\n"), 0o644)
	c.MustExec(t, "crontab", "-u", "alice", "/tmp/crontab")
	if got := c.MustExec(t, "crontab", "-u", "alice", "-l"); got != "*/5 * * * * /bin/true\n" {
		t.Errorf("crontab -l = %q", got)
	}
}

func TestAptRepo(t *testing.T) {
	t.Parallel()
	hello := func(version string) DebPackage {
		return DebPackage{
			Name:    "phenix-hello",
			Version: version,
			Files: map[string]string{
				"/usr/share/phenix-hello/VERSION": version + "\n",
				"/usr/bin/phenix-hello":           "#!/bin/sh\necho hello " + version + "\n",
			},
		}
	}
	c := Start(t, DebianImage(t))
	c.UseAptRepo(t, AptRepo(t, hello("1.0")))
	c.MustExec(t, "apt-get", "install", "-y", "-q", "phenix-hello")
	if got := c.ReadFile(t, "/usr/share/phenix-hello/VERSION"); string(got) != "1.0\n" {
		t.Errorf("VERSION after install = %q, want 1.0", got)
	}
	if got := c.MustExec(t, "phenix-hello"); got != "hello 1.0\n" {
		t.Errorf("phenix-hello printed %q", got)
	}

	c.UseAptRepo(t, AptRepo(t, hello("1.0"), hello("1.1")))
	c.MustExec(t, "apt-get", "install", "-y", "-q", "--only-upgrade", "phenix-hello")
	if got := c.ReadFile(t, "/usr/share/phenix-hello/VERSION"); string(got) != "1.1\n" {
		t.Errorf("VERSION after upgrade = %q, want 1.1", got)
	}
	if got := c.MustExec(t, "dpkg-query", "-W", "-f", "${Version}", "phenix-hello"); got != "1.1" {
		t.Errorf("installed version = %q, want 1.1", got)
	}

	c.MustExec(t, "apt-get", "remove", "-y", "-q", "phenix-hello")
	if _, _, code, _ := c.Exec(t.Context(), "test", "-e", "/usr/share/phenix-hello/VERSION"); code == 0 {
		t.Errorf("VERSION still exists after apt-get remove")
	}
}

func TestWithPhenix(t *testing.T) {
	t.Parallel()
	c := Start(t, DebianImage(t), WithPhenix(testenv.PhenixBinary(t)))
	if got := c.MustExec(t, "phenix", "--help"); !strings.Contains(got, "Usage:") {
		t.Errorf("phenix --help printed %q, want usage", got)
	}
	if _, stderr, code, _ := c.Exec(t.Context(), "sh", "-c", "echo x > /usr/local/bin/phenix"); code == 0 {
		t.Errorf("the phenix binary is writable in the container, want a read-only mount")
	} else if !strings.Contains(stderr, "Read-only file system") {
		t.Errorf("writing the phenix binary: %q, want a read-only file system error", stderr)
	}
}

func TestWithBind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := Start(t, DebianImage(t), WithBind(dir, "/mnt/shared", false))
	c.MustExec(t, "sh", "-c", "echo from-container > /mnt/shared/out")
	if got := readHostFile(t, dir+"/out"); got != "from-container\n" {
		t.Errorf("file written through the bind mount = %q", got)
	}
}
