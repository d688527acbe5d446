package auth

import (
	"sync"
	"time"
)

// Limiter counts attempts per key in fixed windows. It is per process: with
// several instances behind a balancer the effective limit is multiplied by
// their number, which still stops online guessing at any useful rate.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

// NewLimiter allows max attempts per key per window.
func NewLimiter(max int, window time.Duration, now func() time.Time) *Limiter {
	return &Limiter{max: max, window: window, now: now, buckets: map[string]*bucket{}}
}

// Allow counts an attempt for key and reports whether it is within the
// limit; when not, it says how long until the window resets.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 10_000 {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.buckets[key] = b
	}
	b.n++
	if b.n > l.max {
		return false, b.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// Reset forgets the attempts for key (after a successful login).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.start) >= l.window {
			delete(l.buckets, k)
		}
	}
}
