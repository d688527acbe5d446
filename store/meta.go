package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldsync/store/doc"
)

const colMeta = "meta"

var metaCollections = []doc.Collection{
	{Name: colMeta},
	{Name: colMigrations},
}

// Meta holds the store's own small facts: numbers and flags by key.
type Meta struct{ s *Store }

type metaDoc struct {
	Key string    `bson:"_id"`
	N   int64     `bson:"n"`
	S   string    `bson:"s,omitempty"` // a sealed value (the data key check)
	At  time.Time `bson:"at"`
}

// Int returns the number stored under key, or 0.
func (m *Meta) Int(ctx context.Context, key string) (int64, error) {
	d, _, err := doc.Get[metaDoc](ctx, m.s.engine, colMeta, key)
	if errors.Is(err, doc.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("meta %s: %w", key, err)
	}
	return d.N, nil
}

// SetInt stores n under key.
func (m *Meta) SetInt(ctx context.Context, key string, n int64) error {
	return m.put(ctx, key, func(d *metaDoc) { d.N = n })
}

// Raise stores n under key unless a larger number is there already, so
// racing writers of a high-water mark never move it back.
func (m *Meta) Raise(ctx context.Context, key string, n int64) error {
	return m.put(ctx, key, func(d *metaDoc) { d.N = max(d.N, n) })
}

// Flag reports whether key was set.
func (m *Meta) Flag(ctx context.Context, key string) (bool, error) {
	_, err := m.s.engine.Get(ctx, colMeta, key)
	if errors.Is(err, doc.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("meta %s: %w", key, err)
	}
	return true, nil
}

// SetFlag sets key, once: a flag already set keeps its first time.
func (m *Meta) SetFlag(ctx context.Context, key string) error {
	_, err := doc.Insert(ctx, m.s.engine, colMeta, metaDoc{Key: key, N: 1, At: m.s.now().UTC()})
	if err != nil && !errors.Is(err, doc.ErrDuplicate) {
		return fmt.Errorf("meta %s: %w", key, err)
	}
	return nil
}

func (m *Meta) put(ctx context.Context, key string, change func(*metaDoc)) error {
	for {
		_, _, err := doc.Modify(ctx, m.s.engine, colMeta, key, func(d *metaDoc) error {
			change(d)
			d.At = m.s.now().UTC()
			return nil
		})
		if !errors.Is(err, doc.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("meta %s: %w", key, err)
			}
			return nil
		}
		d := metaDoc{Key: key, At: m.s.now().UTC()}
		change(&d)
		if _, err := doc.Insert(ctx, m.s.engine, colMeta, d); !errors.Is(err, doc.ErrDuplicate) {
			if err != nil {
				return fmt.Errorf("meta %s: %w", key, err)
			}
			return nil
		}
		// Someone inserted it meanwhile: modify theirs.
	}
}
