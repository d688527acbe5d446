package doctest

import (
	"errors"
	"slices"
	"testing"

	"fieldsync/store/doc"
)

func testBatch(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("old"))
	mustInsert(t, e, item("gone"))
	changed := item("old")
	changed.Note = "changed"
	var b doc.Batch
	b.Insert(coll, item("a"))
	b.Insert(coll, item("b"))
	b.Replace(coll, 1, changed)
	b.Delete(coll, "gone", 1)
	b.Insert(coll, item("c"))
	versions, err := b.Apply(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 1, 2, 0, 1}; !slices.Equal(versions, want) {
		t.Errorf("versions %v, want %v", versions, want)
	}
	for _, id := range []string{"a", "b", "c"} {
		mustGet(t, e, id)
	}
	if got, v := mustGet(t, e, "old"); got != changed || v != 2 {
		t.Errorf("old = %+v v%d", got, v)
	}
	if _, err := e.Get(ctx, coll, "gone"); !errors.Is(err, doc.ErrNotFound) {
		t.Errorf("gone: %v", err)
	}
	if _, err := e.Apply(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// testBatchFailure: a failing write stops the batch and is named; on an
// atomic engine nothing of the batch stays, on the others what came before.
// A document the engine refuses as shaped is found before anything is
// written, on every engine.
func testBatchFailure(t *testing.T, e doc.Engine, c Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("old"))
	for _, tc := range []struct {
		name    string
		bad     func(*doc.Batch)
		want    error
		checked bool // refused before anything is written
	}{
		{"duplicate id", func(b *doc.Batch) { b.Insert(coll, item("old")) }, doc.ErrDuplicate, false},
		{"duplicate unique key", func(b *doc.Batch) { x := item("x"); x.Login = "login-old"; b.Insert(coll, x) }, doc.ErrDuplicate, false},
		{"stale version", func(b *doc.Batch) { b.Replace(coll, 9, item("old")) }, doc.ErrVersion, false},
		{"missing document", func(b *doc.Batch) { b.Delete(coll, "nope", 0) }, doc.ErrNotFound, false},
		{"invalid document", func(b *doc.Batch) { x := item("x"); b.Insert(coll, map[string]any{"_id": x.ID}) }, doc.ErrInvalid, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := item("before-"+tc.name), item("after-"+tc.name)
			var b doc.Batch
			b.Insert(coll, before)
			b.Replace(coll, 1, item("old")) // changes old to v2, or not
			tc.bad(&b)
			b.Insert(coll, after)
			_, err := b.Apply(ctx, e)
			var be *doc.BatchError
			if !errors.As(err, &be) || be.Index != 2 || !errors.Is(err, tc.want) {
				t.Fatalf("apply = %v; want a *doc.BatchError at 2 wrapping %v", err, tc.want)
			}
			if _, err := e.Get(ctx, coll, after.ID); !errors.Is(err, doc.ErrNotFound) {
				t.Errorf("the write after the failed one was applied: %v", err)
			}
			_, err = e.Get(ctx, coll, before.ID)
			_, v := mustGet(t, e, "old")
			if c.AtomicBatch || tc.checked {
				if !errors.Is(err, doc.ErrNotFound) || v != 1 {
					t.Errorf("a failed batch left writes: before: %v, old v%d", err, v)
				}
				return
			}
			if err != nil || v != 2 {
				t.Errorf("ordered writes before the failure are missing: before: %v, old v%d", err, v)
			}
			// Put old back to version 1 for the next case: delete and insert.
			if err := e.Delete(ctx, coll, "old", 2); err != nil {
				t.Fatal(err)
			}
			mustInsert(t, e, item("old"))
		})
	}
}
