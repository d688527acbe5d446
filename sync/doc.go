// Package sync is fieldsync's offline-sync engine: batches of named
// operations from workers' phones applied exactly once per device, merged
// with office changes by documented rules, and pulled by checkpoint.
//
// It is filled by the sync issue; the foundation only reserves the name.
package sync
