package store_test

import (
	"strings"
	"testing"

	"fieldsync/store"
)

func key(t *testing.T, b byte) store.DataKey {
	t.Helper()
	k, err := store.NewDataKey([]byte(strings.Repeat(string(rune('a'+b)), 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCipher(t *testing.T) {
	oldKey, newKey := key(t, 0), key(t, 1)
	old, _ := store.NewCipher(oldKey)
	sealed, err := old.Seal("+8613900000001", "customers/c1/phone")
	if err != nil || !strings.HasPrefix(sealed, "enc1."+oldKey.ID+".") || strings.Contains(sealed, "139") {
		t.Fatalf("sealed = %q, %v", sealed, err)
	}
	again, _ := old.Seal("+8613900000001", "customers/c1/phone")
	if again == sealed {
		t.Fatal("sealing is deterministic: nonces repeat")
	}
	if pt, err := old.Open(sealed, "customers/c1/phone"); err != nil || pt != "+8613900000001" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	// Bound to its place: the same ciphertext on another record does not open.
	if _, err := old.Open(sealed, "customers/c2/phone"); err == nil {
		t.Fatal("ciphertext opened under another record's associated data")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := old.Open(tampered, "customers/c1/phone"); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	// Rotation: the new cipher opens old values and seals with the new key.
	rotated, _ := store.NewCipher(newKey, oldKey)
	if pt, err := rotated.Open(sealed, "customers/c1/phone"); err != nil || pt != "+8613900000001" {
		t.Fatalf("old value after rotation = %q, %v", pt, err)
	}
	if s, _ := rotated.Seal("x", "a"); !strings.HasPrefix(s, "enc1."+newKey.ID+".") {
		t.Fatalf("rotated cipher seals with %q", s)
	}
	// Lookups find values hashed under the old key.
	h := old.LookupHash("+8613900000001")
	found := false
	for _, x := range rotated.LookupHashes("+8613900000001") {
		found = found || x == h
	}
	if !found {
		t.Fatal("lookup hash under the old key not among the rotated cipher's")
	}
	// Without the old key nothing opens.
	only, _ := store.NewCipher(newKey)
	if _, err := only.Open(sealed, "customers/c1/phone"); err == nil {
		t.Fatal("opened without the key")
	}
	if s, err := old.Seal("", "x"); s != "" || err != nil {
		t.Fatal("empty value should stay empty")
	}
}
