package store

import fstore "fieldsync/store"

// The cipher moved to the new store; these names keep this store's callers
// building until it is gone.
type (
	Cipher  = fstore.Cipher
	DataKey = fstore.DataKey
)

var (
	NewCipher  = fstore.NewCipher
	NewDataKey = fstore.NewDataKey
)
