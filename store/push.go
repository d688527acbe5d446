package store

import "fieldsync/store/doc"

// pushCollections are the collections Push writes.
var pushCollections = []doc.Collection{}

// Push stores devices and the push outbox: targets, outbox, delivery log.
type Push struct{ s *Store }
