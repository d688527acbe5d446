package store

import "context"

// Migration 3 created the change log's and the visits' review and dirty
// indexes; both moved to fieldsync/store (Changes, Visits). The number
// stays taken, so stores that ran it see no new migration.
func init() {
	Register(Migration{3, "change_log", func(context.Context, *DB) error { return nil }})
}
