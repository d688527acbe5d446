package doctest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/store/doc"
)

// scanItems are documents whose keys cover what orders differently when
// done wrong: strings by bytes (upper before lower, accents after), ties,
// negative numbers, times before 1970, both booleans.
func scanItems() []Item {
	owners := []string{"a", "B", "é", "ab"}
	kinds := []string{"x", "y"}
	var items []Item
	for i := range 48 {
		items = append(items, Item{
			ID:    fmt.Sprintf("s%02d", (i*7)%48), // ids not in insert order
			Owner: owners[i%len(owners)],
			Login: fmt.Sprintf("login-%02d", (i*11)%48),
			At:    at(int64(i/3-6) * 86_400_000), // ties of three; some before 1970
			N:     int64(i%9 - 4),
			Score: float64(i%5)*0.75 - 1.5,
			Done:  i%3 == 0,
			Meta:  Meta{Kind: kinds[i%2]},
		})
	}
	return items
}

func testScan(t *testing.T, e doc.Engine, _ Config) {
	items := scanItems()
	for _, it := range items {
		mustInsert(t, e, it)
	}
	day := func(d int64) time.Time { return at(d * 86_400_000) }
	queries := []doc.Query{
		{Index: "owner_at"},
		{Index: "owner_at", Desc: true},
		{Index: "owner_at", Eq: []any{"a"}},
		{Index: "owner_at", Eq: []any{"a"}, Desc: true},
		{Index: "owner_at", Eq: []any{"a"}, Range: doc.Range{Gte: day(-3), Lt: day(5)}},
		{Index: "owner_at", Eq: []any{"a"}, Range: doc.Range{Gt: day(-3), Lte: day(5)}, Desc: true},
		{Index: "owner_at", Eq: []any{"é"}, Range: doc.Range{Lte: day(0)}},
		{Index: "owner_at", Eq: []any{"B"}, Range: doc.Range{Gt: day(2)}},
		{Index: "owner_at", Eq: []any{"a", day(4)}},
		{Index: "owner_at", Range: doc.Range{Gte: "a", Lt: "b"}},
		{Index: "owner_at", Eq: []any{"nobody"}},
		{Index: "login"},
		{Index: "login", Desc: true},
		{Index: "login", Range: doc.Range{Gt: "login-10", Lte: "login-30"}},
		{Index: "login", Eq: []any{"login-11"}},
		{Index: "kind_done_n", Eq: []any{"x", true}, Range: doc.Range{Gte: -2, Lt: 3}},
		{Index: "kind_done_n", Eq: []any{"x"}, Desc: true},
		{Index: "kind_done_n", Eq: []any{"y", false}, Range: doc.Range{Gt: int64(-4)}, Desc: true},
		{Index: "kind_done_n", Eq: []any{"y"}, Range: doc.Range{Gte: true}},
		{Index: "kind_done_n", Range: doc.Range{Gt: "x"}},
		{Index: "score", Range: doc.Range{Gt: -1.5, Lte: 0.75}},
		{Index: "score", Range: doc.Range{Gte: 0}, Desc: true},
		{Index: "owner_id", Eq: []any{"ab"}},
		{Index: "owner_id", Eq: []any{"ab"}, Range: doc.Range{Gt: "s10"}, Desc: true},
		{Index: doc.ByID},
		{Index: doc.ByID, Desc: true},
		{Index: doc.ByID, Range: doc.Range{Gte: "s1", Lt: "s2"}},
		{Index: doc.ByID, Eq: []any{"s12"}},
	}
	for _, q := range queries {
		want := expect(items, q)
		for _, limit := range []int{2, 5, 1000} {
			q.Limit = limit
			got := scanAll(t, e, q)
			if !slices.Equal(got, want) {
				t.Errorf("scan %+v:\n got %v\nwant %v", q, got, want)
			}
		}
	}
}

// scanAll pages through q and returns the ids in order.
func scanAll(t testing.TB, e doc.Engine, q doc.Query) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		p, err := e.Scan(ctx(t), coll, q)
		if err != nil {
			t.Fatalf("scan %+v: %v", q, err)
		}
		if len(p.Docs) > q.Limit {
			t.Fatalf("scan %+v: %d documents on a page", q, len(p.Docs))
		}
		if p.Next != "" && len(p.Docs) != q.Limit {
			t.Fatalf("scan %+v: a short page (%d) with a next cursor", q, len(p.Docs))
		}
		for _, d := range p.Docs {
			ids = append(ids, d.ID)
		}
		if p.Next == "" {
			return ids
		}
		if pages > 10_000 {
			t.Fatalf("scan %+v does not end", q)
		}
		q.After = p.Next
	}
}

// expect is what q must return, worked out in Go.
func expect(items []Item, q doc.Query) []string {
	ix, err := Items.Index(q.Index)
	if err != nil {
		panic(err)
	}
	var ids []string
	var match []Item
	for _, it := range items {
		if matches(it, ix, q) {
			match = append(match, it)
		}
	}
	slices.SortFunc(match, func(a, b Item) int {
		for _, f := range ix.Order() {
			if c := compare(value(a, f), value(b, f)); c != 0 {
				if q.Desc {
					return -c
				}
				return c
			}
		}
		return 0
	})
	for _, it := range match {
		ids = append(ids, it.ID)
	}
	return ids
}

func matches(it Item, ix doc.Index, q doc.Query) bool {
	for i, v := range q.Eq {
		if compare(value(it, ix.Fields[i]), v) != 0 {
			return false
		}
	}
	if len(q.Eq) == len(ix.Fields) {
		return true
	}
	x, r := value(it, ix.Fields[len(q.Eq)]), q.Range
	return (r.Gt == nil || compare(x, r.Gt) > 0) && (r.Gte == nil || compare(x, r.Gte) >= 0) &&
		(r.Lt == nil || compare(x, r.Lt) < 0) && (r.Lte == nil || compare(x, r.Lte) <= 0)
}

func value(it Item, field string) any {
	switch field {
	case "_id":
		return it.ID
	case "owner":
		return it.Owner
	case "login":
		return it.Login
	case "at":
		return it.At
	case "n":
		return it.N
	case "score":
		return it.Score
	case "done":
		return it.Done
	case "meta.kind":
		return it.Meta.Kind
	}
	panic("no field " + field)
}

// compare orders like the engines within one type; numbers by value.
func compare(a, b any) int {
	switch a := a.(type) {
	case string:
		return strings.Compare(a, b.(string))
	case int64:
		return cmp.Compare(float64(a), number(b))
	case float64:
		return cmp.Compare(a, number(b))
	case bool:
		return cmp.Compare(boolInt(a), boolInt(b.(bool)))
	case time.Time:
		return a.Compare(b.(time.Time))
	}
	panic(fmt.Sprintf("compare %T", a))
}

func number(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("number %T", v))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func testScanErrors(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	for _, it := range scanItems()[:10] {
		mustInsert(t, e, it)
	}
	p, err := e.Scan(ctx, coll, doc.Query{Index: "owner_at", Limit: 2})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v, next %q", err, p.Next)
	}
	for name, q := range map[string]doc.Query{
		"undeclared index":       {Index: "nope", Limit: 1},
		"no limit":               {Index: "owner_at"},
		"equality on too many":   {Index: "owner_at", Eq: []any{"a", at(0), "x"}, Limit: 1},
		"range past the fields":  {Index: "owner_at", Eq: []any{"a", at(0)}, Range: doc.Range{Gt: at(0)}, Limit: 1},
		"two lower bounds":       {Index: "owner_at", Eq: []any{"a"}, Range: doc.Range{Gt: at(0), Gte: at(0)}, Limit: 1},
		"a value no index holds": {Index: "owner_at", Eq: []any{[]string{"a"}}, Limit: 1},
	} {
		_, err := e.Scan(ctx, coll, q)
		wantErr(t, name, err, doc.ErrInvalid)
	}
	for name, after := range map[string]string{
		"garbage":          "!!!",
		"not bson":         "aGVsbG8",
		"another index's":  p.Next,
		"truncated cursor": p.Next[:len(p.Next)/2],
	} {
		index := "owner_at"
		if name == "another index's" {
			index = "owner_id"
		}
		_, err := e.Scan(ctx, coll, doc.Query{Index: index, After: after, Limit: 2})
		wantErr(t, "cursor "+name, err, doc.ErrCursor)
	}
	_, err = e.Scan(ctx, coll, doc.Query{Index: "owner_at", Range: doc.Range{Gt: "zzz"}, After: p.Next, Limit: 2})
	wantErr(t, "cursor outside the query's range", err, doc.ErrCursor)
	_, err = e.Scan(ctx, "undeclared", doc.Query{Index: "owner_at", Limit: 1})
	wantErr(t, "scan of an undeclared collection", err, doc.ErrInvalid)
}
