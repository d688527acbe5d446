package store

import "fieldsync/store/doc"

// syncLogCollections are the collections SyncLog writes.
var syncLogCollections = []doc.Collection{}

// SyncLog stores the sync log: operations received, devices, presence locks.
type SyncLog struct{ s *Store }
