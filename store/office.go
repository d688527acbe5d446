package store

import "fieldsync/store/doc"

// officeCollections are the collections Office writes.
var officeCollections = []doc.Collection{}

// Office stores the office's records: workers, customers, the service catalog.
type Office struct{ s *Store }
