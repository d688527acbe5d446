package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/store/doc"
)

// Get implements doc.Engine.
func (db *DB) Get(ctx context.Context, coll, id string) (doc.Doc, error) {
	c, err := db.coll(coll)
	if err != nil {
		return doc.Doc{}, fmt.Errorf("mongo: get: %w", err)
	}
	raw, err := c.c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, driver.ErrNoDocuments) {
		err = doc.ErrNotFound
	}
	if err = mapErr(err); err != nil {
		return doc.Doc{}, fmt.Errorf("mongo: get %s/%s: %w", coll, id, err)
	}
	d, err := withoutVersion(raw)
	if err != nil {
		return doc.Doc{}, fmt.Errorf("mongo: get %s/%s: %w", coll, id, err)
	}
	return d, nil
}

// GetMany implements doc.Engine.
func (db *DB) GetMany(ctx context.Context, coll string, ids []string) ([]doc.Doc, error) {
	c, err := db.coll(coll)
	if err != nil {
		return nil, fmt.Errorf("mongo: get many: %w", err)
	}
	byID := make(map[string]doc.Doc, len(ids))
	const chunk = 1000
	for i := 0; i < len(ids); i += chunk {
		cur, err := c.c.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids[i:min(i+chunk, len(ids))]}}}})
		if err != nil {
			return nil, fmt.Errorf("mongo: get many from %s: %w", coll, mapErr(err))
		}
		docs, err := readAll(ctx, cur)
		if err != nil {
			return nil, fmt.Errorf("mongo: get many from %s: %w", coll, err)
		}
		for _, d := range docs {
			byID[d.ID] = d
		}
	}
	out := make([]doc.Doc, 0, len(byID))
	for _, id := range ids {
		if d, ok := byID[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// Scan implements doc.Engine: a Find hinted to the declared index, sorted
// in its order.
func (db *DB) Scan(ctx context.Context, coll string, q doc.Query) (doc.Page, error) {
	c, err := db.coll(coll)
	if err != nil {
		return doc.Page{}, fmt.Errorf("mongo: scan: %w", err)
	}
	p, err := c.decl.Plan(q)
	if err != nil {
		return doc.Page{}, fmt.Errorf("mongo: %w", err)
	}
	dir := 1
	if p.Desc {
		dir = -1
	}
	sort := bson.D{}
	for _, f := range p.Index.Order() {
		sort = append(sort, bson.E{Key: f, Value: dir})
	}
	opts := options.Find().SetSort(sort).SetLimit(int64(p.Limit + 1))
	if p.Index.Name == doc.ByID {
		opts.SetHint(bson.D{{Key: "_id", Value: 1}})
	} else {
		opts.SetHint(p.Index.Name)
	}
	cur, err := c.c.Find(ctx, filter(p), opts)
	if err != nil {
		return doc.Page{}, fmt.Errorf("mongo: scan %s.%s: %w", coll, q.Index, mapErr(err))
	}
	docs, err := readAll(ctx, cur)
	if err != nil {
		return doc.Page{}, fmt.Errorf("mongo: scan %s.%s: %w", coll, q.Index, err)
	}
	return p.Page(docs)
}

// filter translates a plan. A cursor on several fields (s0, s1, ...)
// becomes s0 >= c0 (the start of the index range) and the exact "after":
// s0 > c0, or s0 = c0 and s1 > c1, and so on.
func filter(p *doc.Plan) bson.D {
	var and bson.A
	for i, v := range p.Eq {
		and = append(and, bson.D{{Key: p.Index.Fields[i], Value: v}})
	}
	var rng bson.D
	if b := p.Lower; b != nil {
		rng = append(rng, bson.E{Key: op("$gt", b.Inclusive), Value: b.Value})
	}
	if b := p.Upper; b != nil {
		rng = append(rng, bson.E{Key: op("$lt", b.Inclusive), Value: b.Value})
	}
	if rng != nil {
		and = append(and, bson.D{{Key: p.RangeField(), Value: rng}})
	}
	if len(p.After) > 0 {
		after, from := "$gt", "$gte"
		if p.Desc {
			after, from = "$lt", "$lte"
		}
		if len(p.Sort) > 1 {
			and = append(and, bson.D{{Key: p.Sort[0], Value: bson.D{{Key: from, Value: p.After[0]}}}})
		}
		var or bson.A
		for i := range p.Sort {
			clause := bson.D{}
			for j := range i {
				clause = append(clause, bson.E{Key: p.Sort[j], Value: p.After[j]})
			}
			clause = append(clause, bson.E{Key: p.Sort[i], Value: bson.D{{Key: after, Value: p.After[i]}}})
			or = append(or, clause)
		}
		if len(or) == 1 {
			and = append(and, or[0])
		} else {
			and = append(and, bson.D{{Key: "$or", Value: or}})
		}
	}
	switch len(and) {
	case 0:
		return bson.D{}
	case 1:
		return and[0].(bson.D)
	}
	return bson.D{{Key: "$and", Value: and}}
}

func op(base string, inclusive bool) string {
	if inclusive {
		return base + "e"
	}
	return base
}

func readAll(ctx context.Context, cur *driver.Cursor) ([]doc.Doc, error) {
	defer cur.Close(context.WithoutCancel(ctx))
	var docs []doc.Doc
	for cur.Next(ctx) {
		d, err := withoutVersion(cur.Current)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, mapErr(cur.Err())
}
