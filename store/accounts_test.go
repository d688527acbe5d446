package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
)

func accountUser(t testing.TB, s *Store, login string, role schemas.Role) *schemas.User {
	t.Helper()
	now := s.now().UTC()
	u := &schemas.User{ID: schemas.NewIDAt(now), Login: login, Name: login, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := s.Accounts.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create %s: %v", login, err)
	}
	return u
}

// race runs f n times at once and returns the errors in call order.
func accountRace(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestUsers(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	if has, err := a.HasAdmin(ctx); err != nil || has {
		t.Fatalf("HasAdmin of an empty store = %v, %v", has, err)
	}
	w1 := accountUser(t, s, "worker1", schemas.RoleWorker)
	admin := accountUser(t, s, "admin", schemas.RoleAdmin)
	w2 := accountUser(t, s, "worker2", schemas.RoleWorker)
	w3 := accountUser(t, s, "worker3", schemas.RoleWorker)
	if has, err := a.HasAdmin(ctx); err != nil || !has {
		t.Fatalf("HasAdmin = %v, %v", has, err)
	}

	// Logins are stored normalised, so spellings of one login collide.
	for _, spelling := range []string{"WORKER1", "ｗorker1", " Worker1 "} {
		login, err := schemas.NormalizeLogin(spelling)
		if err != nil {
			t.Fatal(err)
		}
		u := &schemas.User{ID: schemas.NewIDAt(c.now()), Login: login, Role: schemas.RoleWorker}
		if err := a.CreateUser(ctx, u); !errors.Is(err, ErrDuplicate) {
			t.Errorf("create %q (%q) = %v, want ErrDuplicate", spelling, login, err)
		}
	}
	if err := a.CreateUser(ctx, &schemas.User{ID: w1.ID, Login: "other", Role: schemas.RoleWorker}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("create with a taken id = %v, want ErrDuplicate", err)
	}

	if u, err := a.UserByID(ctx, w2.ID); err != nil || u.Login != "worker2" {
		t.Errorf("UserByID = %+v, %v", u, err)
	}
	if u, err := a.UserByLogin(ctx, "worker3"); err != nil || u.ID != w3.ID {
		t.Errorf("UserByLogin = %+v, %v", u, err)
	}
	if _, err := a.UserByID(ctx, schemas.NewIDAt(c.now())); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByID of no one = %v", err)
	}
	if _, err := a.UserByLogin(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByLogin of no one = %v", err)
	}

	ids := func(us []schemas.User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    UserFilter
		want []string
	}{
		{"all", UserFilter{Limit: 10}, []string{w1.ID, admin.ID, w2.ID, w3.ID}},
		{"all, first page", UserFilter{Limit: 2}, []string{w1.ID, admin.ID}},
		{"all, next page", UserFilter{After: admin.ID, Limit: 2}, []string{w2.ID, w3.ID}},
		{"workers", UserFilter{Role: schemas.RoleWorker, Limit: 10}, []string{w1.ID, w2.ID, w3.ID}},
		{"workers, first page", UserFilter{Role: schemas.RoleWorker, Limit: 2}, []string{w1.ID, w2.ID}},
		{"workers, next page", UserFilter{Role: schemas.RoleWorker, After: w2.ID, Limit: 2}, []string{w3.ID}},
		{"workers after an admin's id", UserFilter{Role: schemas.RoleWorker, After: admin.ID, Limit: 10}, []string{w2.ID, w3.ID}},
		{"admins", UserFilter{Role: schemas.RoleAdmin, Limit: 10}, []string{admin.ID}},
		{"customers", UserFilter{Role: schemas.RoleCustomer, Limit: 10}, []string{}},
	} {
		us, err := a.ListUsers(ctx, tc.f)
		if err != nil || !slices.Equal(ids(us), tc.want) {
			t.Errorf("%s: ListUsers = %v, %v; want %v", tc.name, ids(us), err, tc.want)
		}
	}

	c.advance(time.Minute)
	name, team, off := "W. Two", "team-2", true
	u, err := a.UpdateUser(ctx, w2.ID, UserChanges{Name: &name, Team: &team, Disabled: &off})
	if err != nil || u.Name != name || u.Team != team || !u.Disabled || u.Login != "worker2" || !u.UpdatedAt.Equal(c.now()) {
		t.Fatalf("UpdateUser = %+v, %v", u, err)
	}
	if got, _ := a.UserByID(ctx, w2.ID); got.Name != name || !got.Disabled || !got.CreatedAt.Equal(w2.CreatedAt) {
		t.Errorf("stored after update: %+v", got)
	}
	if _, err := a.UpdateUser(ctx, schemas.NewIDAt(c.now()), UserChanges{Name: &name}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateUser of no one = %v", err)
	}
}

// TestConcurrentUsers: of racing creations of one login exactly one lands,
// and racing updates of different fields of one user lose none.
func TestConcurrentUsers(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	errs := accountRace(20, func(i int) error {
		return s.Accounts.CreateUser(ctx, &schemas.User{ID: fmt.Sprintf("u-%02d", i), Login: "same", Role: schemas.RoleWorker})
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrDuplicate):
			t.Fatalf("create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creations of one login landed, want 1", won)
	}
	u := accountUser(t, s, "racer", schemas.RoleWorker)
	c.advance(time.Second)
	name, team, locale, worker, customer := "N", "T", "en", "w-1", "c-1"
	changes := []UserChanges{{Name: &name}, {Team: &team}, {Locale: &locale}, {WorkerID: &worker}, {CustomerID: &customer}}
	for _, err := range accountRace(len(changes), func(i int) error {
		_, err := s.Accounts.UpdateUser(ctx, u.ID, changes[i])
		return err
	}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Accounts.UserByID(ctx, u.ID)
	if got.Name != name || got.Team != team || got.Locale != locale || got.WorkerID != worker || got.CustomerID != customer {
		t.Fatalf("after racing updates: %+v", got)
	}
}

func TestRefreshTokens(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	now := c.now()
	tok := &schemas.RefreshToken{Hash: "h1", SessionID: "s1", UserID: "u1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	for range 2 { // the second is a no-op
		if err := a.InsertRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(1500 * time.Microsecond) // below the stored precision
	claimedAt := c.now().UTC().Truncate(time.Millisecond)
	got, won, err := a.ClaimRefreshToken(ctx, "h1", "h2")
	if err != nil || !won || !got.Used || got.SessionID != "s1" || got.Successor != "h2" || !got.UsedAt.Equal(claimedAt) {
		t.Fatalf("first claim = %+v, %v, %v", got, won, err)
	}
	c.advance(time.Second)
	// A later claim loses and reads the first one's rotation, to the
	// byte of what the winner was given.
	again, won, err := a.ClaimRefreshToken(ctx, "h1", "h3")
	if err != nil || won || again.Successor != "h2" || !again.UsedAt.Equal(*got.UsedAt) {
		t.Fatalf("second claim = %+v, won=%v, err=%v; want the first rotation", again, won, err)
	}
	if _, _, err := a.ClaimRefreshToken(ctx, "nope", "h4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claim of an unknown token = %v", err)
	}
}

// TestConcurrentRefreshClaims: 50 claims of one token at once rotate it
// once, and every claimant learns the same successor and time, whether
// they all present the same successor (a phone's retries) or not.
func TestConcurrentRefreshClaims(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(fmt.Sprintf("same successor %v", same), func(t *testing.T) {
			s, c := openTest(t)
			ctx := t.Context()
			now := c.now()
			if err := s.Accounts.InsertRefreshToken(ctx, &schemas.RefreshToken{Hash: "h", SessionID: "s", UserID: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			const n = 50
			toks := make([]*schemas.RefreshToken, n)
			wins := make([]bool, n)
			errs := accountRace(n, func(i int) error {
				next := "next"
				if !same {
					next = fmt.Sprintf("next-%d", i)
				}
				var err error
				toks[i], wins[i], err = s.Accounts.ClaimRefreshToken(ctx, "h", next)
				return err
			})
			winner := -1
			for i, err := range errs {
				if err != nil {
					t.Fatalf("claim %d: %v", i, err)
				}
				if wins[i] {
					if winner >= 0 {
						t.Fatalf("claims %d and %d both won", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatal("no claim won")
			}
			want := toks[winner]
			for i, tok := range toks {
				if tok.Successor != want.Successor || tok.UsedAt == nil || !tok.UsedAt.Equal(*want.UsedAt) {
					t.Errorf("claim %d got %s at %v; the winner %s at %v", i, tok.Successor, tok.UsedAt, want.Successor, want.UsedAt)
				}
			}
			stored, _, err := s.Accounts.ClaimRefreshToken(ctx, "h", "late")
			if err != nil || stored.Successor != want.Successor {
				t.Fatalf("stored rotation %+v, %v; the winner's %s", stored, err, want.Successor)
			}
		})
	}
}

func accountSession(t testing.TB, s *Store, userID, deviceID string) *schemas.Session {
	t.Helper()
	now := s.now().UTC()
	sess := &schemas.Session{ID: schemas.NewIDAt(now), UserID: userID, DeviceID: deviceID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.Accounts.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	return sess
}

func TestSessions(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	old := accountSession(t, s, "u1", "phone")
	phone := accountSession(t, s, "u1", "phone")
	tablet := accountSession(t, s, "u1", "tablet")
	other := accountSession(t, s, "u2", "phone")
	if err := a.CreateSession(ctx, phone); !errors.Is(err, ErrDuplicate) {
		t.Errorf("create a session twice = %v", err)
	}

	c.advance(time.Minute)
	if err := a.TouchSession(ctx, phone.ID); err != nil {
		t.Fatal(err)
	}
	touched := c.now().UTC()
	c.advance(-30 * time.Second) // a touch from a late request moves nothing back
	if err := a.TouchSession(ctx, phone.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := a.SessionByID(ctx, phone.ID); err != nil || !got.LastUsedAt.Equal(touched) || !got.Active(c.now()) {
		t.Fatalf("after touches: %+v, %v; want last used %v", got, err, touched)
	}
	if err := a.TouchSession(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("touch of no session = %v", err)
	}
	if _, err := a.SessionByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SessionByID of no session = %v", err)
	}

	c.advance(time.Minute)
	first := c.now().UTC()
	if err := a.RevokeSessions(ctx, "u1", "phone", schemas.RevokeRelogin); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Minute)
	if err := a.RevokeSessions(ctx, "u1", "", schemas.RevokeDisabled); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeSession(ctx, phone.ID, schemas.RevokeLogout); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeSession(ctx, "nope", schemas.RevokeLogout); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke of no session = %v", err)
	}
	for _, tc := range []struct {
		name   string
		id     string
		reason string
		at     time.Time
	}{
		{"an older session of the device", old.ID, schemas.RevokeRelogin, first},
		{"the device's session, revoked thrice", phone.ID, schemas.RevokeRelogin, first},
		{"the user's other device", tablet.ID, schemas.RevokeDisabled, c.now().UTC()},
		{"another user's session on a device of that name", other.ID, "", time.Time{}},
	} {
		got, err := a.SessionByID(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.reason == "" && got.RevokedAt != nil:
			t.Errorf("%s: revoked (%s)", tc.name, got.RevokeReason)
		case tc.reason != "" && (got.RevokedAt == nil || !got.RevokedAt.Equal(tc.at) || got.RevokeReason != tc.reason):
			t.Errorf("%s: revoked at %v for %q, want at %v for %q", tc.name, got.RevokedAt, got.RevokeReason, tc.at, tc.reason)
		}
	}
}

// TestConcurrentRevocations: revocations of one user's sessions racing
// each other, touches and a logout end every session, each once (with
// the reason and time of the first), over more than one page of them.
func TestConcurrentRevocations(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	const n = 130
	var ids []string
	for i := range n {
		ids = append(ids, accountSession(t, s, "u1", fmt.Sprintf("dev-%d", i%3)).ID)
	}
	keep := accountSession(t, s, "u2", "dev-0")
	c.advance(time.Minute)
	reasons := []string{schemas.RevokeDisabled, schemas.RevokePassword, schemas.RevokeRelogin, schemas.RevokeLogout}
	errs := accountRace(24, func(i int) error {
		switch i % 4 {
		case 0, 1:
			return a.RevokeSessions(ctx, "u1", "", reasons[i%4])
		case 2:
			return a.RevokeSessions(ctx, "u1", "dev-1", reasons[2])
		default:
			if err := a.TouchSession(ctx, ids[i]); err != nil {
				return err
			}
			return a.RevokeSession(ctx, ids[i], reasons[3])
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	revokedAt := c.now().UTC()
	c.advance(time.Minute)
	// Nothing is left live: a later revocation changes no session.
	if err := a.RevokeSessions(ctx, "u1", "", "late"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		got, err := a.SessionByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) || !slices.Contains(reasons, got.RevokeReason) {
			t.Errorf("session %s (%s): revoked at %v for %q", id, got.DeviceID, got.RevokedAt, got.RevokeReason)
		}
	}
	if got, _ := a.SessionByID(ctx, keep.ID); got.RevokedAt != nil {
		t.Errorf("another user's session was revoked: %+v", got)
	}
}

func TestUserOfWorkerAndCustomer(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	mk := func(login string, role schemas.Role, worker, customer string) *schemas.User {
		c.advance(time.Second) // ids are time-ordered
		now := s.now().UTC()
		u := &schemas.User{ID: schemas.NewIDAt(now), Login: login, Role: role, WorkerID: worker, CustomerID: customer, CreatedAt: now, UpdatedAt: now}
		if err := a.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	old := mk("wk.old", schemas.RoleWorker, "w1", "")
	cu := mk("cu.1", schemas.RoleCustomer, "", "c1")
	mk("sup.w1", schemas.RoleSupervisor, "w1", "") // not a worker account
	for i := range 30 {
		mk(fmt.Sprintf("other%d", i), schemas.RoleWorker, fmt.Sprintf("w%d", i+2), "")
	}
	if u, err := a.UserOfWorker(ctx, "w1"); err != nil || u.ID != old.ID {
		t.Fatalf("UserOfWorker = %v, %v; want %s", u, err, old.ID)
	}
	if u, err := a.UserOfCustomer(ctx, "c1"); err != nil || u.ID != cu.ID {
		t.Fatalf("UserOfCustomer = %v, %v; want %s", u, err, cu.ID)
	}
	// The newest enabled account wins; a disabled one is skipped.
	newer := mk("wk.new", schemas.RoleWorker, "w1", "")
	if u, err := a.UserOfWorker(ctx, "w1"); err != nil || u.ID != newer.ID {
		t.Fatalf("UserOfWorker = %v, %v; want the newer %s", u, err, newer.ID)
	}
	yes := true
	if _, err := a.UpdateUser(ctx, newer.ID, UserChanges{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if u, err := a.UserOfWorker(ctx, "w1"); err != nil || u.ID != old.ID {
		t.Fatalf("UserOfWorker with the newer disabled = %v, %v; want %s", u, err, old.ID)
	}
	// An account of another role holding the id is not the worker's.
	w := "w99"
	if _, err := a.UpdateUser(ctx, cu.ID, UserChanges{WorkerID: &w}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "nobody", "w99"} {
		if u, err := a.UserOfWorker(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserOfWorker(%q) = %v, %v; want ErrNotFound", id, u, err)
		}
	}
	if _, err := a.UserOfCustomer(ctx, "w1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserOfCustomer of a worker id: %v", err)
	}
}

// TestPruneExpired: sessions and refresh tokens expired before the bound
// go, over more than one page; live ones and those expiring at the bound stay.
func TestPruneExpired(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Accounts
	now := c.now().UTC()
	bound := now.Add(-24 * time.Hour)
	var keep []string
	for i := range 250 {
		exp := bound.Add(-time.Duration(i+1) * time.Minute) // expired before the bound
		if i%5 == 0 {
			exp = bound.Add(time.Duration(i) * time.Minute) // at or after it
		}
		id := fmt.Sprintf("s%03d", i)
		if err := a.CreateSession(ctx, &schemas.Session{ID: id, UserID: "u1", DeviceID: "d", CreatedAt: exp.Add(-time.Hour), LastUsedAt: exp.Add(-time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := a.InsertRefreshToken(ctx, &schemas.RefreshToken{Hash: "h" + id, SessionID: id, UserID: "u1", IssuedAt: exp.Add(-time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if !exp.Before(bound) {
			keep = append(keep, id)
		}
	}
	sessions, tokens, err := a.PruneExpired(ctx, bound)
	if err != nil || sessions != 200 || tokens != 200 {
		t.Fatalf("PruneExpired = %d sessions, %d tokens, %v; want 200, 200", sessions, tokens, err)
	}
	for i := range 250 {
		id := fmt.Sprintf("s%03d", i)
		_, serr := a.SessionByID(ctx, id)
		_, _, terr := a.ClaimRefreshToken(ctx, "h"+id, "next")
		if want := slices.Contains(keep, id); (serr == nil) != want || (terr == nil) != want {
			t.Errorf("%s: session err %v, token err %v; kept = %v", id, serr, terr, want)
		}
	}
	if sessions, tokens, err := a.PruneExpired(ctx, bound); err != nil || sessions+tokens != 0 {
		t.Errorf("second prune = %d, %d, %v; want nothing", sessions, tokens, err)
	}
}
