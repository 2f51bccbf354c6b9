package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the size of a key in bytes: AES-256.
const KeySize = 32

// version is the first byte of every sealed value.
const version = 1

// ErrOpen is returned, wrapped, by Open when a sealed value does not open:
// it was altered, sealed under another key, or for another name.
var ErrOpen = errors.New("sealed value does not open")

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for key, which must be KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext, the value of the var name, under a random
// nonce, with name as additional data.
func (b *Box) Seal(plaintext []byte, name string) ([]byte, error) {
	n := b.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal %s: %w", name, err)
	}
	return b.aead.Seal(out, out[1:], plaintext, []byte(name)), nil
}

// Open decrypts sealed, the sealed value of the var name. A value that
// does not open gives an error wrapping ErrOpen.
func (b *Box) Open(sealed []byte, name string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() {
		return nil, fmt.Errorf("open %s: too short: %w", name, ErrOpen)
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("open %s: unknown version %d: %w", name, sealed[0], ErrOpen)
	}
	out, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, ErrOpen)
	}
	return out, nil
}
