package bustest

import (
	"testing"
)

// TestIndependent expects every NewServer to have a CA of its own: a host
// of one bus cannot connect to another.
func TestIndependent(t *testing.T) {
	a, b := NewServer(t), NewServer(t)
	a.Connect(t, "web-1")
	b.ConnectServer(t)
	if nc, err := b.Client.Connect(t.Context(), b.URL, b.CA.Pool(), a.HostCert(t, "web-1"), ""); err == nil {
		nc.Close()
		t.Errorf("a host of one test bus connected to another")
	}
}
