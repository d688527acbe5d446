package store

import "fieldsync/store/doc"

// scheduleCollections are the collections Schedules writes.
var scheduleCollections = []doc.Collection{}

// Schedules stores recurring schedules.
type Schedules struct{ s *Store }
