package push

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/doc"
)

// Channel preferences of a recipient, for the kinds that may go by SMS.
const (
	ChannelFCM  = "fcm"  // FCM, and SMS when FCM cannot deliver (the default)
	ChannelSMS  = "sms"  // SMS only
	ChannelBoth = "both" // FCM and SMS
)

// SMSSender is the SMS channel: a Sender that knows which kinds have an
// approved template (TencentSMS).
type SMSSender interface {
	Sender
	Has(kind string) bool
}

// SMSChannel configures the dispatcher's second channel, for customers
// FCM cannot reach (phones without Google Play services).
type SMSChannel struct {
	Sender   SMSSender
	DailyCap int // SMS per recipient and day (in their zone)
	// After is how long FCM may keep retrying a notification before its
	// SMS goes too (0: only when FCM gives up).
	After time.Duration
}

// smsRecipient is what an SMS needs of a recipient: their phone number
// (read when sending, never stored in the outbox), zone and preference.
type smsRecipient struct {
	phone   string
	loc     *time.Location
	channel string
}

// recipient reads a user's customer record for SMS; a user who is not a
// customer, or has no phone number, gets none (phone "").
func (d *Dispatcher) recipient(ctx context.Context, cache map[string]*smsRecipient, userID string) (*smsRecipient, error) {
	if r, ok := cache[userID]; ok {
		return r, nil
	}
	r := &smsRecipient{loc: time.UTC}
	cache[userID] = r
	ch, err := d.db.SMS.Channel(ctx, userID)
	if err != nil {
		return nil, err
	}
	r.channel = ch
	u, err := d.db.Accounts.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.CustomerID == "") {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sms recipient %s: %w", userID, err)
	}
	c, err := d.db.Office.Customer(ctx, u.CustomerID)
	if errors.Is(err, doc.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sms recipient %s: %w", userID, err)
	}
	r.phone = c.Phone
	if loc, err := schemas.LoadZone(c.TimeZone); err == nil {
		r.loc = loc
	}
	return r, nil
}

// smsFor is whether n may go by SMS at all.
func (d *Dispatcher) smsFor(n *Notification) bool {
	return d.SMS != nil && n.Channel == "" && d.SMS.Sender.Has(n.Kind)
}

// fallBack enqueues the SMS of a notification FCM could not deliver (or
// that the recipient wants by SMS too). Its id derives from the visit and
// kind, so a retry, a second dispatcher or a second notification of the
// same kind for the visit enqueues nothing more: one SMS per visit and
// kind. Non-urgent ones wait out the recipient's quiet hours as FCM's do,
// and one that would arrive after the visit's start is not sent.
func (d *Dispatcher) fallBack(ctx context.Context, n *Notification, r *smsRecipient) error {
	if r.phone == "" {
		return nil
	}
	now := d.now().UTC()
	at := now
	if !n.High {
		var start time.Time
		if s, err := time.Parse(time.RFC3339, n.Data["start"]); err == nil {
			start = s
		}
		at = quiet(now, r.loc, start)
		if !start.IsZero() && !at.Before(start) {
			return nil
		}
	}
	data := map[string]string{}
	for _, k := range []string{"visitId", "start", "at", "workerFirstName"} {
		if v, ok := n.Data[k]; ok {
			data[k] = v
		}
	}
	key := "sms/" + n.VisitID + "/" + n.Kind
	if n.VisitID == "" {
		key = "sms/" + n.ID
	}
	ttl := n.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	s := &Notification{DedupeKey: key, UserID: n.UserID, Kind: n.Kind, Channel: ChannelSMS, VisitID: n.VisitID,
		Data: data, High: n.High, TTL: ttl, NotBefore: at}
	prepare(s)
	_, err := d.outbox.Enqueue(ctx, s)
	return err
}

// smsTarget is the phone an SMS notification goes to, unless it was sent
// already, the recipient has no phone number, or their daily cap is
// reached (then why says so). The cap counts the notification once
// however often it is retried.
func (d *Dispatcher) smsTarget(ctx context.Context, n *Notification, r *smsRecipient, target *[]Target) (why string, err error) {
	switch {
	case slices.Contains(n.SentTokens, ChannelSMS):
		return "", nil
	case r.phone == "":
		return "no phone number", nil
	}
	day := d.now().In(r.loc).Format(time.DateOnly)
	ok, err := d.db.SMS.TakeSMS(ctx, n.UserID, day, n.ID, d.SMS.DailyCap)
	if err != nil || !ok {
		return "daily SMS cap reached", err
	}
	*target = []Target{{Platform: ChannelSMS, Token: r.phone}}
	return "", nil
}
