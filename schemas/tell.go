package schemas

import "time"

// CustomerNotice is one thing the office tells a household: a decision
// about a visit, a step of a complaint, an incident in the home. Key names
// the cause (record, kind, version), so telling twice is a no-op.
type CustomerNotice struct {
	CustomerID string
	Kind       string
	Key        string
	VisitID    string
	// At is the time the text names (a visit's start); zero for none.
	At time.Time
	// TimeZone is the household's, for the text's time and quiet hours.
	TimeZone string
	// Before, when set, is when the notice stops being useful (a visit's
	// start): quiet hours give way to it.
	Before time.Time
	// Urgent sends it at high priority (FCM high, APNs 10): the household
	// must see it now, not when its phone next wakes.
	Urgent bool
	// Worker is the public profile of the worker the notice is about.
	Worker *PublicWorker
	Data   map[string]string
}
