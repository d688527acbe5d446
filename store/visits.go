package store

import "fieldsync/store/doc"

// visitCollections are the collections Visits writes.
var visitCollections = []doc.Collection{}

// Visits stores visits.
type Visits struct{ s *Store }
