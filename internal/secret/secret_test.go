package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newBox(t *testing.T) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := newBox(t)
	for _, tt := range []struct{ name, value string }{
		{"db_password", "hunter2"},
		{"empty", ""},
		{"binary", "\x00\xff é ☃"},
		{"", "no name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := b.Seal([]byte(tt.value), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if tt.value != "" && bytes.Contains(sealed, []byte(tt.value)) {
				t.Errorf("sealed value holds the plaintext")
			}
			got, err := b.Open(sealed, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.value {
				t.Errorf("Open = %q, want %q", got, tt.value)
			}
			again, err := b.Seal([]byte(tt.value), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(sealed, again) {
				t.Errorf("sealing twice gave the same bytes: the nonce is not random")
			}
		})
	}
}

func TestOpenFails(t *testing.T) {
	b := newBox(t)
	sealed, err := b.Seal([]byte("hunter2"), "db_password")
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(bytes.Repeat([]byte{8}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	for _, tt := range []struct {
		name   string
		box    *Box
		sealed []byte
		as     string
	}{
		{"wrong name", b, sealed, "api_key"},
		{"tampered ciphertext", b, flip(len(sealed) - 20), "db_password"},
		{"tampered tag", b, flip(len(sealed) - 1), "db_password"},
		{"tampered nonce", b, flip(1), "db_password"},
		{"unknown version", b, flip(0), "db_password"},
		{"truncated", b, sealed[:20], "db_password"},
		{"empty", b, nil, "db_password"},
		{"other key", other, sealed, "db_password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, tt.as)
			if !errors.Is(err, ErrOpen) || got != nil {
				t.Errorf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	b, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Errorf("key file has mode %v and %d bytes, want 0600 and %d", fi.Mode().Perm(), fi.Size(), KeySize)
	}
	sealed, err := b.Seal([]byte("hunter2"), "db_password")
	if err != nil {
		t.Fatal(err)
	}
	// Loading again gives the same key.
	b2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Open(sealed, "db_password"); err != nil || string(got) != "hunter2" {
		t.Errorf("Open with the key loaded again = %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the directory holds %v, want the key file only", entries)
	}
}

func TestLoadKeyRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	for _, tt := range []struct {
		name, path, wantErr string
	}{
		{"group readable", write("g.key", key, 0o640), "has mode 0640: group or others may access it"},
		{"world readable", write("o.key", key, 0o604), "has mode 0604: group or others may access it"},
		{"group writable", write("w.key", key, 0o620), "has mode 0620"},
		{"short", write("short.key", key[:16], 0o600), "want exactly 32 bytes"},
		{"long", write("long.key", append(key, 0), 0o600), "want exactly 32 bytes"},
		{"directory", dir, "is not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := LoadOrCreateKey(tt.path); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadOrCreateKey error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	// A refused key file is left as it was.
	if b, err := os.ReadFile(filepath.Join(dir, "g.key")); err != nil || !bytes.Equal(b, key) {
		t.Errorf("the refused key file changed: %x, %v", b, err)
	}
}

// TestCreateKeyConcurrently loads a missing key from many goroutines at
// once, as processes starting together would: all get the same key.
func TestCreateKeyConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	boxes := make([]*Box, 8)
	var wg sync.WaitGroup
	for i := range boxes {
		wg.Go(func() {
			b, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
			}
			boxes[i] = b
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sealed, err := boxes[0].Seal([]byte("x"), "n")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range boxes {
		if _, err := b.Open(sealed, "n"); err != nil {
			t.Errorf("box %d has another key: %v", i, err)
		}
	}
}
