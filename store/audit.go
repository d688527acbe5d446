package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const (
	colAudit = "audit"

	ixAuditTarget = "target_version"
	ixAuditAt     = "at"
)

// auditCollections are the collections Audit writes.
var auditCollections = []doc.Collection{
	{Name: colAudit, Indexes: []doc.Index{
		// One record's trail in version order (then id: a customer's
		// requests share the visit's version).
		{Name: ixAuditTarget, Fields: []string{"entity", "entityId", "version"}},
		// The whole trail in time order.
		{Name: ixAuditAt, Fields: []string{"at"}},
	}},
}

// Audit stores the audit trail of office actions.
type Audit struct{ s *Store }

// Insert records an entry. Its id is derived from its cause (the entity's
// version, see schemas.AuditID), so a retried write records it once.
func (a *Audit) Insert(ctx context.Context, e *schemas.AuditEntry) error {
	if _, err := doc.Insert(ctx, a.s.engine, colAudit, e); err != nil && !errors.Is(err, doc.ErrDuplicate) {
		return fmt.Errorf("insert audit entry %s: %w", e.ID, err)
	}
	return nil
}

// Trail lists up to limit entries of one entity after afterVersion, oldest
// version first.
func (a *Audit) Trail(ctx context.Context, entity, id string, afterVersion int64, limit int) ([]schemas.AuditEntry, error) {
	p, err := a.s.engine.Scan(ctx, colAudit, doc.Query{
		Index: ixAuditTarget, Eq: []any{entity, id}, Range: doc.Range{Gt: afterVersion}, Limit: max(limit, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("audit trail of %s %s: %w", entity, id, err)
	}
	es, err := doc.DecodeAll[schemas.AuditEntry](p.Docs)
	if err != nil {
		return nil, fmt.Errorf("audit trail of %s %s: %w", entity, id, err)
	}
	return es, nil
}

// Since lists up to limit entries of every entity recorded at or after
// since, oldest first. Pass the returned cursor as after to read on; it is
// "" at the end. A cursor from another query is ErrCursor.
func (a *Audit) Since(ctx context.Context, since time.Time, after string, limit int) ([]schemas.AuditEntry, string, error) {
	p, err := a.s.engine.Scan(ctx, colAudit, doc.Query{
		Index: ixAuditAt, Range: doc.Range{Gte: since.UTC()}, After: after, Limit: max(limit, 1),
	})
	if err != nil {
		return nil, "", fmt.Errorf("audit trail since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	es, err := doc.DecodeAll[schemas.AuditEntry](p.Docs)
	if err != nil {
		return nil, "", fmt.Errorf("audit trail since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return es, p.Next, nil
}
