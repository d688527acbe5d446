package store

// SetCipher sets the cipher that seals personal data.
func (db *DB) SetCipher(c *Cipher) {
	db.cipher = c
	if db.Docs != nil {
		db.Docs.SetCipher(c)
	}
}

// Fingerprint is a keyed hash of s, under the current data key: equal
// values have equal fingerprints, and nothing of s shows at rest.
func (db *DB) Fingerprint(s string) string { return db.cipher.LookupHash(s) }

// SealJSON seals v for another package's record (the sync engine's
// operation log) with the store's cipher, bound to aad: name it
// "collection/id/field".
func (db *DB) SealJSON(v any, aad string) (string, error) { return db.cipher.SealJSON(v, aad) }

// OpenJSON reads into v what SealJSON made with the same aad.
func (db *DB) OpenJSON(sealed, aad string, v any) error { return db.cipher.OpenJSON(sealed, aad, v) }
