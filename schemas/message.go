package schemas

import "time"

// Who wrote a visit message.
const (
	MessageFromWorker   = "worker"
	MessageFromCustomer = "customer"
)

// VisitMessage is one message of a visit's thread between the household
// and the worker, relayed by the server. Its text is shown with anything
// that looks like a phone number masked; the operation's record keeps the
// original, sealed at rest as every operation's free text.
type VisitMessage struct {
	ID     string    `json:"id" bson:"id"`     // the operation's id (worker) or the app's messageId (customer)
	From   string    `json:"from" bson:"from"` // worker or customer
	At     time.Time `json:"at" bson:"at"`
	Text   string    `json:"text" bson:"text"`
	Photos []string  `json:"photos,omitempty" bson:"photos,omitempty"` // attachment hashes (the worker's)
}

// MessageThread is a visit's thread as the household reads it, with the
// window it may be written in.
type MessageThread struct {
	VisitID  string         `json:"visitId"`
	Open     bool           `json:"open"` // messages may be written now
	OpensAt  time.Time      `json:"opensAt"`
	ClosesAt time.Time      `json:"closesAt"`
	Messages []VisitMessage `json:"messages"`
}
