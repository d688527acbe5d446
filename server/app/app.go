// Package app wires fieldsync together: configuration, the store, the
// services, the HTTP API and the background workers, started and stopped
// in order. The server command and the load generator both run it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/server/store"
	fsync "fieldsync/sync"
)

// NewLogger is the structured logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Server is a running fieldsync: the store, the HTTP API and its listener.
type Server struct {
	Store    *store.DB
	API      *api.API
	Auth     *auth.Service
	Office   *office.Service
	Sync     *fsync.Engine
	Outbox   *push.Outbox
	Push     *push.Dispatcher
	Relay    *push.Relay
	Reminder *push.Scheduler
	log      *slog.Logger
	ln       net.Listener
	serveErr chan error

	stopBackground context.CancelFunc
	background     sync.WaitGroup
}

// Start opens the store, migrates it, makes the first admin (and the demo
// data when asked) and starts serving. The store starts before HTTP and
// stops after it.
func Start(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	log.Info("starting", "config", cfg)
	startCtx, cancel := context.WithTimeout(ctx, cfg.StoreStartTimeout)
	defer cancel()
	db, err := store.Open(startCtx, store.Options{
		URI: cfg.MongoURI, DBName: cfg.MongoDB, DataDir: cfg.DataDir, Logger: log,
		Debug: cfg.LogLevel <= slog.LevelDebug, Slow: cfg.SlowCommand,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Store: db, log: log, serveErr: make(chan error, 1)}
	if err := s.prepare(startCtx, cfg, now); err != nil {
		_ = db.Close(context.Background())
		return nil, err
	}
	s.ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		_ = db.Close(context.Background())
		return nil, fmt.Errorf("listen: %w", err)
	}
	go func() { s.serveErr <- s.API.App().Listener(s.ln) }()
	bg, stop := context.WithCancel(context.Background())
	s.stopBackground = stop
	s.background.Go(func() { s.Office.RunGenerator(bg, cfg.GeneratorInterval) })
	s.background.Go(func() { s.Sync.Relay(bg, 5*time.Second, cfg.ChangeRetention) })
	s.background.Go(func() { s.Relay.Run(bg, cfg.PushInterval) })
	s.background.Go(func() { s.Push.Run(bg, cfg.PushInterval) })
	s.background.Go(func() { s.Reminder.Run(bg, time.Minute) })
	s.background.Go(func() { s.Office.RunSLA(bg, time.Minute) })
	return s, nil
}

func (s *Server) prepare(ctx context.Context, cfg Config, now func() time.Time) error {
	if _, err := s.Store.Migrate(ctx, now()); err != nil {
		return err
	}
	cipher, err := cfg.dataCipher()
	if err != nil {
		return err
	}
	s.Store.SetCipher(cipher)
	s.Office = office.New(s.Store, now, s.log, cfg.ScheduleHorizon)
	presence := fsync.NewPresence(cipher.Derived("presence"), cfg.PresenceStep)
	rules := fsync.DefaultRules
	rules.GeofenceM = float64(cfg.GeofenceMeters)
	limits := fsync.DefaultLimits
	limits.MaxOps = cfg.SyncMaxOps
	s.Sync = fsync.New(s.Store, now, s.log, rules, limits, presence)
	s.Outbox = push.NewOutbox(s.Store, now)
	targets := push.NewTargets(s.Store, now)
	s.Relay = push.NewRelay(s.Store, s.Outbox, now, s.log)
	s.Sync.SetNotifier(s.Relay)
	s.Office.SetAlerter(s.Relay)
	s.Office.SetCalendar(cfg.WorkCalendar)
	s.Sync.SetReworkHook(s.Office)
	s.Sync.SetVisitChecker(func(ctx context.Context, a *schemas.Actor, visitID string) (bool, error) {
		_, err := s.Office.Visit(ctx, a, visitID)
		if schemas.ErrorCode(err) == schemas.ENOTFOUND {
			return false, nil
		}
		return err == nil, err
	})
	att := fsync.DefaultAttachmentLimits
	att.MaxPending, att.MaxPendingBytes, att.UploadTTL = cfg.AttachmentPendingUploads, int64(cfg.AttachmentPendingBytes), cfg.AttachmentUploadTTL
	s.Sync.SetAttachmentLimits(att)
	s.Reminder = push.NewScheduler(s.Store, s.Outbox, s.Relay, now, s.log)
	var sender push.Sender = push.LogSender{Log: s.log}
	if cfg.FirebaseProject != "" {
		fcm, err := push.NewFCM(ctx, cfg.FirebaseProject, cfg.FirebaseCreds, cfg.FCMEndpoint)
		if err != nil {
			return fmt.Errorf("firebase: %w", err)
		}
		sender = fcm
		s.log.Info("push through Firebase Cloud Messaging", "project", cfg.FirebaseProject)
	} else {
		s.log.Warn("push: no Firebase project configured; notifications are logged, not sent (set FIREBASE_PROJECT_ID)")
	}
	instance := cfg.InstanceID
	if instance == "" {
		instance = schemas.NewID()
	}
	s.Push = push.NewDispatcher(s.Store, targets, sender, instance, now, s.log)
	current, previous, err := cfg.signingKeys()
	if err != nil {
		return err
	}
	tokens := auth.NewTokens(current, previous, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTTL, now)
	s.Auth = auth.NewService(s.Store, tokens, auth.Config{
		RefreshTTL: cfg.RefreshTTL, LoginPerAccount: cfg.LoginPerAccount, LoginPerIP: cfg.LoginPerIP,
	}, now, s.log)
	admin, generated, err := s.Auth.EnsureAdmin(ctx, cfg.AdminLogin, cfg.AdminPass)
	if err != nil {
		return err
	}
	if admin != nil {
		if generated != "" {
			// Printed once, on the start that created the account; it is
			// stored only as a hash.
			s.log.Warn("first admin created with a one-time password; sign in and change it",
				"login", admin.Login, "password", generated)
		} else {
			s.log.Info("first admin created", "login", admin.Login)
		}
	}
	if cfg.Demo {
		if err := seedDemo(ctx, s.Store, s.Auth, s.Office, now, s.log); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	s.API = api.New(api.Config{
		BodyLimit: cfg.BodyLimit, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: 2 * time.Minute, RequestTimeout: cfg.RequestTimeout, ProxyHeader: cfg.ProxyHeader,
	}, api.Deps{Auth: s.Auth, Office: s.Office, Sync: s.Sync, Presence: presence, Outbox: s.Outbox, Targets: targets, Metrics: &s.Push.Metrics,
		Store: s.Store, Log: s.log, Now: now})
	return nil
}

// Err reports the HTTP server stopping on its own.
func (s *Server) Err() <-chan error { return s.serveErr }

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting requests, lets in-flight ones finish (up to the
// timeout), stops the background workers, then closes the store.
func (s *Server) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	httpErr := s.API.App().ShutdownWithContext(ctx)
	s.stopBackground()
	s.background.Wait()
	storeErr := s.Store.Close(ctx)
	return errors.Join(httpErr, storeErr)
}
