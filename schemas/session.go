package schemas

import "time"

// Session is one signed-in device of one user: the family that its refresh
// tokens belong to. Revoking it ends every token of the family at once.
type Session struct {
	ID           string     `json:"id" bson:"_id"`
	UserID       string     `json:"userId" bson:"userId"`
	DeviceID     string     `json:"deviceId" bson:"deviceId"`
	CreatedAt    time.Time  `json:"createdAt" bson:"createdAt"`
	LastUsedAt   time.Time  `json:"lastUsedAt" bson:"lastUsedAt"`
	ExpiresAt    time.Time  `json:"expiresAt" bson:"expiresAt"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty" bson:"revokedAt,omitempty"`
	RevokeReason string     `json:"revokeReason,omitempty" bson:"revokeReason,omitempty"`
}

// Active reports whether the session may still be used at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// Reasons a session ends, kept on the session for support and audit.
const (
	RevokeLogout       = "logout"
	RevokeRelogin      = "relogin"       // the same device signed in again
	RevokeRefreshReuse = "refresh_reuse" // a rotated refresh token was presented again
	RevokeDisabled     = "user_disabled"
	RevokePassword     = "password_changed"
)

// RefreshToken is the stored form of an opaque refresh token: only its hash.
// Rotating it sets Used, UsedAt and Successor in one update, so whoever
// finds it used also finds when and to what it was rotated.
type RefreshToken struct {
	Hash      string     `bson:"_id"`
	SessionID string     `bson:"sessionId"`
	UserID    string     `bson:"userId"`
	IssuedAt  time.Time  `bson:"issuedAt"`
	ExpiresAt time.Time  `bson:"expiresAt"`
	Used      bool       `bson:"used"`
	UsedAt    *time.Time `bson:"usedAt,omitempty"`    // when it was rotated
	Successor string     `bson:"successor,omitempty"` // hash of the token it was rotated to
}
