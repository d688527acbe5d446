package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Cipher seals personal data at rest with AES-256-GCM. Every sealed value
// names the key it was sealed with, so keys rotate: new writes use the
// current key, old values still open with the previous ones. Each value is
// bound to where it lives (collection, document, field) as associated data,
// so a ciphertext copied onto another record does not open.
type Cipher struct {
	current string
	keys    map[string]cipher.AEAD
	lookup  map[string][]byte // per key id: the HMAC key for lookups
}

// DataKey is one 32-byte key and its id.
type DataKey struct {
	ID  string
	Key []byte
}

// NewDataKey derives the id from the key so every instance agrees on it.
func NewDataKey(key []byte) (DataKey, error) {
	if len(key) != 32 {
		return DataKey{}, fmt.Errorf("data key must be 32 bytes, got %d", len(key))
	}
	sum := sha256.Sum256(append([]byte("fieldsync-data-kid:"), key...))
	return DataKey{ID: hex.EncodeToString(sum[:4]), Key: key}, nil
}

// NewCipher seals with current and opens with current and previous.
func NewCipher(current DataKey, previous ...DataKey) (*Cipher, error) {
	c := &Cipher{current: current.ID, keys: map[string]cipher.AEAD{}, lookup: map[string][]byte{}}
	for _, k := range append([]DataKey{current}, previous...) {
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("data key %s: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("data key %s: %w", k.ID, err)
		}
		c.keys[k.ID] = aead
		m := hmac.New(sha256.New, k.Key)
		m.Write([]byte("fieldsync/lookup/v1"))
		c.lookup[k.ID] = m.Sum(nil)
	}
	return c, nil
}

// KeyIDs are the ids of the cipher's keys, the current one first.
func (c *Cipher) KeyIDs() []string {
	ids := []string{c.current}
	for kid := range c.keys {
		if kid != c.current {
			ids = append(ids, kid)
		}
	}
	return ids
}

const sealPrefix = "enc1."

// Seal encrypts plaintext bound to aad. The empty string stays empty, so
// optional fields do not grow a ciphertext.
func (c *Cipher) Seal(plaintext, aad string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	aead := c.keys[c.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return sealPrefix + c.current + "." + base64.RawStdEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("sealed value does not open")

// Open decrypts a value made by Seal with the same aad.
func (c *Cipher) Open(sealed, aad string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	kid, body, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return "", errSealed
	}
	aead, ok := c.keys[kid]
	if !ok {
		return "", fmt.Errorf("%w: unknown data key %s", errSealed, kid)
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errSealed
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return "", errSealed
	}
	return string(pt), nil
}

// LookupHash is the keyed hash a value is found by, under the current key.
func (c *Cipher) LookupHash(value string) string { return c.lookupHash(c.current, value) }

// LookupHashes are the hashes of value under every key, to find records
// written before a rotation.
func (c *Cipher) LookupHashes(value string) []string {
	out := make([]string, 0, len(c.lookup))
	for kid := range c.lookup {
		out = append(out, c.lookupHash(kid, value))
	}
	return out
}

func (c *Cipher) lookupHash(kid, value string) string {
	m := hmac.New(sha256.New, c.lookup[kid])
	m.Write([]byte(value))
	return kid + ":" + hex.EncodeToString(m.Sum(nil))
}

// Derived returns a key for the purpose label from each data key, the
// current one first: secrets derived from it survive key rotation as long
// as the old key is kept.
func (c *Cipher) Derived(label string) [][]byte {
	out := [][]byte{derive(c.lookup[c.current], label)}
	for kid, k := range c.lookup {
		if kid != c.current {
			out = append(out, derive(k, label))
		}
	}
	return out
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fieldsync/derive/" + label))
	return m.Sum(nil)
}

// SealJSON seals a structured personal value (a household profile, a
// position) as one opaque string: its JSON, sealed. Nothing of it, not even
// which fields are set, shows at rest.
func (c *Cipher) SealJSON(v any, aad string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", aad, err)
	}
	return c.Seal(string(b), aad)
}

// OpenJSON reads into v what SealJSON made; "" leaves v as it is.
func (c *Cipher) OpenJSON(sealed, aad string, v any) error {
	pt, err := c.Open(sealed, aad)
	if err != nil || pt == "" {
		return err
	}
	if err := json.Unmarshal([]byte(pt), v); err != nil {
		return fmt.Errorf("decode %s: %w", aad, err)
	}
	return nil
}
