package selector

import (
	"fmt"
	"testing"
)

// benchHosts builds n hosts with labels and facts like an agent reports.
func benchHosts(n int) []Host {
	roles := []string{"web", "db", "cache", "worker"}
	envs := []string{"alpha", "preprod", "demo", "prod"}
	oses := []string{"linux", "linux", "linux", "windows", "freebsd"}
	hosts := make([]Host, n)
	for i := range hosts {
		hosts[i] = Host{
			ID: fmt.Sprintf("host-%05d", i),
			Labels: map[string]string{
				"role":             roles[i%len(roles)],
				"env":              envs[i/len(roles)%len(envs)],
				"team":             fmt.Sprintf("team-%d", i%7),
				"example.com/rack": fmt.Sprintf("r%d", i%40),
			},
			Facts: map[string]string{
				"os":         oses[i%len(oses)],
				"os_family":  "debian",
				"os_name":    "debian",
				"os_version": "12",
				"arch":       "amd64",
				"machine":    "x86_64",
				"hostname":   fmt.Sprintf("host-%05d", i),
				"fqdn":       fmt.Sprintf("host-%05d.example.com", i),
				"addresses":  fmt.Sprintf("10.0.%d.%d,fe80::%x", i/256, i%256, i),
				"cpu_count":  fmt.Sprint(1 << (i % 4)),
				"memory_mb":  fmt.Sprint(1024 << (i % 5)),
				"kernel":     "6.1.0-18-amd64",
				"init":       "systemd",
				"virtual":    "physical",
			},
		}
	}
	return hosts
}

// BenchmarkMatch10k filters 10,000 hosts with one selector, as the server
// does for each job: ns/op is the time for the whole fleet.
func BenchmarkMatch10k(b *testing.B) {
	hosts := benchHosts(10_000)
	for _, in := range []string{
		"*",
		"id=host-05000",
		"role=web,env in (prod,preprod),os!=windows",
		"role=web,env in (prod,preprod),os!=windows,cpu_count>2,memory_mb<8192,addresses=10.0.1.4",
	} {
		s, err := Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = 0
				for _, h := range hosts {
					if s.Match(h) {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(hosts)), "ns/host")
			b.ReportMetric(float64(n), "hosts")
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(`role=web,env in (prod,preprod),os!=windows,cpu_count>2,owner="Jane Doe"`); err != nil {
			b.Fatal(err)
		}
	}
}
