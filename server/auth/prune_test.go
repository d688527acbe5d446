package auth

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestPruneKeepsWhatMayStillBeUsed: a session past its expiry by more than
// SessionKeep goes with its refresh tokens; a live one, and one expired
// more recently, stay and behave as before.
func TestPruneKeepsWhatMayStillBeUsed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	db := storetest.New(t, clock)
	ctx := t.Context()
	tokens := NewTokens(NewKey([]byte("0123456789abcdef0123456789abcdef")), nil, "fieldsync", "fieldsync", 15*time.Minute, clock)
	svc := NewService(db.Accounts, tokens, Config{RefreshTTL: 24 * time.Hour, RefreshGrace: 30 * time.Second, LoginPerAccount: 100, LoginPerIP: 100}, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	u := &schemas.User{ID: schemas.NewIDAt(clock()), Login: "w.prune", Name: "W", Role: schemas.RoleWorker, PasswordHash: hash, CreatedAt: clock(), UpdatedAt: clock()}
	if err := db.Accounts.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	login := func(device string) *TokenPair {
		p, err := svc.Login(ctx, "w.prune", "correct horse battery", device, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := login("old-phone")
	rotated, err := svc.Refresh(ctx, old.RefreshToken, "old-phone")
	if err != nil {
		t.Fatal(err)
	}
	advance(24*time.Hour + SessionKeep - time.Hour) // old-phone expired SessionKeep-1h ago
	recent := login("recent-phone")                 // expires in a day
	if s, k, err := svc.Prune(ctx); err != nil || s+k != 0 {
		t.Fatalf("prune within the margin = %d, %d, %v; want nothing", s, k, err)
	}
	advance(2 * time.Hour)
	if s, k, err := svc.Prune(ctx); err != nil || s != 1 || k != 2 {
		t.Fatalf("prune = %d sessions, %d tokens, %v; want old-phone's session and its two tokens", s, k, err)
	}
	if _, err := svc.Refresh(ctx, rotated.RefreshToken, "old-phone"); err == nil {
		t.Error("a pruned session's token refreshed")
	}
	if _, err := svc.Refresh(ctx, recent.RefreshToken, "recent-phone"); err != nil {
		t.Errorf("the live session no longer refreshes: %v", err)
	}
}
