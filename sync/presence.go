package sync

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"time"
)

// Presence makes and checks customer presence codes: a TOTP (RFC 6238,
// HMAC-SHA1, 6 digits) per visit, changing every Step. Only the server and
// the visit's customer know the secret, so a worker entering the code from
// the customer's phone, even offline, proves they were there with the
// customer. The server checks it on sync against the operation's time.
type Presence struct {
	keys [][]byte // current first; older keys keep verifying after rotation
	Step time.Duration
}

// PresenceDigits is the length of a code.
const PresenceDigits = 6

// NewPresence makes codes from the first key and accepts codes of all.
func NewPresence(keys [][]byte, step time.Duration) *Presence {
	return &Presence{keys: keys, Step: step}
}

func visitSecret(key []byte, visitID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("presence/" + visitID))
	return m.Sum(nil)[:20]
}

// Secret is the visit's TOTP secret, base32 as authenticator apps take it.
func (p *Presence) Secret(visitID string) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(visitSecret(p.keys[0], visitID))
}

func (p *Presence) step(t time.Time) int64 { return t.Unix() / int64(p.Step/time.Second) }

func totp(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", PresenceDigits, n%1_000_000)
}

// Code is the visit's code at t.
func (p *Presence) Code(visitID string, t time.Time) string {
	return totp(visitSecret(p.keys[0], visitID), p.step(t))
}

// Verify checks a code against the time the operation happened, allowing
// one step either side for the phone's clock and typing. It returns the
// step the code belongs to, so the same code used twice can be caught.
func (p *Presence) Verify(visitID, code string, at time.Time) (bool, int64) {
	if len(code) != PresenceDigits {
		return false, 0
	}
	s := p.step(at)
	for _, k := range p.keys {
		secret := visitSecret(k, visitID)
		for _, d := range []int64{0, -1, 1} {
			if subtle.ConstantTimeCompare([]byte(totp(secret, s+d)), []byte(code)) == 1 {
				return true, s + d
			}
		}
	}
	return false, 0
}
