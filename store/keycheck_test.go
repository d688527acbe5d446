package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func cipherOf(t *testing.T, keys ...store.DataKey) *store.Cipher {
	t.Helper()
	c, err := store.NewCipher(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkWith checks the data key of s as an open with cipher c would.
func checkWith(t *testing.T, s *store.Store, c *store.Cipher, generated bool) error {
	t.Helper()
	s.SetCipher(c)
	return s.CheckDataKey(t.Context(), generated)
}

// TestDataKeyCheck: the first open with a cipher writes the key check;
// another key is then refused with ErrDataKey naming the key the data
// needs; a rotation (new key, old one previous) passes and moves the check
// to the new key, so the old one can then be dropped.
func TestDataKeyCheck(t *testing.T) {
	a, b, c := key(t, 0), key(t, 1), key(t, 2)
	opts := storetest.Options(t, nil)
	opts.Cipher = cipherOf(t, a)
	s := storetest.Open(t, opts)
	if err := checkWith(t, s, cipherOf(t, a), false); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	err := checkWith(t, s, cipherOf(t, b), false)
	if !errors.Is(err, store.ErrDataKey) || !strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), b.ID) {
		t.Fatalf("a wrong key: %v; want ErrDataKey naming %s and %s", err, a.ID, b.ID)
	}
	if err := checkWith(t, s, cipherOf(t, b), true); !errors.Is(err, store.ErrDataKey) {
		t.Fatalf("a generated key: %v; want ErrDataKey", err)
	}
	if err := checkWith(t, s, cipherOf(t, b, a), false); err != nil {
		t.Fatalf("rotated to b with a previous: %v", err)
	}
	if err := checkWith(t, s, cipherOf(t, b), false); err != nil {
		t.Fatalf("b alone after the rotation: %v", err)
	}
	if err := checkWith(t, s, cipherOf(t, c, a), false); !errors.Is(err, store.ErrDataKey) {
		t.Fatalf("the retired key a after the rotation: %v; want ErrDataKey", err)
	}
}

// TestOpenRefusesWrongDataKey: Open runs the check.
func TestOpenRefusesWrongDataKey(t *testing.T) {
	opts := storetest.Options(t, nil)
	opts.Cipher = cipherOf(t, key(t, 0))
	storetest.Open(t, opts)
	opts.Cipher = cipherOf(t, key(t, 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, opts)
	if err == nil {
		s.Close(ctx)
	}
	if !errors.Is(err, store.ErrDataKey) {
		t.Fatalf("open with a wrong key: %v; want ErrDataKey", err)
	}
}

// TestDataKeyGeneratedForOldData: a store written before the key check
// existed has none; a key generated for it (the key file was lost) is
// refused, the key it is given is trusted and recorded.
func TestDataKeyGeneratedForOldData(t *testing.T) {
	opts := storetest.Options(t, nil)
	opts.Cipher = nil // no cipher: no key check, as before this release
	s := storetest.Open(t, opts)
	u := &schemas.User{ID: schemas.NewIDAt(storetest.Epoch), Login: "boss", Name: "B", Role: schemas.RoleAdmin, CreatedAt: storetest.Epoch, UpdatedAt: storetest.Epoch}
	if err := s.Accounts.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := checkWith(t, s, cipherOf(t, key(t, 1)), true); !errors.Is(err, store.ErrDataKey) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a generated key on a store with accounts: %v; want ErrDataKey, missing", err)
	}
	if err := checkWith(t, s, cipherOf(t, key(t, 0)), false); err != nil {
		t.Fatalf("the given key: %v", err)
	}
	if err := checkWith(t, s, cipherOf(t, key(t, 1)), false); !errors.Is(err, store.ErrDataKey) {
		t.Fatalf("another key once the check is recorded: %v", err)
	}

	fresh := storetest.Options(t, nil)
	fresh.KeyGenerated = true
	storetest.Open(t, fresh) // a generated key on a new store
}
