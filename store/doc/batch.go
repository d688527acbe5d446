package doc

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Op is what a Write does.
type Op int

// Write operations, with the meaning of the Engine methods of their names.
const (
	OpInsert Op = iota + 1
	OpReplace
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpReplace:
		return "replace"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Write is one write of a batch.
type Write struct {
	Op      Op
	Coll    string
	Doc     bson.Raw // insert, replace
	ID      string   // delete
	Version int64    // replace; delete (0: any version)
}

// BatchError is the write of a batch that failed, and why.
type BatchError struct {
	Index int // in the batch
	Op    Op
	Coll  string
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch write %d (%s %s): %v", e.Index, e.Op, e.Coll, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// Batch collects writes, encoding each value once, for one Apply.
type Batch struct {
	writes []Write
	err    error
}

// Insert adds an insert of v into coll.
func (b *Batch) Insert(coll string, v any) { b.add(OpInsert, coll, v, 0) }

// Replace adds a replace of v in coll, if its version is version.
func (b *Batch) Replace(coll string, version int64, v any) { b.add(OpReplace, coll, v, version) }

// Delete adds a delete of id from coll (if its version is version, unless 0).
func (b *Batch) Delete(coll, id string, version int64) {
	b.writes = append(b.writes, Write{Op: OpDelete, Coll: coll, ID: id, Version: version})
}

func (b *Batch) add(op Op, coll string, v any, version int64) {
	raw, err := bson.Marshal(v)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("batch write %d (%s %s): encode: %w", len(b.writes), op, coll, err)
	}
	b.writes = append(b.writes, Write{Op: op, Coll: coll, Doc: raw, Version: version})
}

// Len is the number of writes so far.
func (b *Batch) Len() int { return len(b.writes) }

// Apply runs the batch on e (see Engine.Apply).
func (b *Batch) Apply(ctx context.Context, e Engine) ([]int64, error) {
	if b.err != nil {
		return nil, b.err
	}
	return e.Apply(ctx, b.writes)
}
