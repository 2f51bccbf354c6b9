package wire

import "testing"

func TestFinal(t *testing.T) {
	for status, want := range map[string]bool{
		StatusOK: true, StatusChanged: true, StatusFailed: true, StatusTimeout: true,
		StatusPending: false, StatusUnreachable: false, "": false, "bogus": false,
	} {
		if Final(status) != want {
			t.Errorf("Final(%q) = %v, want %v", status, !want, want)
		}
	}
}
