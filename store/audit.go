package store

import "fieldsync/store/doc"

// auditCollections are the collections Audit writes.
var auditCollections = []doc.Collection{}

// Audit stores the audit trail of office actions.
type Audit struct{ s *Store }
