package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/store/storetest"
)

func TestLoginMeRefreshRotation(t *testing.T) {
	f := newFixture(t)
	u := f.user("worker.a", schemas.RoleWorker)
	pair := f.login("  Worker.A ", "phone-1") // logins are case- and space-insensitive

	var me schemas.User
	f.do("GET", "/v1/me", nil, pair.AccessToken).want(200).decode(&me)
	if me.ID != u.ID || me.Role != schemas.RoleWorker {
		t.Fatalf("me = %+v, want %s", me, u.ID)
	}
	if strings.Contains(string(f.do("GET", "/v1/me", nil, pair.AccessToken).body), "argon2") {
		t.Fatal("/v1/me leaks the password hash")
	}

	// Rotation: each refresh token works once and yields a new pair.
	var next auth.TokenPair
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "").want(200).decode(&next)
	if next.RefreshToken == pair.RefreshToken || next.AccessToken == "" {
		t.Fatal("refresh did not rotate the refresh token")
	}
	f.do("GET", "/v1/me", nil, next.AccessToken).want(200)

	// Reusing the rotated token after the grace window revokes the whole family.
	f.clock.Add(testGrace)
	e := f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
	if e.Details["reason"] != "refresh_token_reused" {
		t.Fatalf("reuse details = %v", e.Details)
	}
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": next.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/me", nil, next.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/me", nil, pair.AccessToken).wantError(401, schemas.EUNAUTHORIZED)

	// The user can sign in again afterwards.
	f.do("GET", "/v1/me", nil, f.login("worker.a", "phone-1").AccessToken).want(200)
}

func TestRefreshBoundToDeviceAndExpiry(t *testing.T) {
	f := newFixture(t)
	f.user("worker.b", schemas.RoleWorker)
	pair := f.login("worker.b", "phone-1")
	// Without the session's device id, or with another one, a refresh is
	// refused: the device binding cannot be skipped.
	e := f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken}, "").wantError(400, schemas.EINVALID)
	if e.Details["field"] != "deviceId" {
		t.Fatalf("missing deviceId details = %v", e.Details)
	}
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": ""}, "").wantError(400, schemas.EINVALID)
	e = f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-2"}, "").wantError(401, schemas.EUNAUTHORIZED)
	if e.Details["reason"] != "device_mismatch" {
		t.Fatalf("wrong deviceId details = %v", e.Details)
	}
	// The phone itself, within the grace window, still gets its pair.
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "").want(200)

	pair = f.login("worker.b", "phone-1")
	f.clock.Add(31 * 24 * time.Hour)
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/me", nil, pair.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
}

// TestConcurrentRefreshesGetOnePair: a phone firing several refreshes of
// one token at once (or one retried after a lost response) is not logged
// out: every request gets the same pair, and the session goes on.
func TestConcurrentRefreshesGetOnePair(t *testing.T) {
	storetest.NeedsIsolation(t)
	f := newFixture(t)
	f.user("worker.c", schemas.RoleWorker)
	pair := f.login("worker.c", "phone-1")
	const n = 8
	results := make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "")
		})
	}
	wg.Wait()
	var first auth.TokenPair
	results[0].want(200).decode(&first)
	if first.RefreshToken == pair.RefreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}
	for i, r := range results {
		var got auth.TokenPair
		r.want(200).decode(&got)
		if got != first {
			t.Fatalf("refresh %d got another pair:\n%+v\nwant\n%+v", i, got, first)
		}
	}
	f.do("GET", "/v1/me", nil, first.AccessToken).want(200)
	var next auth.TokenPair
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": first.RefreshToken, "deviceId": "phone-1"}, "").want(200).decode(&next)
	f.do("GET", "/v1/me", nil, next.AccessToken).want(200)
}

// TestRefreshRetryWithinGrace: the same token presented again just inside
// the window gets the same pair; at the window's end it is a reuse, and
// the whole session is revoked.
func TestRefreshRetryWithinGrace(t *testing.T) {
	f := newFixture(t)
	f.user("worker.k", schemas.RoleWorker)
	pair := f.login("worker.k", "phone-1")
	body := map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}
	var first, retry auth.TokenPair
	f.do("POST", "/v1/auth/refresh", body, "").want(200).decode(&first)
	f.clock.Add(testGrace - time.Second)
	f.do("POST", "/v1/auth/refresh", body, "").want(200).decode(&retry)
	if retry.AccessToken != first.AccessToken || retry.RefreshToken != first.RefreshToken {
		t.Fatalf("retry within the window got another pair: %+v, want %+v", retry, first)
	}
	if want := first.ExpiresIn - int((testGrace - time.Second).Seconds()); retry.ExpiresIn != want {
		t.Fatalf("retry expiresIn %d, want %d (the same access token, older)", retry.ExpiresIn, want)
	}
	f.do("GET", "/v1/me", nil, retry.AccessToken).want(200)

	f.clock.Add(time.Second) // the window is over
	e := f.do("POST", "/v1/auth/refresh", body, "").wantError(401, schemas.EUNAUTHORIZED)
	if e.Details["reason"] != "refresh_token_reused" {
		t.Fatalf("reuse details = %v", e.Details)
	}
	f.do("GET", "/v1/me", nil, first.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": first.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
}

// TestRefreshGraceAcrossKeyRotation: a repeat reaching an instance that
// shares the signing key (current or previous) gets the same refresh
// token; one that cannot know the key asks for a retry and revokes nothing.
func TestRefreshGraceAcrossKeyRotation(t *testing.T) {
	f := newFixture(t)
	f.user("worker.l", schemas.RoleWorker)
	pair := f.login("worker.l", "phone-1")
	newKey := auth.NewKey([]byte("rotated-secret-rotated-secret-0000"))
	instance := func(current auth.Key, previous ...auth.Key) *auth.Service {
		tokens := auth.NewTokens(current, previous, testIssuer, testAudience, 15*time.Minute, f.clock.Now)
		return auth.NewService(f.db.Accounts, tokens, auth.Config{RefreshTTL: 30 * 24 * time.Hour, RefreshGrace: testGrace, LoginPerAccount: 5, LoginPerIP: 5}, f.clock.Now, slog.New(slog.DiscardHandler))
	}
	ctx := t.Context()
	first, err := instance(newKey, testKey).Refresh(ctx, pair.RefreshToken, "phone-1")
	if err != nil {
		t.Fatal(err)
	}
	// An instance still on the old key only: no pair, no revocation.
	if _, err := f.auth.Refresh(ctx, pair.RefreshToken, "phone-1"); schemas.ErrorCode(err) != schemas.EUNAVAILABLE {
		t.Fatalf("old-key instance: err %v, want %s", err, schemas.EUNAVAILABLE)
	}
	// The other way round during the rotation, and on the new key: the same refresh token.
	pair2 := f.login("worker.l", "phone-2")
	a, err := f.auth.Refresh(ctx, pair2.RefreshToken, "phone-2")
	if err != nil {
		t.Fatal(err)
	}
	b, err := instance(newKey, testKey).Refresh(ctx, pair2.RefreshToken, "phone-2")
	if err != nil || b.RefreshToken != a.RefreshToken {
		t.Fatalf("new-key instance repeat: %v, %v; want refresh token %s", b, err, a.RefreshToken)
	}
	again, err := instance(newKey, testKey).Refresh(ctx, pair.RefreshToken, "phone-1")
	if err != nil || again.RefreshToken != first.RefreshToken {
		t.Fatalf("same-key repeat: %v, %v", again, err)
	}
	if _, err := instance(newKey).Authenticate(ctx, again.AccessToken); err != nil {
		t.Fatalf("session after the repeats: %v", err)
	}
}

func TestLogoutAndRelogin(t *testing.T) {
	f := newFixture(t)
	f.user("worker.d", schemas.RoleWorker)
	p1 := f.login("worker.d", "phone-1")
	p2 := f.login("worker.d", "tablet-1")

	f.do("POST", "/v1/auth/logout", nil, p1.AccessToken).want(204)
	f.do("GET", "/v1/me", nil, p1.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": p1.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/me", nil, p2.AccessToken).want(200) // the other device is untouched

	// Signing in again on the same device ends that device's earlier session.
	p3 := f.login("worker.d", "tablet-1")
	f.do("GET", "/v1/me", nil, p2.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
	f.do("GET", "/v1/me", nil, p3.AccessToken).want(200)
}

func TestDisabledUserLosesAccessAtOnce(t *testing.T) {
	f := newFixture(t)
	admin := f.user("admin.a", schemas.RoleAdmin)
	w := f.user("worker.e", schemas.RoleWorker)
	at := f.login("admin.a", "office").AccessToken
	wp := f.login("worker.e", "phone-1")

	f.do("PATCH", "/v1/users/"+w.ID, map[string]any{"disabled": true}, at).want(200)
	f.do("GET", "/v1/me", nil, wp.AccessToken).wantError(401, schemas.EUNAUTHORIZED)
	f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": wp.RefreshToken, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)
	f.do("POST", "/v1/auth/login", map[string]any{"login": "worker.e", "password": testPassword, "deviceId": "phone-1"}, "").wantError(401, schemas.EUNAUTHORIZED)

	f.do("PATCH", "/v1/users/"+w.ID, map[string]any{"disabled": false}, at).want(200)
	f.login("worker.e", "phone-1")

	f.do("PATCH", "/v1/users/"+admin.ID, map[string]any{"disabled": true}, at).wantError(409, schemas.ECONFLICT)
}

func TestWrongPasswordAndRateLimit(t *testing.T) {
	f := newFixture(t)
	f.user("worker.f", schemas.RoleWorker)
	bad := map[string]any{"login": "worker.f", "password": "wrong password!", "deviceId": "p"}
	unknown := f.do("POST", "/v1/auth/login", map[string]any{"login": "nobody", "password": "wrong password!", "deviceId": "p"}, "").wantError(401, schemas.EUNAUTHORIZED)
	wrong := f.do("POST", "/v1/auth/login", bad, "").wantError(401, schemas.EUNAUTHORIZED)
	if unknown.Message != wrong.Message {
		t.Fatalf("unknown login and wrong password answer differently: %q vs %q", unknown.Message, wrong.Message)
	}
	for range 4 {
		f.do("POST", "/v1/auth/login", bad, "").want(401)
	}
	r := f.do("POST", "/v1/auth/login", bad, "")
	r.wantError(429, schemas.ERATELIMIT)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Even the right password waits out the window.
	f.do("POST", "/v1/auth/login", map[string]any{"login": "worker.f", "password": testPassword, "deviceId": "p"}, "").want(429)
	f.clock.Add(61 * time.Second)
	f.login("worker.f", "p")
}

// TestForgedTokens: every broken or forged access token is a 401 with the
// error shape, never a 500 and never accepted.
func TestForgedTokens(t *testing.T) {
	f := newFixture(t)
	u := f.user("worker.g", schemas.RoleWorker)
	good := f.login("worker.g", "phone-1").AccessToken
	f.do("GET", "/v1/me", nil, good).want(200)

	// Recover the session id so forgeries differ from the real token only
	// in the property under test.
	var claims auth.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(good, &claims); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	base := func(mut func(*auth.Claims)) *auth.Claims {
		c := claims
		c.Audience = jwt.ClaimStrings{testAudience}
		c.IssuedAt = jwt.NewNumericDate(now)
		c.ExpiresAt = jwt.NewNumericDate(now.Add(10 * time.Minute))
		if mut != nil {
			mut(&c)
		}
		return &c
	}
	sign := func(method jwt.SigningMethod, key any, c *auth.Claims, kid string) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// The control: a token we forge with the real key and untouched claims
	// is accepted, so each case below fails for its own reason.
	f.do("GET", "/v1/me", nil, sign(jwt.SigningMethodHS256, testKey.Secret, base(nil), testKey.ID)).want(200)

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, base(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(good, ".")
	cases := map[string]string{
		"alg none":                   none,
		"RS256 (HS/RS confusion)":    sign(jwt.SigningMethodRS256, rsaKey, base(nil), testKey.ID),
		"HS512 with the right key":   sign(jwt.SigningMethodHS512, testKey.Secret, base(nil), testKey.ID),
		"wrong key":                  sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-0000"), base(nil), testKey.ID),
		"unknown kid":                sign(jwt.SigningMethodHS256, testKey.Secret, base(nil), "0000000000000000"),
		"no kid":                     sign(jwt.SigningMethodHS256, testKey.Secret, base(nil), ""),
		"expired":                    sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }), testKey.ID),
		"missing exp":                sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.ExpiresAt = nil }), testKey.ID),
		"wrong aud":                  sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }), testKey.ID),
		"wrong iss":                  sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.Issuer = "evil" }), testKey.ID),
		"issued in the future":       sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }), testKey.ID),
		"no session":                 sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.SessionID = "" }), testKey.ID),
		"someone else's session":     sign(jwt.SigningMethodHS256, testKey.Secret, base(func(c *auth.Claims) { c.Subject = schemas.NewID() }), testKey.ID),
		"role escalation, no resign": parts[0] + "." + strings.TrimRight(jwtSegment(t, map[string]any{"sub": u.ID, "role": "admin"}), "=") + "." + parts[2],
		"tampered signature":         parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"garbage":                    "not-a-jwt",
		"three dots":                 "...",
		"huge":                       strings.Repeat("a", 5000),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			f.t = t
			f.do("GET", "/v1/me", nil, tok).wantError(401, schemas.EUNAUTHORIZED)
		})
	}
	f.t = t
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "bearer"} {
		f.do("GET", "/v1/me", nil, "", "Authorization", h).wantError(401, schemas.EUNAUTHORIZED)
	}
}

func jwtSegment(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(s, ".")[1]
}

func TestKeyRotationAcceptsPreviousKey(t *testing.T) {
	old := auth.NewKey([]byte("old-secret-old-secret-old-secret-00"))
	cur := auth.NewKey([]byte("new-secret-new-secret-new-secret-00"))
	now := func() time.Time { return time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC) }
	u := &schemas.User{ID: schemas.NewID(), Role: schemas.RoleWorker}
	oldTok, err := auth.NewTokens(old, nil, "i", "a", time.Minute, now).Issue(u, "s", "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewTokens(cur, []auth.Key{old}, "i", "a", time.Minute, now).Parse(oldTok); err != nil {
		t.Fatalf("token of the previous key refused during rotation: %v", err)
	}
	if _, err := auth.NewTokens(cur, nil, "i", "a", time.Minute, now).Parse(oldTok); err == nil {
		t.Fatal("token of a retired key accepted")
	}
}
