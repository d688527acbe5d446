// Package push delivers notifications to workers, supervisors and
// customers through a durable outbox and a Firebase Cloud Messaging sender.
//
// It is filled by the push issue; the foundation only reserves the name.
package push
