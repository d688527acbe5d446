package schemas

import "time"

// Notification states.
const (
	NotificationPending = "pending" // in the outbox, maybe leased
	NotificationSent    = "sent"    // FCM accepted it for at least one device
	NotificationFailed  = "failed"  // gave up: a permanent error, or retries ran out
	NotificationDropped = "dropped" // no device to send to
)

// Notification is one message to one user, on all their devices: waiting
// in the outbox while pending, then kept in its final state as the
// delivery log.
type Notification struct {
	ID          string            `json:"id" bson:"_id"` // derived from DedupeKey: enqueueing twice is a no-op
	DedupeKey   string            `json:"dedupeKey" bson:"dedupeKey"`
	UserID      string            `json:"userId" bson:"userId"`
	Kind        string            `json:"kind" bson:"kind"`
	Channel     string            `json:"-" bson:"channel,omitempty"` // "" push, "sms" (the dedupe key "sms/..." shows it in the log)
	VisitID     string            `json:"visitId,omitempty" bson:"visitId"`
	Data        map[string]string `json:"data" bson:"data"` // ids and times only: no address, phone or position
	Title       string            `json:"title,omitempty" bson:"title,omitempty"`
	Body        string            `json:"body,omitempty" bson:"body,omitempty"`
	CollapseKey string            `json:"collapseKey,omitempty" bson:"collapseKey,omitempty"`
	High        bool              `json:"high" bson:"high"`
	TTL         time.Duration     `json:"ttl" bson:"ttl"`
	NotBefore   time.Time         `json:"notBefore" bson:"notBefore"`
	State       string            `json:"state" bson:"state"`
	Attempts    int               `json:"attempts" bson:"attempts"`
	FirstTry    time.Time         `json:"-" bson:"firstTry,omitempty"`   // the first send, for the SMS fallback's deadline
	SentTokens  []string          `json:"-" bson:"sentTokens,omitempty"` // accepted by FCM: never sent again
	LeaseOwner  string            `json:"-" bson:"leaseOwner"`
	LeaseUntil  time.Time         `json:"-" bson:"leaseUntil"`
	LastError   string            `json:"lastError,omitempty" bson:"lastError,omitempty"`
	Version     int64             `json:"-" bson:"-"` // the store's, for conditional writes
	CreatedAt   time.Time         `json:"createdAt" bson:"createdAt"`
	FinishedAt  *time.Time        `json:"finishedAt,omitempty" bson:"finishedAt,omitempty"`
}

// PushTarget is one device of a user that can receive pushes.
type PushTarget struct {
	Token      string    `json:"-" bson:"token"`
	DeviceID   string    `json:"deviceId" bson:"deviceId"`
	Platform   string    `json:"platform" bson:"platform"` // android, ios
	AppVersion string    `json:"appVersion,omitempty" bson:"appVersion,omitempty"`
	Locale     string    `json:"locale" bson:"locale"`
	TimeZone   string    `json:"timeZone" bson:"timeZone"`
	UpdatedAt  time.Time `json:"updatedAt" bson:"updatedAt"`
}

// Validate checks a registration.
func (t *PushTarget) Validate() error {
	if len(t.Token) < 20 || len(t.Token) > 4096 {
		return FieldError("token", "token must be an FCM registration token")
	}
	if t.Platform != "android" && t.Platform != "ios" {
		return FieldError("platform", "platform must be android or ios")
	}
	if t.Locale == "" {
		t.Locale = "zh-CN"
	}
	if err := ValidateLocale(t.Locale); err != nil {
		return err
	}
	if t.TimeZone == "" {
		t.TimeZone = DefaultTimeZone
	}
	if _, err := LoadZone(t.TimeZone); err != nil {
		return err
	}
	if len(t.AppVersion) > 40 {
		return FieldError("appVersion", "appVersion is at most 40 characters")
	}
	return nil
}
