package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldsync/store/doc"
)

// Collections and their indexes are declared in code, and the engines
// bring the file or the deployment up to the declaration at every start.
// Migrations are for what a declaration cannot say: rewriting stored
// documents. They run in order, once each; two instances starting together
// may both run one, so each must be idempotent.
type migration struct {
	Version int
	Name    string
	Run     func(context.Context, *Store) error
}

// migrations is the explicit, ordered list. Append; never renumber.
var migrations = []migration{}

const colMigrations = "migrations"

type migrationDoc struct {
	ID      string    `bson:"_id"` // the version, zero-padded
	Name    string    `bson:"name"`
	Applied time.Time `bson:"applied"`
}

func (s *Store) migrate(ctx context.Context) error {
	for _, m := range migrations {
		id := fmt.Sprintf("%06d", m.Version)
		_, err := s.engine.Get(ctx, colMigrations, id)
		if err == nil {
			continue
		}
		if !errors.Is(err, doc.ErrNotFound) {
			return fmt.Errorf("store: migration %d: %w", m.Version, err)
		}
		if err := m.Run(ctx, s); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := doc.Insert(ctx, s.engine, colMigrations, migrationDoc{ID: id, Name: m.Name, Applied: s.now().UTC()}); err != nil && !errors.Is(err, doc.ErrDuplicate) {
			return fmt.Errorf("store: record migration %d: %w", m.Version, err)
		}
		s.log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	return nil
}
