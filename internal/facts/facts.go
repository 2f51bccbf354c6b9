// Package facts gathers what phenix knows about a host: its operating
// system, architecture, names, addresses, CPUs, memory and kernel.
//
// Gathering reads files and system calls only; it runs no command and makes
// no network request, so it costs about a millisecond and can run on every
// apply.
package facts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Facts describe a host. Field names are the keys templates use
// ({{ .facts.os_family }}) and the JSON output prints.
type Facts struct {
	OS         string   `json:"os"`         // runtime GOOS: linux
	OSFamily   string   `json:"os_family"`  // debian, rhel, alpine, … (ID_LIKE, else ID)
	OSName     string   `json:"os_name"`    // ID from os-release: debian, ubuntu
	OSVersion  string   `json:"os_version"` // VERSION_ID: 12
	OSCodename string   `json:"os_codename,omitempty"`
	OSPretty   string   `json:"os_pretty,omitempty"`
	Arch       string   `json:"arch"`    // GOARCH naming: amd64, arm64
	Machine    string   `json:"machine"` // uname -m: x86_64
	Hostname   string   `json:"hostname"`
	FQDN       string   `json:"fqdn"`
	Addresses  []string `json:"addresses"` // non-loopback IPv4 and IPv6
	CPUCount   int      `json:"cpu_count"`
	MemoryMB   int      `json:"memory_mb"`
	Kernel     string   `json:"kernel"`  // uname -r
	Init       string   `json:"init"`    // systemd, or none
	Virtual    string   `json:"virtual"` // docker, container, or physical
}

// Gather reads the facts of the running host. root, when not "" or "/",
// is where the operating system files (os-release) are read, for runs that
// build an image under --root.
func Gather(root string) Facts {
	f := Facts{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUCount: runtime.NumCPU(), Init: "none", Virtual: "physical"}
	osRelease(&f, root)
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		f.Kernel = cstr(u.Release[:])
		f.Machine = cstr(u.Machine[:])
		f.Hostname = cstr(u.Nodename[:])
	}
	if h, err := os.Hostname(); err == nil && f.Hostname == "" {
		f.Hostname = h
	}
	f.FQDN = fqdn(f.Hostname)
	f.Addresses = addresses()
	f.MemoryMB = memoryMB()
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() {
		f.Init = "systemd"
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		f.Virtual = "docker"
	} else if _, err := os.Stat("/run/.containerenv"); err == nil {
		f.Virtual = "container"
	}
	return f
}

// Map returns the facts as a map, keyed like the JSON output, for
// templates.
func (f Facts) Map() map[string]any {
	b, _ := json.Marshal(f)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

func cstr[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func osRelease(f *Facts, root string) {
	if root == "" {
		root = "/"
	}
	var data []byte
	// A root without an os-release (a scratch root) describes the host.
	for _, r := range []string{root, "/"} {
		for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
			if b, err := os.ReadFile(filepath.Join(r, p)); err == nil && data == nil {
				data = b
			}
		}
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		kv[k] = strings.Trim(v, `"'`)
	}
	f.OSName = kv["ID"]
	f.OSVersion = kv["VERSION_ID"]
	f.OSCodename = kv["VERSION_CODENAME"]
	f.OSPretty = kv["PRETTY_NAME"]
	f.OSFamily = f.OSName
	if like := strings.Fields(kv["ID_LIKE"]); len(like) > 0 {
		f.OSFamily = like[0]
	}
	switch f.OSFamily {
	case "fedora", "centos":
		f.OSFamily = "rhel"
	}
}

// fqdn finds the host's fully qualified name in /etc/hosts, without DNS.
func fqdn(host string) string {
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return host
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		names := fields[1:]
		for _, n := range names {
			if n == host || strings.HasPrefix(n, host+".") {
				for _, m := range names {
					if strings.HasPrefix(m, host+".") {
						return m
					}
				}
			}
		}
	}
	return host
}

func addresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := []string{}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ipn.IP.String())
	}
	sort.Strings(out)
	return out
}

func memoryMB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb / 1024
		}
	}
	return 0
}
