// Package app wires fieldsync together: configuration, the store, the
// services, the HTTP API and the background workers, started and stopped
// in order. The server command and the load generator both run it.
package app

import (
	"context"
	"crypto/rand"
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
	"fieldsync/store"
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
	Store    *store.Store
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
	drain    time.Duration

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
	cipher, err := cfg.dataCipher()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(startCtx, store.Options{
		URI: cfg.MongoURI, DBName: cfg.MongoDB, DataDir: cfg.DataDir, Logger: log,
		Slow: cfg.SlowCommand, Now: now, Cipher: cipher,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Store: db, log: log, serveErr: make(chan error, 1), drain: cfg.DrainDelay}
	if err := s.prepare(startCtx, cfg, cipher, now); err != nil {
		_ = db.Close(context.Background())
		return nil, err
	}
	network := "tcp"
	if ip := net.ParseIP(cfg.BindAddr); ip != nil && ip.To4() != nil {
		network = "tcp4" // 0.0.0.0 means IPv4's interfaces, not IPv6's too
	}
	s.ln, err = net.Listen(network, net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Port)))
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

func (s *Server) prepare(ctx context.Context, cfg Config, cipher *store.Cipher, now func() time.Time) error {
	s.Office = office.New(s.Store, now, s.log, cfg.ScheduleHorizon)
	presence := fsync.NewPresence(cipher.Derived("presence"), cfg.PresenceStep)
	rules := fsync.DefaultRules
	rules.GeofenceM = float64(cfg.GeofenceMeters)
	limits := fsync.DefaultLimits
	limits.MaxOps = cfg.SyncMaxOps
	limits.AlertWindow = cfg.AlertWindow
	s.Sync = fsync.New(s.Store, now, s.log, rules, limits, presence)
	s.Outbox = push.NewOutbox(s.Store.Push)
	targets := push.NewTargets(s.Store.Push)
	s.Relay = push.NewRelay(s.Store, s.Outbox, now, s.log)
	s.Sync.SetNotifier(s.Relay)
	s.Office.SetAlerter(s.Relay)
	s.Office.SetCalendar(cfg.WorkCalendar)
	s.Office.SetAlertWindow(cfg.AlertWindow)
	s.Office.SetCustomerTeller(s.Relay)
	s.Office.SetComplaintAnswerWait(cfg.ComplaintAnswerWait)
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
		fcm, err := push.NewFCM(ctx, cfg.FirebaseProject, cfg.FirebaseCreds, cfg.FCMEndpoint, now)
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
		instance = rand.Text() // a name, not a time
	}
	s.Push = push.NewDispatcher(s.Store, targets, sender, instance, now, s.log)
	current, previous, err := cfg.signingKeys()
	if err != nil {
		return err
	}
	tokens := auth.NewTokens(current, previous, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTTL, now)
	s.Auth = auth.NewService(s.Store.Accounts, tokens, auth.Config{
		RefreshTTL: cfg.RefreshTTL, RefreshGrace: cfg.RefreshGrace, LoginPerAccount: cfg.LoginPerAccount, LoginPerIP: cfg.LoginPerIP,
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
		Limits: cfg.Limits,
	}, api.Deps{Auth: s.Auth, Office: s.Office, Sync: s.Sync, Presence: presence, Outbox: s.Outbox, Targets: targets, Metrics: &s.Push.Metrics,
		Store: s.Store, Log: s.log, Now: now})
	return nil
}

// Err reports the HTTP server stopping on its own.
func (s *Server) Err() <-chan error { return s.serveErr }

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown first drains: /readyz answers 503 for the drain delay while
// requests are still served, so a balancer stops sending before the
// listener closes. Then it stops accepting requests and lets in-flight ones
// finish, then stops the background workers and waits for them: the push
// dispatcher finishes the sends it has under way and records what FCM
// accepted, so a restart sends nothing twice. Then it closes the store. All
// within timeout: past it, the dispatcher's sends are cut short (another
// instance sends them again once their lease runs out) and Shutdown says so.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.API.Drain()
	if s.drain > 0 {
		s.log.Info("draining: readyz answers 503", "delay", s.drain)
		time.Sleep(s.drain)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	httpErr := s.API.App().ShutdownWithContext(ctx)
	s.stopBackground()
	done := make(chan struct{})
	go func() { s.background.Wait(); close(done) }()
	var pushErr error
	select {
	case <-done:
	case <-ctx.Done():
		s.Push.Abandon()
		<-done
		pushErr = fmt.Errorf("shutdown: push sends under way cut short after %s; they are sent again once their lease runs out", timeout)
	}
	storeErr := s.Store.Close(ctx)
	return errors.Join(httpErr, pushErr, storeErr)
}

// Backup writes a consistent copy of the embedded store under
// cfg.DataDir to path, while a server may be serving from it.
func Backup(ctx context.Context, cfg Config, path string) error {
	cipher, err := cfg.dataCipher()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir, Logger: slog.New(slog.DiscardHandler), Cipher: cipher})
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return db.Backup(ctx, path)
}
