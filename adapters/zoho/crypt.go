package zoho

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Cipher seals refresh tokens for the store with AES-256-GCM. A sealed
// token is a version byte, the 12-byte nonce and the ciphertext with its
// tag; the tenant id is authenticated data, so a token copied to another
// tenant does not open.
type Cipher struct{ aead cipher.AEAD }

const sealVersion = 1

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("zoho: token key: want 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: a}, nil
}

// LoadKeyFile reads a token key file (zoho.token_key_file): 32 raw bytes,
// or 64 hex digits, or base64 of 32 bytes, with surrounding whitespace
// ignored. Create one with `head -c32 /dev/urandom | base64`.
func LoadKeyFile(path string) (*Cipher, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zoho: token key: %w", err)
	}
	if len(data) == 32 {
		return NewCipher(data)
	}
	s := strings.TrimSpace(string(data))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return NewCipher(k)
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return NewCipher(k)
	}
	return nil, errors.New("zoho: token key: file must hold 32 bytes (raw, 64 hex digits or base64)")
}

// Seal encrypts a refresh token of tenant.
func (c *Cipher) Seal(tenant, token string) ([]byte, error) {
	nonce := make([]byte, c.aead.NonceSize(), 1+c.aead.NonceSize()+len(token)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{sealVersion}, nonce...)
	return c.aead.Seal(out, nonce, []byte(token), []byte(tenant)), nil
}

// Open decrypts what Seal returned for the same tenant.
func (c *Cipher) Open(tenant string, sealed []byte) (string, error) {
	n := c.aead.NonceSize()
	if len(sealed) < 1+n+c.aead.Overhead() || sealed[0] != sealVersion {
		return "", errors.New("zoho: sealed token: bad format")
	}
	plain, err := c.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(tenant))
	if err != nil {
		return "", errors.New("zoho: sealed token: cannot decrypt (wrong key or tenant)")
	}
	return string(plain), nil
}
