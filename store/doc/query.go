package doc

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Query reads an index: documents whose first len(Eq) index fields equal
// Eq, and whose next field is within Range, in the index's order (Desc
// reverses it), Limit at a time. Pass a page's Next as After to read on.
// Paging is by key, so a page never repeats or skips a document that
// stays in place, whatever is written meanwhile.
type Query struct {
	Index string
	Eq    []any
	Range Range
	Desc  bool
	After string // a previous page's Next; "" for the first page
	Limit int    // at least 1
}

// Range bounds the index field after the Eq prefix; nil means unbounded.
// Give at most one bound per side.
type Range struct {
	Gt, Gte, Lt, Lte any
}

// Page is one page of a scan.
type Page struct {
	Docs []Doc
	Next string // the cursor of the next page; "" when the scan is done
}

// Bound is one side of a planned range.
type Bound struct {
	Value     bson.RawValue
	Inclusive bool
}

// Plan is a checked query, in the terms both engines translate: equality
// on Index.Fields[:len(Eq)], a range on the field after, order by Sort
// (Index.Order() without the Eq prefix; empty when Eq fixes every field
// of a unique index), and, past the first page, a start strictly after the
// values After of Sort.
type Plan struct {
	Index        Index
	Eq           []bson.RawValue
	Lower, Upper *Bound // on Index.Fields[len(Eq)]
	Sort         []string
	After        []bson.RawValue
	Desc         bool
	Limit        int
}

// Plan checks q against the collection's declaration.
func (c Collection) Plan(q Query) (*Plan, error) {
	ix, err := c.Index(q.Index)
	if err != nil {
		return nil, err
	}
	if q.Limit < 1 {
		return nil, fmt.Errorf("%w: scan of %s.%s: limit %d", ErrInvalid, c.Name, ix.Name, q.Limit)
	}
	if len(q.Eq) > len(ix.Fields) {
		return nil, fmt.Errorf("%w: scan of %s.%s: %d equalities on %d fields", ErrInvalid, c.Name, ix.Name, len(q.Eq), len(ix.Fields))
	}
	p := &Plan{Index: ix, Desc: q.Desc, Limit: q.Limit, Sort: ix.Order()[len(q.Eq):]}
	for _, v := range q.Eq {
		rv, err := Value(v)
		if err != nil {
			return nil, fmt.Errorf("scan of %s.%s: %w", c.Name, ix.Name, err)
		}
		p.Eq = append(p.Eq, rv)
	}
	if p.Lower, err = bound(q.Range.Gt, q.Range.Gte); err == nil {
		p.Upper, err = bound(q.Range.Lt, q.Range.Lte)
	}
	if err != nil {
		return nil, fmt.Errorf("scan of %s.%s: %w", c.Name, ix.Name, err)
	}
	if (p.Lower != nil || p.Upper != nil) && len(q.Eq) == len(ix.Fields) {
		return nil, fmt.Errorf("%w: scan of %s.%s: no field left for a range", ErrInvalid, c.Name, ix.Name)
	}
	if q.After != "" {
		if p.After, err = readCursor(q.After, ix, len(q.Eq)); err != nil {
			return nil, fmt.Errorf("scan of %s.%s: %w", c.Name, ix.Name, err)
		}
		if err := p.resume(); err != nil {
			return nil, fmt.Errorf("scan of %s.%s: %w", c.Name, ix.Name, err)
		}
	}
	return p, nil
}

// resume drops the bound that the cursor already implies (the lower one
// going up, the upper one going down), so that the engines start reading
// the index at the cursor rather than at the bound and filter their way
// there. A cursor outside that bound was not made by this query.
func (p *Plan) resume() error {
	if len(p.After) == 0 || len(p.Eq) == len(p.Index.Fields) {
		return nil
	}
	b := &p.Lower
	if p.Desc {
		b = &p.Upper
	}
	if *b == nil {
		return nil
	}
	c, ok := Compare(p.After[0], (*b).Value)
	if p.Desc {
		c = -c
	}
	if !ok || c < 0 || c == 0 && !(*b).Inclusive {
		return fmt.Errorf("%w: outside the query's range", ErrCursor)
	}
	*b = nil
	return nil
}

func bound(excl, incl any) (*Bound, error) {
	switch {
	case excl != nil && incl != nil:
		return nil, fmt.Errorf("%w: two bounds on one side of a range", ErrInvalid)
	case excl != nil:
		v, err := Value(excl)
		return &Bound{Value: v}, err
	case incl != nil:
		v, err := Value(incl)
		return &Bound{Value: v, Inclusive: true}, err
	}
	return nil, nil
}

// RangeField is the field the range applies to.
func (p *Plan) RangeField() string { return p.Index.Fields[len(p.Eq)] }

// Page makes the page from what an engine read: up to Limit+1 documents in
// order, the extra one telling that there is more.
func (p *Plan) Page(docs []Doc) (Page, error) {
	if len(docs) <= p.Limit {
		return Page{Docs: docs}, nil
	}
	docs = docs[:p.Limit]
	next, err := writeCursor(p.Index, docs[len(docs)-1])
	if err != nil {
		return Page{}, err
	}
	return Page{Docs: docs, Next: next}, nil
}
