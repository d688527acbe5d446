package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/store"
	"fieldsync/store/sqlite"
)

// Reset is who asks for a password reset from the command line, for the
// audit trail.
type Reset struct {
	Login    string // the account; "" for ADMIN_LOGIN, else admin
	Password string // the new password; "" generates one
	By       string // the operator, e.g. "root on host-1"
}

// ResetAdminPassword sets a new password on an admin account, straight on
// the store (the embedded one under DATA_DIR, or MongoDB), for when the
// first admin's generated password was lost: it enables the account, ends
// its sessions, and records the reset in the audit trail. It returns the
// login and the password set (generated when r.Password is empty). It
// needs no data key: it touches no personal data.
func ResetAdminPassword(ctx context.Context, cfg Config, r Reset, now func() time.Time) (login, password string, err error) {
	if cfg.MongoURI == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, sqlite.FileName)); err != nil {
			return "", "", fmt.Errorf("no store in %s (%sDATA_DIR): %w", cfg.DataDir, EnvPrefix, err)
		}
	}
	login = r.Login
	if login == "" {
		login = cmp.Or(cfg.AdminLogin, "admin")
	}
	password = r.Password
	if password == "" {
		password = auth.RandomSecret(15)
	}
	if err := schemas.ValidatePassword(password); err != nil {
		return "", "", err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", "", err
	}
	db, err := store.Open(ctx, store.Options{URI: cfg.MongoURI, DBName: cfg.MongoDB, DataDir: cfg.DataDir, Logger: slog.New(slog.DiscardHandler), Now: now})
	if err != nil {
		return "", "", err
	}
	defer db.Close(context.WithoutCancel(ctx))

	norm, err := schemas.NormalizeLogin(login)
	if err != nil {
		return "", "", err
	}
	u, err := db.Accounts.UserByLogin(ctx, norm)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Role != schemas.RoleAdmin {
		admins, lerr := db.Accounts.ListUsers(ctx, store.UserFilter{Role: schemas.RoleAdmin, Limit: 20})
		if lerr != nil {
			return "", "", lerr
		}
		var names []string
		for _, a := range admins {
			names = append(names, a.Login)
		}
		return "", "", fmt.Errorf("no admin account %q in the store (admins: %s); name one with -login", norm, cmp.Or(strings.Join(names, ", "), "none"))
	}
	if err != nil {
		return "", "", err
	}
	enabled := false
	after, err := db.Accounts.UpdateUser(ctx, u.ID, store.UserChanges{PasswordHash: &hash, Disabled: &enabled})
	if err != nil {
		return "", "", err
	}
	if err := db.Accounts.RevokeSessions(ctx, u.ID, "", schemas.RevokePassword); err != nil {
		return "", "", err
	}
	changes := []schemas.FieldChange{{Field: "password", From: schemas.Masked, To: schemas.Masked}}
	if u.Disabled {
		changes = append(changes, schemas.FieldChange{Field: "disabled", From: true, To: false})
	}
	at := after.UpdatedAt
	// A user record has no version of its own: the reset's time, in
	// milliseconds, orders it in the account's trail.
	v := at.UnixMilli()
	err = db.Audit.Insert(ctx, &schemas.AuditEntry{
		ID: schemas.AuditID(schemas.EntityUser, u.ID, v), Entity: schemas.EntityUser, EntityID: u.ID, Action: "reset_password",
		Version: v, ActorID: "cli", Role: schemas.RoleAdmin, At: at, Changes: changes,
		Note: "fieldsync reset-admin-password, by " + r.By,
	})
	if err != nil {
		return "", "", err
	}
	return u.Login, password, nil
}
