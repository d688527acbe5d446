package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"fieldsync/store/doc"
)

// colSMSQuota holds one document per recipient and day: the SMS counted
// against that day's cap. colSMSChannels holds a recipient's channel
// preference. Both are read and written by id only.
const (
	colSMSQuota    = "push_sms_quota"
	colSMSChannels = "push_sms_channels"
)

var smsCollections = []doc.Collection{{Name: colSMSQuota}, {Name: colSMSChannels}}

type smsChannelDoc struct {
	UserID  string `bson:"_id"`
	Channel string `bson:"channel"`
}

// SetChannel records the user's channel preference (fcm, sms or both). It
// returns the preference it replaced ("" for none) and the preference's
// version: unchanged, and nothing written, when it was already channel.
func (m *SMS) SetChannel(ctx context.Context, userID, channel string) (before string, version int64, err error) {
	d := smsChannelDoc{UserID: userID, Channel: channel}
	version, err = doc.Insert(ctx, m.s.engine, colSMSChannels, d)
	if errors.Is(err, doc.ErrDuplicate) {
		_, version, err = doc.Modify(ctx, m.s.engine, colSMSChannels, userID, func(x *smsChannelDoc) error {
			before = x.Channel
			if x.Channel == channel {
				return errUnchanged
			}
			x.Channel = channel
			return nil
		})
		if errors.Is(err, errUnchanged) {
			_, version, err = doc.Get[smsChannelDoc](ctx, m.s.engine, colSMSChannels, userID)
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("sms channel of %s: %w", userID, err)
	}
	return before, version, nil
}

// Channel returns the user's channel preference, "" when none was set.
func (m *SMS) Channel(ctx context.Context, userID string) (string, error) {
	d, _, err := doc.Get[smsChannelDoc](ctx, m.s.engine, colSMSChannels, userID)
	if errors.Is(err, doc.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sms channel of %s: %w", userID, err)
	}
	return d.Channel, nil
}

// SMS counts the text messages sent to each recipient per day, so that
// their cost stays bounded.
type SMS struct{ s *Store }

type smsQuotaDoc struct {
	ID    string   `bson:"_id"`  // userId/day
	Sent  []string `bson:"sent"` // notification ids counted
	Count int      `bson:"count"`
}

// TakeSMS counts notification id against the user's cap for day
// (2006-01-02 in the recipient's zone) and reports whether it may be
// sent. Each call is one write to one document, conditional on the
// version read, so concurrent senders never pass the cap; an id counted
// before is allowed again without counting twice (a retried send).
func (m *SMS) TakeSMS(ctx context.Context, userID, day, id string, limit int) (bool, error) {
	key := userID + "/" + day
	if _, err := doc.Insert(ctx, m.s.engine, colSMSQuota, smsQuotaDoc{ID: key, Sent: []string{}}); err != nil && !errors.Is(err, doc.ErrDuplicate) {
		return false, fmt.Errorf("sms quota %s: %w", key, err)
	}
	allowed := false
	_, _, err := doc.Modify(ctx, m.s.engine, colSMSQuota, key, func(q *smsQuotaDoc) error {
		allowed = slices.Contains(q.Sent, id)
		if allowed {
			return errUnchanged
		}
		if len(q.Sent) >= limit {
			return errUnchanged
		}
		q.Sent = append(q.Sent, id)
		q.Count = len(q.Sent)
		allowed = true
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return false, fmt.Errorf("sms quota %s: %w", key, err)
	}
	return allowed, nil
}
