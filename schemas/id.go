package schemas

import "github.com/google/uuid"

// NewID returns a new time-ordered id (UUIDv7): ids sort by creation, so
// cursor pagination by id is stable and index inserts stay local.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s has the shape of an id made by NewID, so
// malformed ids are refused before they reach the store.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
