package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"fieldsync/store/doc"
)

// Get implements doc.Engine.
func (db *DB) Get(ctx context.Context, coll, id string) (doc.Doc, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return doc.Doc{}, err
	}
	t, err := db.table(coll)
	if err != nil {
		return doc.Doc{}, fmt.Errorf("sqlite: get: %w", err)
	}
	d := doc.Doc{ID: id}
	var raw []byte
	switch err := t.get.QueryRowContext(ctx, id).Scan(&d.Version, &raw); {
	case errors.Is(err, sql.ErrNoRows):
		return doc.Doc{}, fmt.Errorf("sqlite: get %s/%s: %w", coll, id, doc.ErrNotFound)
	case err != nil:
		return doc.Doc{}, fmt.Errorf("sqlite: get %s/%s: %w", coll, id, db.fail(err))
	}
	d.Raw = raw
	return d, nil
}

// GetMany implements doc.Engine.
func (db *DB) GetMany(ctx context.Context, coll string, ids []string) ([]doc.Doc, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return nil, err
	}
	t, err := db.table(coll)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get many: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get many from %s: %w", coll, err)
	}
	rows, err := t.getMany.QueryContext(ctx, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get many from %s: %w", coll, db.fail(err))
	}
	docs, err := db.readDocs(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get many from %s: %w", coll, err)
	}
	byID := make(map[string]doc.Doc, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	out := make([]doc.Doc, 0, len(docs))
	for _, id := range ids {
		if d, ok := byID[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// Scan implements doc.Engine. The query names its index (INDEXED BY), so
// SQLite serves it from that index or fails; it never scans the table.
func (db *DB) Scan(ctx context.Context, coll string, q doc.Query) (doc.Page, error) {
	ctx, err := steady(ctx)
	if err != nil {
		return doc.Page{}, err
	}
	t, err := db.table(coll)
	if err != nil {
		return doc.Page{}, fmt.Errorf("sqlite: scan: %w", err)
	}
	p, err := t.coll.Plan(q)
	if err != nil {
		return doc.Page{}, fmt.Errorf("sqlite: %w", err)
	}
	query, args := scanSQL(t, p)
	s, err := db.scanStmt(ctx, t, query)
	if err != nil {
		return doc.Page{}, fmt.Errorf("sqlite: scan %s.%s: %w", coll, q.Index, err)
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return doc.Page{}, fmt.Errorf("sqlite: scan %s.%s: %w", coll, q.Index, db.fail(err))
	}
	docs, err := db.readDocs(rows)
	if err != nil {
		return doc.Page{}, fmt.Errorf("sqlite: scan %s.%s: %w", coll, q.Index, err)
	}
	return p.Page(docs)
}

// scanSQL translates a plan: equality on the prefix columns, the range on
// the next, and the cursor as a row-value comparison on the order's
// columns, which SQLite turns into the start of the index range.
func scanSQL(t *table, p *doc.Plan) (string, []any) {
	var where []string
	var args []any
	for i, v := range p.Eq {
		where = append(where, column(p.Index.Fields[i])+" = ?")
		args = append(args, sqlValue(v))
	}
	if b := p.Lower; b != nil {
		where = append(where, column(p.RangeField())+compare(">", b.Inclusive))
		args = append(args, sqlValue(b.Value))
	}
	if b := p.Upper; b != nil {
		where = append(where, column(p.RangeField())+compare("<", b.Inclusive))
		args = append(args, sqlValue(b.Value))
	}
	cols := make([]string, len(p.Sort))
	order := make([]string, len(p.Sort))
	for i, f := range p.Sort {
		cols[i] = column(f)
		order[i] = cols[i]
		if p.Desc {
			order[i] += " DESC"
		}
	}
	if len(p.After) > 0 {
		op := " > "
		if p.Desc {
			op = " < "
		}
		marks := strings.Repeat(", ?", len(cols))[2:]
		if len(cols) == 1 {
			where = append(where, cols[0]+op+marks)
		} else {
			where = append(where, "("+strings.Join(cols, ", ")+")"+op+"("+marks+")")
		}
		for _, v := range p.After {
			args = append(args, sqlValue(v))
		}
	}
	query := `SELECT id, v, doc FROM ` + t.name
	if p.Index.Name != doc.ByID { // else the table's own key
		name, _ := indexSQL(t.coll, p.Index)
		query += ` INDEXED BY ` + quote(name)
	}
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	if len(order) > 0 { // else an equality on every field of a unique index
		query += ` ORDER BY ` + strings.Join(order, ", ")
	}
	query += ` LIMIT ?`
	return query, append(args, p.Limit+1)
}

func compare(op string, inclusive bool) string {
	if inclusive {
		op += "="
	}
	return " " + op + " ?"
}

// scanStmt prepares each shape of scan once; there are few per index.
func (db *DB) scanStmt(ctx context.Context, t *table, query string) (*sql.Stmt, error) {
	if s, ok := t.scans.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, db.fail(err)
	}
	if prev, loaded := t.scans.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (db *DB) readDocs(rows *sql.Rows) ([]doc.Doc, error) {
	defer rows.Close()
	var docs []doc.Doc
	for rows.Next() {
		var d doc.Doc
		var raw []byte
		if err := rows.Scan(&d.ID, &d.Version, &raw); err != nil {
			return nil, db.fail(err)
		}
		d.Raw = raw
		docs = append(docs, d)
	}
	return docs, db.fail(rows.Err())
}
