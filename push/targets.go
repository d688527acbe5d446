package push

import (
	"context"
	"time"

	"fieldsync/schemas"
)

// StaleAfter: tokens not refreshed for this long are no longer targeted
// and are pruned, as FCM's guidance recommends.
const StaleAfter = 30 * 24 * time.Hour

// Target is one device of a user that can receive pushes.
type Target = schemas.PushTarget

// TargetStore is what the device registry keeps in the store
// (fieldsync/store's Push): one record of devices per user.
type TargetStore interface {
	RegisterTarget(ctx context.Context, userID string, t Target) error
	RemoveDevice(ctx context.Context, userID, deviceID string) error
	// RemoveToken reports whether the user had the token.
	RemoveToken(ctx context.Context, userID, token string) (bool, error)
	// LiveTargets returns the devices refreshed within maxAge and
	// forgets the others.
	LiveTargets(ctx context.Context, userID string, maxAge time.Duration) ([]Target, error)
}

// Targets are the devices pushes go to.
type Targets struct {
	s TargetStore
}

// NewTargets returns the device registry kept in s.
func NewTargets(s TargetStore) *Targets { return &Targets{s: s} }

// Register records or refreshes a device's token: one token per device,
// and a token moved to another device leaves the old one.
func (t *Targets) Register(ctx context.Context, userID string, tg Target) error {
	return t.s.RegisterTarget(ctx, userID, tg)
}

// RemoveDevice forgets a device's token (logout).
func (t *Targets) RemoveDevice(ctx context.Context, userID, deviceID string) error {
	return t.s.RemoveDevice(ctx, userID, deviceID)
}

// RemoveToken forgets a token FCM reported unregistered or invalid, and
// reports whether the user still had it.
func (t *Targets) RemoveToken(ctx context.Context, userID, token string) (bool, error) {
	return t.s.RemoveToken(ctx, userID, token)
}

// Live returns the user's devices refreshed within StaleAfter; older ones
// are pruned.
func (t *Targets) Live(ctx context.Context, userID string) ([]Target, error) {
	return t.s.LiveTargets(ctx, userID, StaleAfter)
}
