package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key (golang.org/x/time/rate): a key may
// spend burst requests at once, and the bucket refills at a steady rate.
// The bucket suits phones: a backlog after hours offline arrives as a
// burst, then traffic is steady. Time comes from the injected clock, so
// tests move it instead of sleeping.
//
// It is per process: with several instances behind a balancer each keeps
// its own buckets, so the effective limit is multiplied by their number,
// which still stops floods at any useful rate.
type Limiter struct {
	every time.Duration // refill: one token per every
	burst int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*rate.Limiter
	last time.Time // of the last sweep
}

// NewLimiter allows burst requests per key at once and n per per after
// that (n/per refill); n == 0 allows everything.
func NewLimiter(n, burst int, per time.Duration, now func() time.Time) *Limiter {
	l := &Limiter{burst: max(burst, 1), now: now, keys: map[string]*rate.Limiter{}}
	if n > 0 {
		l.every = per / time.Duration(n)
	}
	return l
}

// Allow spends one token of key and reports whether it had one; when not,
// it says how long until it will.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.every <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.keys[key]
	if b == nil {
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.keys[key] = b
	}
	r := b.ReserveN(now, 1) // always OK: the burst is at least 1
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Reset forgets key's spending (after a successful login).
func (l *Limiter) Reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// sweep drops the buckets that have refilled completely: they are the same
// as a new one, so memory follows the active keys.
func (l *Limiter) sweep(now time.Time) {
	full := l.every * time.Duration(l.burst)
	if now.Sub(l.last) < full && len(l.keys) < 10_000 {
		return
	}
	l.last = now
	for k, b := range l.keys {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
}
