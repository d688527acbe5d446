package office

import (
	"context"
	"errors"
	"slices"
	"strings"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/store"
)

// NotificationChannel is how a household wants the notices that may go by
// SMS (reminders, "on the way", reschedules, cancellations; see
// push/smsfallback.go): fcm, the app, and SMS when the app cannot be
// reached (the default); sms, SMS only; both.
type NotificationChannel struct {
	Channel string `json:"channel"`
}

// NotificationChannels are the channel preferences, as the dispatcher reads them.
var NotificationChannels = []string{push.ChannelFCM, push.ChannelSMS, push.ChannelBoth}

// EntityNotificationChannel is the audited entity of a customer account's
// channel preference; its id is the account's (the preference is the
// account's, as the notices are).
const EntityNotificationChannel = "notificationChannel"

// channelUser is the account whose preference a customer's is: the one
// the office's notices go to. Customers reach their own; admins any;
// supervisors their team's customers (a household they only visit is
// another team's to set).
func (s *Service) channelUser(ctx context.Context, a *schemas.Actor, customerID string) (*schemas.User, error) {
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return nil, err
	}
	if a.Role == schemas.RoleSupervisor && (a.Team == "" || c.Team != a.Team) { // no team: no team's customers
		return nil, forbidden()
	}
	u, err := s.db.Accounts.UserOfCustomer(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, schemas.Errorf(schemas.ECONFLICT, "the customer has no account: notices, and their channel, belong to an account").With("reason", "no_account")
	}
	return u, err
}

// NotificationChannelOf returns a customer's channel preference (fcm
// when none was set).
func (s *Service) NotificationChannelOf(ctx context.Context, a *schemas.Actor, customerID string) (*NotificationChannel, error) {
	u, err := s.channelUser(ctx, a, customerID)
	if err != nil {
		return nil, err
	}
	ch, err := s.db.SMS.Channel(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if ch == "" {
		ch = push.ChannelFCM
	}
	return &NotificationChannel{Channel: ch}, nil
}

// SetNotificationChannel sets a customer's channel preference: the
// customer in the app, or the office for a household that phoned in. A
// change is audited (entity notificationChannel, the account's id).
func (s *Service) SetNotificationChannel(ctx context.Context, a *schemas.Actor, customerID string, in NotificationChannel) (*NotificationChannel, error) {
	if !slices.Contains(NotificationChannels, in.Channel) {
		return nil, schemas.FieldError("channel", "channel must be one of %s", strings.Join(NotificationChannels, ", "))
	}
	u, err := s.channelUser(ctx, a, customerID)
	if err != nil {
		return nil, err
	}
	before, version, err := s.db.SMS.SetChannel(ctx, u.ID, in.Channel)
	if err != nil {
		return nil, err
	}
	if before != in.Channel {
		var was any
		if before != "" {
			was = &NotificationChannel{Channel: before}
		}
		if err := s.audit(ctx, a, EntityNotificationChannel, u.ID, "set", version, was, &in, nil, "customer "+customerID); err != nil {
			return nil, err
		}
	}
	return &NotificationChannel{Channel: in.Channel}, nil
}
