// Package auth signs users in and keeps them signed in: password hashing,
// access tokens (JWT), rotating refresh tokens bound to a device, login
// rate limits, and the accounts an admin manages.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Store is the persistence auth needs. *store.Accounts implements it; it
// stamps the times of updates, revocations and rotations with its clock,
// the same injected clock as the service's. A missing user, session or
// token is store.ErrNotFound, a taken login store.ErrDuplicate.
type Store interface {
	CreateUser(ctx context.Context, u *schemas.User) error
	UserByID(ctx context.Context, id string) (*schemas.User, error)
	UserByLogin(ctx context.Context, login string) (*schemas.User, error)
	UpdateUser(ctx context.Context, id string, ch store.UserChanges) (*schemas.User, error)
	HasAdmin(ctx context.Context) (bool, error)

	CreateSession(ctx context.Context, s *schemas.Session) error
	SessionByID(ctx context.Context, id string) (*schemas.Session, error)
	TouchSession(ctx context.Context, id string) error
	RevokeSessions(ctx context.Context, userID, deviceID, reason string) error
	RevokeSession(ctx context.Context, id, reason string) error
	InsertRefreshToken(ctx context.Context, t *schemas.RefreshToken) error
	ClaimRefreshToken(ctx context.Context, hash, successor string) (*schemas.RefreshToken, bool, error)
	PruneExpired(ctx context.Context, before time.Time) (sessions, tokens int64, err error)
}

// Config tunes the service.
type Config struct {
	RefreshTTL      time.Duration
	RefreshGrace    time.Duration // a rotated refresh token presented again within it gets the same pair
	LoginPerAccount int           // attempts per login per minute
	LoginPerIP      int           // attempts per client address per minute
}

// Service is the account and session logic.
type Service struct {
	store        Store
	tokens       *Tokens
	now          func() time.Time
	log          *slog.Logger
	refreshTTL   time.Duration
	refreshGrace time.Duration
	byLogin      *Limiter
	byIP         *Limiter
	dummyHash    string
}

// NewService wires the service.
func NewService(st Store, tokens *Tokens, cfg Config, now func() time.Time, log *slog.Logger) *Service {
	dummy, _ := HashPassword(RandomSecret(16))
	return &Service{
		store: st, tokens: tokens, now: now, log: log,
		refreshTTL: cfg.RefreshTTL, refreshGrace: cfg.RefreshGrace,
		byLogin:   NewLimiter(cfg.LoginPerAccount, cfg.LoginPerAccount, time.Minute, now),
		byIP:      NewLimiter(cfg.LoginPerIP, cfg.LoginPerIP, time.Minute, now),
		dummyHash: dummy,
	}
}

// SessionKeep is how long an expired session and its refresh tokens stay
// stored (for support: who signed in where, and why it ended) before they
// are deleted. A refresh rotates a token, so a phone adds one every access
// token lifetime: without the prune they would pile up for ever.
const SessionKeep = 30 * 24 * time.Hour

// Prune deletes the sessions and refresh tokens that expired more than
// SessionKeep ago.
func (s *Service) Prune(ctx context.Context) (sessions, tokens int64, err error) {
	sessions, tokens, err = s.store.PruneExpired(ctx, s.now().Add(-SessionKeep))
	if err != nil {
		return sessions, tokens, fmt.Errorf("prune sessions: %w", err)
	}
	if sessions+tokens > 0 {
		s.log.Info("pruned expired sessions", "sessions", sessions, "refreshTokens", tokens)
	}
	return sessions, tokens, nil
}

// RunPrune prunes every interval until ctx ends.
func (s *Service) RunPrune(ctx context.Context, every time.Duration) {
	for {
		if _, _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("prune sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// TokenPair is what a successful login or refresh returns.
type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn"` // seconds until the access token expires
	TokenType    string `json:"tokenType"`
	// NextSeq is the sync seq the server expects next from this user's
	// device (1 for one never seen), filled in by the transport: a
	// reinstalled phone numbers its operations from it.
	NextSeq int64 `json:"nextSeq"`
	userID  string
}

// UserID is the signed-in user's id.
func (p *TokenPair) UserID() string { return p.userID }

// Principal is the authenticated caller of a request.
type Principal struct {
	User      *schemas.User
	SessionID string
	DeviceID  string
}

var errBadCredentials = schemas.Errorf(schemas.EUNAUTHORIZED, "wrong login or password")

// Login checks the password and opens a session for the device, closing any
// earlier session of the same user on the same device.
func (s *Service) Login(ctx context.Context, login, password, deviceID, clientIP string) (*TokenPair, error) {
	// A login the profile refuses cannot exist; it is checked like an
	// unknown one (same time, same answer).
	if norm, err := schemas.NormalizeLogin(login); err == nil {
		login = norm
	} else {
		login = strings.ToLower(strings.TrimSpace(login))
	}
	if ok, wait := s.byIP.Allow("ip:" + clientIP); !ok {
		return nil, rateLimited(wait)
	}
	if ok, wait := s.byLogin.Allow("login:" + login); !ok {
		return nil, rateLimited(wait)
	}
	u, err := s.store.UserByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same time as a real check so logins cannot be enumerated.
		_, _ = CheckPassword(s.dummyHash, password)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("check password of %s: %w", u.ID, err)
	}
	if !ok {
		return nil, errBadCredentials
	}
	if u.Disabled {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "account disabled")
	}
	s.byLogin.Reset("login:" + login)
	now := s.now().UTC()
	if err := s.store.RevokeSessions(ctx, u.ID, deviceID, schemas.RevokeRelogin); err != nil {
		return nil, err
	}
	sess := &schemas.Session{
		ID: schemas.NewIDAt(now), UserID: u.ID, DeviceID: deviceID,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.refreshTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "login", "user", u.ID, "role", u.Role, "session", sess.ID)
	return s.issue(ctx, u, sess)
}

// Refresh exchanges a refresh token for a new pair. Each refresh token
// rotates once. Presented again within the grace window after its rotation
// (the phone's concurrent refreshes, or its retry after a lost response), it
// gets the same pair as the first time and nothing is revoked; presented
// later, it was copied, so the whole session (the family) is revoked.
//
// No successor is stored in clear: it is derived from the presented token
// under a server key (Tokens.successors), so the request that rotates the
// token and any repeat of it compute the same one, and the access token is
// re-signed from the stored rotation time, byte for byte the same. The
// rotation is one write of the token's document, conditional on its
// version, so on either engine exactly one request wins it and the others
// read its rotation time and successor hash, written by the same write.
func (s *Service) Refresh(ctx context.Context, refreshToken, deviceID string) (*TokenPair, error) {
	invalid := schemas.Errorf(schemas.EUNAUTHORIZED, "invalid refresh token")
	if err := schemas.ValidateDeviceID(deviceID); err != nil {
		return nil, err // a refresh token works only on its session's device
	}
	sessionID, _, ok := strings.Cut(refreshToken, ".")
	if !ok || len(refreshToken) < 20 || len(refreshToken) > 200 {
		return nil, invalid
	}
	// The store stamps the rotation at its precision (milliseconds); this
	// is the same clock, for the grace and expiry checks.
	now := s.now().UTC().Truncate(time.Millisecond)
	candidates := s.tokens.successors(sessionID, refreshToken)
	next := candidates[0]
	t, won, err := s.store.ClaimRefreshToken(ctx, hashToken(refreshToken), hashToken(next))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	if !won {
		if t.UsedAt == nil || t.Successor == "" || !now.Before(t.UsedAt.Add(s.refreshGrace)) {
			s.log.WarnContext(ctx, "refresh token reused; session revoked", "user", t.UserID, "session", t.SessionID)
			if err := s.store.RevokeSession(ctx, t.SessionID, schemas.RevokeRefreshReuse); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "refresh token already used; session revoked").With("reason", "refresh_token_reused")
		}
		next = ""
		for _, c := range candidates {
			if hashToken(c) == t.Successor {
				next = c
			}
		}
		if next == "" {
			// Rotated by an instance on a signing key this one does not
			// know yet (a key rotation under way): another try may reach
			// an instance that knows it.
			return nil, schemas.Errorf(schemas.EUNAVAILABLE, "refresh token was just rotated by another server; retry")
		}
	}
	if !now.Before(t.ExpiresAt) {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "refresh token expired")
	}
	sess, err := s.store.SessionByID(ctx, t.SessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !sess.Active(now)) {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "session ended")
	}
	if err != nil {
		return nil, err
	}
	if deviceID != sess.DeviceID {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "refresh token belongs to another device").With("reason", "device_mismatch")
	}
	u, err := s.activeUser(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.store.TouchSession(ctx, sess.ID); err != nil {
		return nil, err
	}
	return s.rotated(ctx, u, sess, next, t.UsedAt.UTC(), now)
}

// rotated returns the pair a refresh rotated to at at: it stores the
// successor (a no-op if another request stored it first) and signs the
// access token from the rotation's facts only, so every request that
// rotates to next gets the same pair.
func (s *Service) rotated(ctx context.Context, u *schemas.User, sess *schemas.Session, next string, at, now time.Time) (*TokenPair, error) {
	hash := hashToken(next)
	err := s.store.InsertRefreshToken(ctx, &schemas.RefreshToken{
		Hash: hash, SessionID: sess.ID, UserID: u.ID, IssuedAt: at, ExpiresAt: sess.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	access, err := s.tokens.IssueAt(u, sess.ID, sess.DeviceID, at, hash[:16])
	if err != nil {
		return nil, err
	}
	expiresIn := int(at.Add(s.tokens.TTL()).Sub(now).Seconds())
	return &TokenPair{AccessToken: access, RefreshToken: next, ExpiresIn: expiresIn, TokenType: "Bearer", userID: u.ID}, nil
}

// Logout ends the caller's session on this device.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	err := s.store.RevokeSession(ctx, p.SessionID, schemas.RevokeLogout)
	if errors.Is(err, store.ErrNotFound) {
		return nil // ended already
	}
	return err
}

// Authenticate verifies a bearer access token and that its session and user
// are still live, so logout and disabling take effect at once.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	c, err := s.tokens.Parse(bearer)
	if err != nil {
		return nil, err
	}
	sess, err := s.store.SessionByID(ctx, c.SessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (sess.RevokedAt != nil || sess.UserID != c.Subject)) {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "session ended")
	}
	if err != nil {
		return nil, err
	}
	u, err := s.activeUser(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, SessionID: sess.ID, DeviceID: sess.DeviceID}, nil
}

func (s *Service) activeUser(ctx context.Context, id string) (*schemas.User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "account not found")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "account disabled")
	}
	return u, nil
}

func (s *Service) issue(ctx context.Context, u *schemas.User, sess *schemas.Session) (*TokenPair, error) {
	now := s.now().UTC()
	// The session id prefix lets support find the family; the secret part
	// carries 256 bits of randomness and is stored only as a hash.
	refresh := sess.ID + "." + RandomSecret(32)
	err := s.store.InsertRefreshToken(ctx, &schemas.RefreshToken{
		Hash: hashToken(refresh), SessionID: sess.ID, UserID: u.ID,
		IssuedAt: now, ExpiresAt: sess.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	access, err := s.tokens.Issue(u, sess.ID, sess.DeviceID)
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.tokens.TTL().Seconds()), TokenType: "Bearer", userID: u.ID}, nil
}

// CreateUser creates an account with a hashed password.
func (s *Service) CreateUser(ctx context.Context, in schemas.NewUser) (*schemas.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &schemas.User{
		ID: schemas.NewIDAt(now), Login: in.Login, Name: strings.TrimSpace(in.Name), Role: in.Role,
		PasswordHash: hash, Team: in.Team, WorkerID: in.WorkerID, CustomerID: in.CustomerID,
		Locale: in.Locale, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, schemas.Errorf(schemas.ECONFLICT, "login %q is already taken", u.Login).With("field", "login")
		}
		return nil, err
	}
	return u, nil
}

// UpdateUser changes an account. Disabling it or changing its password ends
// all of its sessions at once.
func (s *Service) UpdateUser(ctx context.Context, id string, in schemas.UserUpdate) (*schemas.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ch := store.UserChanges{Name: in.Name, Disabled: in.Disabled, Team: in.Team, Locale: in.Locale}
	if in.Password != nil {
		hash, err := HashPassword(*in.Password)
		if err != nil {
			return nil, err
		}
		ch.PasswordHash = &hash
	}
	u, err := s.store.UpdateUser(ctx, id, ch)
	if errors.Is(err, store.ErrNotFound) {
		return nil, schemas.Errorf(schemas.ENOTFOUND, "user not found")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case in.Disabled != nil && *in.Disabled:
		err = s.store.RevokeSessions(ctx, id, "", schemas.RevokeDisabled)
	case in.Password != nil:
		err = s.store.RevokeSessions(ctx, id, "", schemas.RevokePassword)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// EnsureAdmin creates the first admin when the store has none. With no
// password given it generates one and returns it, to be shown once.
func (s *Service) EnsureAdmin(ctx context.Context, login, password string) (created *schemas.User, generated string, err error) {
	has, err := s.store.HasAdmin(ctx)
	if err != nil || has {
		return nil, "", err
	}
	if login == "" {
		login = "admin"
	}
	if password == "" {
		password = RandomSecret(15)
		generated = password
	}
	u, err := s.CreateUser(ctx, schemas.NewUser{Login: login, Password: password, Name: "Administrator", Role: schemas.RoleAdmin})
	if err != nil {
		// Another instance starting at the same moment created it first.
		if schemas.ErrorCode(err) == schemas.ECONFLICT {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("create first admin: %w", err)
	}
	return u, generated, nil
}

func rateLimited(wait time.Duration) error {
	secs := int(wait.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return schemas.Errorf(schemas.ERATELIMIT, "too many login attempts; try again in %d seconds", secs).With("retryAfter", secs)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}
