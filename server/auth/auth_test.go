package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format %q", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batter": false, "": false} {
		if ok, err := CheckPassword(h, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if _, err := CheckPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// TestLimiter: a token bucket per key, refilled by the injected clock.
func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0).UTC() // any instant: only durations matter
	l := NewLimiter(3, 3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.Allow("k")
	if ok || wait != 20*time.Second {
		t.Fatalf("4th attempt ok=%v wait=%v, want a refusal for 20s (one token of 3 a minute)", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("keys are not independent")
	}
	now = now.Add(20 * time.Second)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("no token after 20s")
	}
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("two tokens after 20s")
	}
	now = now.Add(time.Hour) // refilled to the burst, not beyond
	for range 3 {
		l.Allow("k")
	}
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("bucket grew past its burst")
	}
	l.Reset("k")
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("reset did not refill")
	}
	if ok, _ := NewLimiter(0, 0, time.Minute, time.Now).Allow("k"); !ok {
		t.Fatal("a zero rate must allow everything")
	}
}
