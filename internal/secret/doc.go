// Package secret seals the values of secret vars so that the server stores
// them encrypted at rest.
//
// A Box holds a 256-bit key, kept in a file of its own (LoadOrCreateKey)
// apart from the database: a copy of the database alone reveals no secret.
// Seal encrypts a value with AES-256-GCM under a fresh random nonce and
// binds it to the name of its var as additional data, so a sealed value
// copied under another name, or altered in any way, fails to open.
//
// A sealed value is a version byte (1), the 12-byte nonce, then the
// ciphertext with its 16-byte tag.
package secret
