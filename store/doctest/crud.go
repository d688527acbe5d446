package doctest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

func item(id string) Item {
	return Item{ID: id, Owner: "o", Login: "login-" + id, At: at(1_700_000_000_000), N: 1, Meta: Meta{Kind: "k"}}
}

func testInsertGet(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	want := item("a")
	want.Note = "first"
	v, err := doc.Insert(ctx, e, coll, want)
	if err != nil || v != 1 {
		t.Fatalf("insert = %d, %v; want 1, nil", v, err)
	}
	got, v := mustGet(t, e, "a")
	if v != 1 || got != want {
		t.Fatalf("get = %+v v%d; want %+v v1", got, v, want)
	}
	d, err := e.Get(ctx, coll, "a")
	if err != nil || d.ID != "a" || d.Version != 1 {
		t.Fatalf("raw get = %+v, %v", d, err)
	}
	if _, err := d.Raw.LookupErr(doc.VersionField); err == nil {
		t.Errorf("the stored document shows the engine's %s field", doc.VersionField)
	}
	_, err = e.Get(ctx, coll, "missing")
	wantErr(t, "get missing", err, doc.ErrNotFound)

	again := item("a")
	again.Login = "other"
	_, err = doc.Insert(ctx, e, coll, again)
	wantErr(t, "insert of an existing id", err, doc.ErrDuplicate)
	_, err = doc.Insert(ctx, e, coll, Item{ID: "b", Owner: "o", Login: want.Login, Meta: Meta{Kind: "k"}})
	wantErr(t, "insert of an existing unique key", err, doc.ErrDuplicate)
	if got, _ := mustGet(t, e, "a"); got != want {
		t.Errorf("after refused inserts: %+v, want %+v", got, want)
	}
	if _, err := e.Get(ctx, coll, "b"); !errors.Is(err, doc.ErrNotFound) {
		t.Errorf("refused insert stored b: %v", err)
	}
}

func testReplace(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("a"))
	mustInsert(t, e, item("b"))
	it, v := mustGet(t, e, "a")
	it.Note, it.N = "changed", 2
	v2, err := doc.Replace(ctx, e, coll, v, it)
	if err != nil || v2 != 2 {
		t.Fatalf("replace = %d, %v; want 2, nil", v2, err)
	}
	if got, v := mustGet(t, e, "a"); got != it || v != 2 {
		t.Fatalf("after replace: %+v v%d", got, v)
	}
	stale := it
	stale.Note = "stale"
	_, err = doc.Replace(ctx, e, coll, 1, stale)
	wantErr(t, "replace with a stale version", err, doc.ErrVersion)
	_, err = doc.Replace(ctx, e, coll, 1, item("missing"))
	wantErr(t, "replace of a missing document", err, doc.ErrNotFound)
	if got, v := mustGet(t, e, "a"); got != it || v != 2 {
		t.Fatalf("refused replaces changed a: %+v v%d", got, v)
	}
	if v3, err := doc.Replace(ctx, e, coll, 2, it); err != nil || v3 != 3 {
		t.Fatalf("replace = %d, %v; want 3, nil", v3, err)
	}
}

func testReplaceUniqueKey(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("a"))
	mustInsert(t, e, item("b"))
	clash := item("a")
	clash.Login = "login-b"
	_, err := doc.Replace(ctx, e, coll, 1, clash)
	wantErr(t, "replace onto another's unique key", err, doc.ErrDuplicate)
	if got, v := mustGet(t, e, "a"); got != item("a") || v != 1 {
		t.Fatalf("a refused replace changed a: %+v v%d", got, v)
	}
	clash.Login = "login-free"
	if _, err := doc.Replace(ctx, e, coll, 1, clash); err != nil {
		t.Fatalf("replace onto a free key: %v", err)
	}
}

func testDelete(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("a"))
	mustInsert(t, e, item("b"))
	wantErr(t, "delete with another version", e.Delete(ctx, coll, "a", 7), doc.ErrVersion)
	if err := e.Delete(ctx, coll, "a", 1); err != nil {
		t.Fatalf("delete a v1: %v", err)
	}
	if err := e.Delete(ctx, coll, "b", 0); err != nil {
		t.Fatalf("delete b: %v", err)
	}
	wantErr(t, "get deleted", func() error { _, err := e.Get(ctx, coll, "a"); return err }(), doc.ErrNotFound)
	wantErr(t, "delete missing", e.Delete(ctx, coll, "a", 0), doc.ErrNotFound)
	wantErr(t, "delete missing with version", e.Delete(ctx, coll, "a", 1), doc.ErrNotFound)
	// The id and the unique key are free again; the version starts over.
	if v, err := doc.Insert(ctx, e, coll, item("a")); err != nil || v != 1 {
		t.Fatalf("insert after delete = %d, %v", v, err)
	}
}

func testGetMany(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	var ids []string
	for i := range 30 {
		id := fmt.Sprintf("g%02d", i)
		mustInsert(t, e, item(id))
		ids = append(ids, id)
	}
	ask := []string{"g07", "nope", "g03", "g29", "g00", "g07"}
	docs, err := e.GetMany(ctx, coll, ask)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.ID)
		if d.Version != 1 {
			t.Errorf("%s version %d", d.ID, d.Version)
		}
	}
	if want := []string{"g07", "g03", "g29", "g00", "g07"}; !slices.Equal(got, want) {
		t.Errorf("get many %v = %v, want %v", ask, got, want)
	}
	docs, err = e.GetMany(ctx, coll, ids)
	if err != nil || len(docs) != len(ids) {
		t.Fatalf("get all = %d docs, %v", len(docs), err)
	}
	if docs, err := e.GetMany(ctx, coll, nil); err != nil || len(docs) != 0 {
		t.Errorf("get none = %v, %v", docs, err)
	}
}

func testInvalid(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	ok := bson.D{{Key: "owner", Value: "o"}, {Key: "login", Value: "l"}, {Key: "at", Value: at(0)}, {Key: "n", Value: 1},
		{Key: "score", Value: 1.5}, {Key: "done", Value: false}, {Key: "meta", Value: bson.D{{Key: "kind", Value: "k"}}}}
	with := func(d ...bson.E) bson.D {
		out := slices.Clone(ok)
		for _, e := range d {
			if i := slices.IndexFunc(out, func(x bson.E) bool { return x.Key == e.Key }); i >= 0 {
				out[i] = e
			} else {
				out = append(out, e)
			}
		}
		return out
	}
	without := func(d bson.D, key string) bson.D {
		return slices.DeleteFunc(slices.Clone(d), func(x bson.E) bool { return x.Key == key })
	}
	id := bson.E{Key: "_id", Value: "x"}
	for name, d := range map[string]bson.D{
		"no _id":                 ok,
		"numeric _id":            with(bson.E{Key: "_id", Value: 7}),
		"empty _id":              with(bson.E{Key: "_id", Value: ""}),
		"reserved version field": with(id, bson.E{Key: doc.VersionField, Value: 3}),
		"indexed field missing":  without(with(id), "owner"),
		"nested field missing":   with(id, bson.E{Key: "meta", Value: bson.D{}}),
		"array in an index":      with(id, bson.E{Key: "owner", Value: bson.A{"a", "b"}}),
		"null in an index":       with(id, bson.E{Key: "at", Value: nil}),
	} {
		_, err := doc.Insert(ctx, e, coll, d)
		wantErr(t, "insert with "+name, err, doc.ErrInvalid)
	}
	if _, err := doc.Insert(ctx, e, coll, with(id)); err != nil {
		t.Fatalf("valid insert: %v", err)
	}
	_, err := doc.Replace(ctx, e, coll, 1, without(with(id), "login"))
	wantErr(t, "replace without an indexed field", err, doc.ErrInvalid)
	_, err = doc.Replace(ctx, e, coll, 0, with(id))
	wantErr(t, "replace without a version", err, doc.ErrInvalid)
	_, err = doc.Insert(ctx, e, "undeclared", with(id))
	wantErr(t, "insert into an undeclared collection", err, doc.ErrInvalid)
	_, err = e.Get(ctx, "undeclared", "x")
	wantErr(t, "get from an undeclared collection", err, doc.ErrInvalid)
	if _, v := mustGet(t, e, "x"); v != 1 {
		t.Errorf("refused replaces changed x: v%d", v)
	}
}

// testUnavailable: a store that does not answer in time says so, the
// same way on every engine, so callers can answer 503 without knowing a
// driver.
func testUnavailable(t *testing.T, e doc.Engine, _ Config) {
	mustInsert(t, e, item("a"))
	late, cancel := context.WithTimeout(context.Background(), -time.Second) // past its deadline already
	defer cancel()
	_, err := e.Get(late, coll, "a")
	wantErr(t, "get", err, doc.ErrUnavailable)
	_, err = e.GetMany(late, coll, []string{"a"})
	wantErr(t, "get many", err, doc.ErrUnavailable)
	_, err = doc.Insert(late, e, coll, item("b"))
	wantErr(t, "insert", err, doc.ErrUnavailable)
	_, err = doc.Replace(late, e, coll, 1, item("a"))
	wantErr(t, "replace", err, doc.ErrUnavailable)
	wantErr(t, "delete", e.Delete(late, coll, "a", 0), doc.ErrUnavailable)
	_, err = e.Scan(late, coll, doc.Query{Index: "owner_at", Limit: 1})
	wantErr(t, "scan", err, doc.ErrUnavailable)
	var b doc.Batch
	b.Insert(coll, item("c"))
	_, err = b.Apply(late, e)
	wantErr(t, "apply", err, doc.ErrUnavailable)
	if _, v := mustGet(t, e, "a"); v != 1 {
		t.Errorf("a late write landed: v%d", v)
	}
}
