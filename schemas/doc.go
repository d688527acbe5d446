// Package schemas is fieldsync's domain root: the document types the office,
// the phones and the sync engine share, their validation and state machines,
// and the one error type every layer speaks.
//
// It imports no HTTP framework, no database driver and no push SDK. Struct
// tags name fields for JSON (the API) and BSON (the store); tags are plain
// strings and pull in neither.
package schemas
