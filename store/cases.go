package store

import "fieldsync/store/doc"

// caseCollections are the collections Cases writes.
var caseCollections = []doc.Collection{}

// Cases stores alerts and cases: alerts, complaints, incidents, follow-ups.
type Cases struct{ s *Store }
