// Package doc is the small document-engine contract that fieldsync's
// storage is written against once, and that two engines implement:
// SQLite used directly (store/sqlite, the embedded default) and MongoDB
// (store/mongo, production on replica sets and sharded clusters).
//
// A document is a Go value encoded once with BSON, with a string _id.
// Collections are declared up front with their indexes, and only declared
// indexes can be scanned, so every query is served by an index on both
// engines. Every document carries a version that the engine manages: 1 on
// insert, one more on each replace. Conditional writes on one document
// (insert if absent, replace or delete if the version matches) are atomic
// on both engines; they, ids derived from their cause and unique indexes
// are what correctness rests on. A batch (Apply) is one transaction on
// SQLite but only ordered writes on MongoDB: never rely on its atomicity.
package doc

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Errors the engines return, wrapped with context; test with errors.Is.
var (
	// ErrNotFound: no document has that id.
	ErrNotFound = errors.New("document not found")
	// ErrDuplicate: an insert met an existing _id, or a write would give
	// two documents the same key of a unique index.
	ErrDuplicate = errors.New("duplicate key")
	// ErrVersion: the document exists with another version than the one
	// the conditional write named.
	ErrVersion = errors.New("version mismatch")
	// ErrInvalid: the engine refuses the document or the query as shaped
	// (no string _id, an indexed field missing or not a scalar, an
	// undeclared collection or index, ...). A programming error.
	ErrInvalid = errors.New("invalid document or query")
	// ErrCursor: a scan's cursor is malformed or belongs to another index.
	// Cursors may come from clients, so this one is their mistake.
	ErrCursor = errors.New("invalid cursor")
	// ErrUnavailable: the store did not answer in time or could not be
	// reached; the operation may or may not have happened. Nothing
	// outside the engines knows a driver, so this is how callers tell it.
	ErrUnavailable = errors.New("store unavailable")
)

// VersionField is reserved: the MongoDB engine keeps the version in it, so
// documents must not have a field of that name.
const VersionField = "_v"

// Engine is a document store. Every collection named must have been
// declared when the engine was opened.
type Engine interface {
	// Get returns the document id of coll, or ErrNotFound.
	Get(ctx context.Context, coll, id string) (Doc, error)
	// GetMany returns the documents of ids that exist, in the order of ids.
	GetMany(ctx context.Context, coll string, ids []string) ([]Doc, error)
	// Insert writes a new document and returns its version (1). An
	// existing _id or unique key is ErrDuplicate.
	Insert(ctx context.Context, coll string, d bson.Raw) (int64, error)
	// Replace overwrites the document with d's _id if its version is
	// version, and returns the new version. ErrNotFound if there is no
	// such document, ErrVersion if its version differs, ErrDuplicate if
	// d would break a unique index.
	Replace(ctx context.Context, coll string, version int64, d bson.Raw) (int64, error)
	// Delete removes the document id; with a version other than 0, only
	// if its version is that (else ErrVersion). ErrNotFound if absent.
	Delete(ctx context.Context, coll, id string, version int64) error
	// Scan reads one page of an index in its order. See Query.
	Scan(ctx context.Context, coll string, q Query) (Page, error)
	// Apply runs the writes in order and returns each one's version (0
	// for deletes). It stops at the first write that fails and returns a
	// *BatchError naming it. On SQLite nothing of a failed batch stays
	// written; on MongoDB the writes before the failed one do.
	Apply(ctx context.Context, writes []Write) ([]int64, error)
}

// Doc is a stored document.
type Doc struct {
	ID      string
	Version int64
	Raw     bson.Raw // the document as written
}

// Decode unmarshals the document into v.
func (d Doc) Decode(v any) error {
	if err := bson.Unmarshal(d.Raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", d.ID, err)
	}
	return nil
}
