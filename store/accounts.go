package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const (
	colUsers         = "users"
	colSessions      = "sessions"
	colRefreshTokens = "refresh_tokens"

	ixUserLogin   = "login"
	ixUserRole    = "role_id"
	ixUserTeam    = "role_team"
	ixUserWorker  = "worker"
	ixUserCust    = "customer"
	ixSessionLive = "user_live_device"
	ixSessionEnd  = "session_expiry"
	ixTokenEnd    = "token_expiry"
)

// accountCollections are the collections Accounts writes.
var accountCollections = []doc.Collection{
	{Name: colUsers, Indexes: []doc.Index{
		// Logins are stored PRECIS-normalised (schemas.NormalizeLogin), so
		// two spellings of one login meet here.
		{Name: ixUserLogin, Fields: []string{"login"}, Unique: true},
		// Ids are time-ordered: a role's users in creation order, paged by id.
		{Name: ixUserRole, Fields: []string{"role", "_id"}},
		// Who hears a team's alerts: its supervisors, read by index.
		{Name: ixUserTeam, Fields: []string{"role", "team", "_id"}},
		// The account of a worker or of a customer, for push: read by
		// index, never by listing every user.
		{Name: ixUserWorker, Fields: []string{"workerId"}},
		{Name: ixUserCust, Fields: []string{"customerId"}},
	}},
	{Name: colSessions, Indexes: []doc.Index{
		// The live sessions of a user, or of one of its devices: what
		// revocation reads. A revoked session leaves this part of the index.
		{Name: ixSessionLive, Fields: []string{"userId", "live", "deviceId"}},
		// What PruneExpired deletes, oldest first.
		{Name: ixSessionEnd, Fields: []string{"expiresAt"}},
	}},
	// Read by hash (the _id); the expiry index is PruneExpired's.
	{Name: colRefreshTokens, Indexes: []doc.Index{
		{Name: ixTokenEnd, Fields: []string{"expiresAt"}},
	}},
}

// Accounts stores accounts and sessions: users, sessions, refresh tokens.
type Accounts struct{ s *Store }

// sessionDoc is a stored session: the session and whether it is still
// unrevoked, as a field an index can hold (RevokedAt is absent until then).
type sessionDoc struct {
	schemas.Session `bson:",inline"`
	Live            bool `bson:"live"`
}

// CreateUser inserts u. A login already taken is ErrDuplicate.
func (a *Accounts) CreateUser(ctx context.Context, u *schemas.User) error {
	if _, err := doc.Insert(ctx, a.s.engine, colUsers, u); err != nil {
		return fmt.Errorf("insert user %q: %w", u.Login, err)
	}
	return nil
}

// UserByID returns the user with the id, or ErrNotFound.
func (a *Accounts) UserByID(ctx context.Context, id string) (*schemas.User, error) {
	u, _, err := doc.Get[schemas.User](ctx, a.s.engine, colUsers, id)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	return &u, nil
}

// UserByLogin returns the user with the (normalised) login, or ErrNotFound.
func (a *Accounts) UserByLogin(ctx context.Context, login string) (*schemas.User, error) {
	p, err := a.s.engine.Scan(ctx, colUsers, doc.Query{Index: ixUserLogin, Eq: []any{login}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("user by login: %w", err)
	}
	if len(p.Docs) == 0 {
		return nil, fmt.Errorf("user by login: %w", doc.ErrNotFound)
	}
	var u schemas.User
	if err := p.Docs[0].Decode(&u); err != nil {
		return nil, fmt.Errorf("user by login: %w", err)
	}
	return &u, nil
}

// HasAdmin reports whether any admin account exists, enabled or not.
func (a *Accounts) HasAdmin(ctx context.Context) (bool, error) {
	p, err := a.s.engine.Scan(ctx, colUsers, doc.Query{Index: ixUserRole, Eq: []any{string(schemas.RoleAdmin)}, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("find an admin: %w", err)
	}
	return len(p.Docs) > 0, nil
}

// UserOfWorker returns the enabled worker account of the worker, or
// ErrNotFound. Of several, the newest (ids are time-ordered).
func (a *Accounts) UserOfWorker(ctx context.Context, workerID string) (*schemas.User, error) {
	return a.userOf(ctx, ixUserWorker, schemas.RoleWorker, workerID)
}

// UserOfCustomer returns the enabled customer account of the customer, or
// ErrNotFound. Of several, the newest.
func (a *Accounts) UserOfCustomer(ctx context.Context, customerID string) (*schemas.User, error) {
	return a.userOf(ctx, ixUserCust, schemas.RoleCustomer, customerID)
}

// userOf reads the accounts holding id in the index's field, newest first,
// and returns the first enabled one of the role.
func (a *Accounts) userOf(ctx context.Context, index string, role schemas.Role, id string) (*schemas.User, error) {
	if id == "" {
		return nil, fmt.Errorf("user of %s \"\": %w", index, doc.ErrNotFound)
	}
	q := doc.Query{Index: index, Eq: []any{id}, Desc: true, Limit: 20}
	for {
		p, err := a.s.engine.Scan(ctx, colUsers, q)
		if err != nil {
			return nil, fmt.Errorf("user of %s %s: %w", index, id, err)
		}
		us, err := doc.DecodeAll[schemas.User](p.Docs)
		if err != nil {
			return nil, fmt.Errorf("user of %s %s: %w", index, id, err)
		}
		for i := range us {
			if us[i].Role == role && !us[i].Disabled {
				return &us[i], nil
			}
		}
		if p.Next == "" {
			return nil, fmt.Errorf("user of %s %s: %w", index, id, doc.ErrNotFound)
		}
		q.After = p.Next
	}
}

// UserFilter selects users for a listing page.
type UserFilter struct {
	Role  schemas.Role // "" for every role
	Team  string       // with Role: only that team's ("" for every team)
	After string       // the last id of the previous page
	Limit int
}

// ListUsers returns one page of users in id order (ids are time-ordered),
// of one role or of all.
func (a *Accounts) ListUsers(ctx context.Context, f UserFilter) ([]schemas.User, error) {
	q := doc.Query{Index: doc.ByID, Limit: max(f.Limit, 1)}
	switch {
	case f.Role != "" && f.Team != "":
		q.Index, q.Eq = ixUserTeam, []any{string(f.Role), f.Team}
	case f.Role != "":
		q.Index, q.Eq = ixUserRole, []any{string(f.Role)}
	}
	if f.After != "" {
		q.Range.Gt = f.After
	}
	p, err := a.s.engine.Scan(ctx, colUsers, q)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := doc.DecodeAll[schemas.User](p.Docs)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UserChanges are the stored fields an update sets; nil means unchanged.
type UserChanges struct {
	Name         *string
	Disabled     *bool
	PasswordHash *string
	Team         *string
	Locale       *string
	WorkerID     *string
	CustomerID   *string
}

// UpdateUser applies ch to the user and returns the result, or ErrNotFound.
// Concurrent updates of other fields lose nothing (doc.Modify).
func (a *Accounts) UpdateUser(ctx context.Context, id string, ch UserChanges) (*schemas.User, error) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	u, _, err := doc.Modify(ctx, a.s.engine, colUsers, id, func(u *schemas.User) error {
		set(&u.Name, ch.Name)
		set(&u.PasswordHash, ch.PasswordHash)
		set(&u.Team, ch.Team)
		set(&u.Locale, ch.Locale)
		set(&u.WorkerID, ch.WorkerID)
		set(&u.CustomerID, ch.CustomerID)
		if ch.Disabled != nil {
			u.Disabled = *ch.Disabled
		}
		u.UpdatedAt = a.s.now().UTC()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", id, err)
	}
	return &u, nil
}

// CreateSession inserts a new session (a refresh-token family).
func (a *Accounts) CreateSession(ctx context.Context, s *schemas.Session) error {
	if _, err := doc.Insert(ctx, a.s.engine, colSessions, sessionDoc{Session: *s, Live: s.RevokedAt == nil}); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByID returns the session, or ErrNotFound.
func (a *Accounts) SessionByID(ctx context.Context, id string) (*schemas.Session, error) {
	d, _, err := doc.Get[sessionDoc](ctx, a.s.engine, colSessions, id)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	return &d.Session, nil
}

// TouchSession records that the session was used now. The mark only moves
// forward, whatever order concurrent touches land in.
func (a *Accounts) TouchSession(ctx context.Context, id string) error {
	now := a.s.now().UTC()
	_, _, err := doc.Modify(ctx, a.s.engine, colSessions, id, func(d *sessionDoc) error {
		if !now.After(d.LastUsedAt) {
			return errUnchanged
		}
		d.LastUsedAt = now
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("touch session %s: %w", id, err)
	}
	return nil
}

// RevokeSessions ends every live session of the user, or only those of one
// device when deviceID is not empty. Revoking twice keeps the first reason.
func (a *Accounts) RevokeSessions(ctx context.Context, userID, deviceID, reason string) error {
	q := doc.Query{Index: ixSessionLive, Eq: []any{userID, true}, Limit: 100}
	if deviceID != "" {
		q.Eq = append(q.Eq, deviceID)
	}
	for {
		p, err := a.s.engine.Scan(ctx, colSessions, q)
		if err != nil {
			return fmt.Errorf("revoke sessions of %s: %w", userID, err)
		}
		for _, d := range p.Docs {
			if err := a.RevokeSession(ctx, d.ID, reason); err != nil && !errors.Is(err, doc.ErrNotFound) {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		// Paging is by key: the sessions just revoked left the range, and
		// the next page starts after the last one read.
		q.After = p.Next
	}
}

// RevokeSession ends one session, or ErrNotFound. Revoking a revoked
// session keeps its first time and reason.
func (a *Accounts) RevokeSession(ctx context.Context, id, reason string) error {
	now := a.s.now().UTC()
	_, _, err := doc.Modify(ctx, a.s.engine, colSessions, id, func(d *sessionDoc) error {
		if d.RevokedAt != nil {
			return errUnchanged
		}
		d.RevokedAt, d.RevokeReason, d.Live = &now, reason, false
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	return nil
}

// InsertRefreshToken stores a refresh token's hash. The hash is the id, so
// storing the same token twice (two requests rotating to one successor) is
// a no-op.
func (a *Accounts) InsertRefreshToken(ctx context.Context, t *schemas.RefreshToken) error {
	if _, err := doc.Insert(ctx, a.s.engine, colRefreshTokens, t); err != nil && !errors.Is(err, doc.ErrDuplicate) {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// ClaimRefreshToken rotates the unused token with the hash to successor,
// now, and returns it as stored afterwards; won reports whether this call
// rotated it. The rotation is one write, conditional on the version read
// while the token was unused, so of concurrent claims exactly one wins on
// either engine, and every loser reads the winner's rotation (UsedAt and
// Successor, written together). An unknown hash is ErrNotFound.
func (a *Accounts) ClaimRefreshToken(ctx context.Context, hash, successor string) (*schemas.RefreshToken, bool, error) {
	for {
		t, version, err := doc.Get[schemas.RefreshToken](ctx, a.s.engine, colRefreshTokens, hash)
		if err != nil {
			return nil, false, fmt.Errorf("claim refresh token: %w", err)
		}
		if t.Used {
			return &t, false, nil
		}
		// At the stored precision, so the winner returns the time every
		// loser reads back.
		now := a.s.now().UTC().Truncate(time.Millisecond)
		t.Used, t.UsedAt, t.Successor = true, &now, successor
		_, err = doc.Replace(ctx, a.s.engine, colRefreshTokens, version, t)
		if err == nil {
			return &t, true, nil
		}
		if !errors.Is(err, doc.ErrVersion) {
			return nil, false, fmt.Errorf("claim refresh token: %w", err)
		}
		// Another claim won meanwhile: read its rotation.
	}
}

// PruneExpired deletes the sessions and refresh tokens that expired before
// before, and returns how many of each. Nothing can use them any more (a
// token presented after its expiry is refused whether stored or not); the
// caller keeps a margin so support can still read a recent one.
func (a *Accounts) PruneExpired(ctx context.Context, before time.Time) (sessions, tokens int64, err error) {
	// Tokens first: a token outlives no session it belongs to.
	if tokens, err = a.prune(ctx, colRefreshTokens, ixTokenEnd, before); err != nil {
		return 0, tokens, err
	}
	sessions, err = a.prune(ctx, colSessions, ixSessionEnd, before)
	return sessions, tokens, err
}

func (a *Accounts) prune(ctx context.Context, coll, index string, before time.Time) (int64, error) {
	q := doc.Query{Index: index, Range: doc.Range{Lt: before.UTC()}, Limit: 200}
	var n int64
	for {
		p, err := a.s.engine.Scan(ctx, coll, q)
		if err != nil {
			return n, fmt.Errorf("prune %s: %w", coll, err)
		}
		for _, d := range p.Docs {
			if err := a.s.engine.Delete(ctx, coll, d.ID, 0); err != nil && !errors.Is(err, doc.ErrNotFound) {
				return n, fmt.Errorf("prune %s: %w", coll, err)
			}
			n++
		}
		if p.Next == "" {
			return n, nil
		}
		q.After = p.Next
	}
}
