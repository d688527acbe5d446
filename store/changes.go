package store

import "fieldsync/store/doc"

// changeCollections are the collections Changes writes.
var changeCollections = []doc.Collection{}

// Changes stores the change log phones pull from.
type Changes struct{ s *Store }
