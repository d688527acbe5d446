package store

import "fieldsync/store/doc"

// accountCollections are the collections Accounts writes.
var accountCollections = []doc.Collection{}

// Accounts stores accounts and sessions: users, sessions, refresh tokens.
type Accounts struct{ s *Store }
