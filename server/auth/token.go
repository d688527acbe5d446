package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fieldsync/schemas"
)

// Key is one HMAC signing key with the id that names it in a token's kid.
type Key struct {
	ID     string
	Secret []byte
}

// NewKey derives the key id from the secret, so the same secret always has
// the same id on every instance, and the id reveals nothing usable.
func NewKey(secret []byte) Key {
	sum := sha256.Sum256(append([]byte("fieldsync-kid:"), secret...))
	return Key{ID: hex.EncodeToString(sum[:8]), Secret: secret}
}

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Role      schemas.Role `json:"role"`
	DeviceID  string       `json:"did"`
	SessionID string       `json:"sid"`
}

// Tokens issues and verifies access tokens. It signs with the current key
// and accepts the previous ones, so keys rotate without logging anyone out.
type Tokens struct {
	current  Key
	keys     map[string][]byte
	rotation [][]byte // refresh-rotation keys, current first (see rotationKey)
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewTokens returns a Tokens that signs with current and also verifies
// tokens signed with any of previous.
func NewTokens(current Key, previous []Key, issuer, audience string, ttl time.Duration, now func() time.Time) *Tokens {
	keys := map[string][]byte{current.ID: current.Secret}
	rotation := [][]byte{rotationKey(current.Secret)}
	for _, k := range previous {
		keys[k.ID] = k.Secret
		rotation = append(rotation, rotationKey(k.Secret))
	}
	return &Tokens{
		current: current, keys: keys, rotation: rotation, issuer: issuer, audience: audience, ttl: ttl, now: now,
		// The algorithm is pinned: "none", RS*/ES* (key confusion) and any
		// other HMAC size are refused before the signature is looked at.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
			jwt.WithTimeFunc(now),
		),
	}
}

// TTL is the lifetime of an access token.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for the user's session on a device.
func (t *Tokens) Issue(u *schemas.User, sessionID, deviceID string) (string, error) {
	return t.IssueAt(u, sessionID, deviceID, t.now(), RandomSecret(9))
}

// IssueAt signs an access token issued at at with the token id jti. HS256
// is deterministic: the same arguments under the same key give the same
// token, which is how a refresh repeated within the grace window gets the
// very access token the first one got.
func (t *Tokens) IssueAt(u *schemas.User, sessionID, deviceID string, at time.Time, jti string) (string, error) {
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(at),
			NotBefore: jwt.NewNumericDate(at),
			ExpiresAt: jwt.NewNumericDate(at.Add(t.ttl)),
			ID:        jti,
		},
		Role: u.Role, DeviceID: deviceID, SessionID: sessionID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = t.current.ID
	s, err := tok.SignedString(t.current.Secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Parse verifies an access token and returns its claims. Every failure is
// EUNAUTHORIZED with a short reason; the cause is not echoed.
func (t *Tokens) Parse(s string) (*Claims, error) {
	var c Claims
	_, err := t.parser.ParseWithClaims(s, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		key, ok := t.keys[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		return key, nil
	})
	if err != nil {
		reason := "invalid access token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "access token expired"
		}
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "%s", reason)
	}
	if c.Subject == "" || c.SessionID == "" || !c.Role.Valid() {
		return nil, schemas.Errorf(schemas.EUNAUTHORIZED, "invalid access token")
	}
	return &c, nil
}

// rotationKey derives, from a signing secret, the key refresh-token
// successors are computed under, so that secret is never used for two
// purposes.
func rotationKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fieldsync refresh rotation v1"))
	return m.Sum(nil)
}

// successors returns the refresh tokens that may follow presented, one per
// signing key, the current key's first. Every instance that shares
// JWT_SECRET computes the same successor of a token, so concurrent
// refreshes of one token agree on its successor without storing it in
// clear; the previous keys' successors let an instance recognise one made
// by an instance already on a newer key during a rotation.
func (t *Tokens) successors(sessionID, presented string) []string {
	out := make([]string, len(t.rotation))
	for i, k := range t.rotation {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(presented))
		// The session id prefix lets support find the family; the rest is
		// 256 bits nobody without the key can compute.
		out[i] = sessionID + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return out
}
