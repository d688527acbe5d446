package push

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"fieldsync/schemas"
	"fieldsync/server/store"
)

// StaleAfter: tokens not refreshed for this long are no longer targeted
// and are pruned, as FCM's guidance recommends.
const StaleAfter = 30 * 24 * time.Hour

// Target is one device of a user that can receive pushes.
type Target struct {
	Token      string    `json:"-" bson:"token"`
	DeviceID   string    `json:"deviceId" bson:"deviceId"`
	Platform   string    `json:"platform" bson:"platform"` // android, ios
	AppVersion string    `json:"appVersion,omitempty" bson:"appVersion,omitempty"`
	Locale     string    `json:"locale" bson:"locale"`
	TimeZone   string    `json:"timeZone" bson:"timeZone"`
	UpdatedAt  time.Time `json:"updatedAt" bson:"updatedAt"`
}

// Validate checks a registration.
func (t *Target) Validate() error {
	if len(t.Token) < 20 || len(t.Token) > 4096 {
		return schemas.FieldError("token", "token must be an FCM registration token")
	}
	if t.Platform != "android" && t.Platform != "ios" {
		return schemas.FieldError("platform", "platform must be android or ios")
	}
	if t.Locale == "" {
		t.Locale = "zh-CN"
	}
	if err := schemas.ValidateLocale(t.Locale); err != nil {
		return err
	}
	if t.TimeZone == "" {
		t.TimeZone = schemas.DefaultTimeZone
	}
	if _, err := schemas.LoadZone(t.TimeZone); err != nil {
		return err
	}
	if len(t.AppVersion) > 40 {
		return schemas.FieldError("appVersion", "appVersion is at most 40 characters")
	}
	return nil
}

// targetsDoc holds a user's devices: one document, found by point read.
type targetsDoc struct {
	UserID  string   `bson:"_id"`
	Targets []Target `bson:"targets"`
	Version int64    `bson:"version"`
}

// Targets are the devices pushes go to.
type Targets struct {
	db  *store.DB
	now func() time.Time
}

// NewTargets returns the device registry.
func NewTargets(db *store.DB, now func() time.Time) *Targets { return &Targets{db: db, now: now} }

func (t *Targets) load(ctx context.Context, userID string) (*targetsDoc, error) {
	var d targetsDoc
	err := t.db.C(colTargets).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	d.UserID = userID
	return &d, nil
}

// change applies f to the user's devices with optimistic concurrency.
func (t *Targets) change(ctx context.Context, userID string, f func([]Target) []Target) error {
	for attempt := 0; attempt < 10; attempt++ {
		d, err := t.load(ctx, userID)
		if err != nil {
			return err
		}
		next := targetsDoc{UserID: userID, Targets: f(slices.Clone(d.Targets)), Version: d.Version + 1}
		if d.Version == 0 {
			if _, err := t.db.C(colTargets).InsertOne(ctx, next); err == nil {
				return nil
			} else if !store.IsDuplicate(err) {
				return fmt.Errorf("save devices: %w", err)
			}
			continue
		}
		ok, err := t.db.C(colTargets).ReplaceIfVersion(ctx, userID, d.Version, next)
		if err != nil {
			return fmt.Errorf("save devices: %w", err)
		}
		if ok {
			return nil
		}
	}
	return schemas.Errorf(schemas.ECONFLICT, "devices changed concurrently; retry")
}

// Register records or refreshes a device's token: one token per device,
// and a token moved to another device leaves the old one.
func (t *Targets) Register(ctx context.Context, userID string, tg Target) error {
	tg.UpdatedAt = t.now().UTC()
	return t.change(ctx, userID, func(ts []Target) []Target {
		ts = slices.DeleteFunc(ts, func(x Target) bool { return x.DeviceID == tg.DeviceID || x.Token == tg.Token })
		return append(ts, tg)
	})
}

// RemoveDevice forgets a device's token (logout).
func (t *Targets) RemoveDevice(ctx context.Context, userID, deviceID string) error {
	return t.change(ctx, userID, func(ts []Target) []Target {
		return slices.DeleteFunc(ts, func(x Target) bool { return x.DeviceID == deviceID })
	})
}

// RemoveToken forgets a token FCM reported unregistered or invalid.
func (t *Targets) RemoveToken(ctx context.Context, userID, token string) error {
	return t.change(ctx, userID, func(ts []Target) []Target {
		return slices.DeleteFunc(ts, func(x Target) bool { return x.Token == token })
	})
}

// Live returns the user's devices refreshed within StaleAfter; older ones
// are pruned.
func (t *Targets) Live(ctx context.Context, userID string) ([]Target, error) {
	d, err := t.load(ctx, userID)
	if err != nil {
		return nil, err
	}
	cutoff := t.now().Add(-StaleAfter)
	live := slices.DeleteFunc(slices.Clone(d.Targets), func(x Target) bool { return x.UpdatedAt.Before(cutoff) })
	if len(live) != len(d.Targets) {
		if err := t.change(ctx, userID, func(ts []Target) []Target {
			return slices.DeleteFunc(ts, func(x Target) bool { return x.UpdatedAt.Before(cutoff) })
		}); err != nil {
			return nil, err
		}
	}
	return live, nil
}
