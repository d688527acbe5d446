package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fieldsync/store/doc"
)

// ErrDataKey is a data key that cannot be the one this store's personal
// data was sealed with: the store refuses to open rather than serve
// records it cannot read or seal new ones with a key the old ones do not
// share.
var ErrDataKey = errors.New("wrong data key")

const (
	metaKeyCheck  = "dataKeyCheck"
	keyCheckPlain = "fieldsync data key check v1"
	keyCheckAAD   = "meta/" + metaKeyCheck
)

// CheckDataKey verifies the cipher against the key check: a known value
// sealed with the data key, written at the first open with a cipher. A
// check sealed with a previous key (a rotation) is sealed again with the
// current one, so the previous key can later be retired. With no check
// yet, a key generated for this open on a store that already holds
// accounts or customers is a missing key, not a first start. Open calls
// it when given a cipher.
func (s *Store) CheckDataKey(ctx context.Context, generated bool) error {
	d, _, err := doc.Get[metaDoc](ctx, s.engine, colMeta, metaKeyCheck)
	switch {
	case errors.Is(err, doc.ErrNotFound):
		if generated {
			for _, coll := range []string{colUsers, colCustomers} {
				p, err := s.engine.Scan(ctx, coll, doc.Query{Index: doc.ByID, Limit: 1})
				if err != nil {
					return fmt.Errorf("store: key check: %w", err)
				}
				if len(p.Docs) > 0 {
					return fmt.Errorf("%w: the store already holds %s but the data key was just generated: the key its data was sealed with is missing", ErrDataKey, coll)
				}
			}
		}
		sealed, err := s.cipher.Seal(keyCheckPlain, keyCheckAAD)
		if err != nil {
			return fmt.Errorf("store: key check: %w", err)
		}
		_, err = doc.Insert(ctx, s.engine, colMeta, metaDoc{Key: metaKeyCheck, S: sealed, At: s.now().UTC()})
		if errors.Is(err, doc.ErrDuplicate) {
			return s.CheckDataKey(ctx, false) // another instance wrote it first: check theirs
		}
		if err != nil {
			return fmt.Errorf("store: write key check: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("store: read key check: %w", err)
	}
	if pt, err := s.cipher.Open(d.S, keyCheckAAD); err != nil || pt != keyCheckPlain {
		kid := "?"
		if rest, ok := strings.CutPrefix(d.S, sealPrefix); ok {
			kid, _, _ = strings.Cut(rest, ".")
		}
		return fmt.Errorf("%w: this store's personal data is sealed with data key %s, which is not among the keys given (%s)", ErrDataKey, kid, strings.Join(s.cipher.KeyIDs(), ", "))
	}
	if strings.HasPrefix(d.S, sealPrefix+s.cipher.current+".") {
		return nil
	}
	_, _, err = doc.Modify(ctx, s.engine, colMeta, metaKeyCheck, func(m *metaDoc) error {
		sealed, err := s.cipher.Seal(keyCheckPlain, keyCheckAAD)
		m.S, m.At = sealed, s.now().UTC()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: reseal key check: %w", err)
	}
	return nil
}
