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
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/server/telemetry"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// NewLogger is the structured logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler(h)) // the trace id on lines of traced requests
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
	// Telemetry holds the metrics (served on METRICS_ADDR) and the tracer.
	Telemetry *telemetry.Telemetry
	metrics   *http.Server
	metricsLn net.Listener
	log       *slog.Logger
	ln        net.Listener
	serveErr  chan error
	drain     time.Duration

	stopBackground context.CancelFunc
	background     sync.WaitGroup
}

// Start opens the store, migrates it, starts listening, makes the first
// admin (and the demo data when asked) and starts serving. The store
// starts before HTTP and stops after it.
func Start(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	log.Info("starting", "config", cfg)
	for _, w := range cfg.Warnings {
		log.Warn("configuration: " + w)
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StoreStartTimeout)
	defer cancel()
	if cfg.usesDataDir() {
		if err := checkDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	cipher, generatedKey, err := cfg.dataCipher()
	if err != nil {
		return nil, err
	}
	tel, err := telemetry.New(startCtx, telemetry.Options{TraceEndpoint: cfg.TraceEndpoint, Instance: cfg.InstanceID})
	if err != nil {
		return nil, err
	}
	db, err := store.Open(startCtx, store.Options{
		URI: cfg.MongoURI, DBName: cfg.MongoDB, DataDir: cfg.DataDir, Logger: log,
		Slow: cfg.SlowCommand, Now: now, Cipher: cipher, KeyGenerated: generatedKey != "", Observer: tel,
	})
	if err != nil {
		_ = tel.Shutdown(context.Background())
		if generatedKey != "" {
			// Moved aside, not deleted, and not left to be taken for the
			// data's key by the next start.
			_ = os.Rename(generatedKey, generatedKey+".unused")
		}
		if errors.Is(err, store.ErrDataKey) {
			return nil, cfg.dataKeyError(err, generatedKey)
		}
		return nil, err
	}
	s := &Server{Store: db, Telemetry: tel, log: log, serveErr: make(chan error, 1), drain: cfg.DrainDelay}
	fail := func(err error) (*Server, error) {
		if s.ln != nil {
			_ = s.ln.Close()
		}
		_ = s.stopTelemetry(context.Background())
		_ = db.Close(context.Background())
		return nil, err
	}
	if err := s.prepare(startCtx, cfg, cipher, now); err != nil {
		return fail(err)
	}
	network := "tcp"
	if ip := net.ParseIP(cfg.BindAddr); ip != nil && ip.To4() != nil {
		network = "tcp4" // 0.0.0.0 means IPv4's interfaces, not IPv6's too
	}
	s.ln, err = net.Listen(network, net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Port)))
	if err == nil && cfg.MetricsAddr != "" {
		if err = s.serveMetrics(cfg.MetricsAddr); err != nil {
			_ = s.ln.Close()
		}
	}
	if err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	if err := db.Health(startCtx); err != nil {
		return fail(fmt.Errorf("store: %w", err))
	}
	// Ready: listening (connections wait in the backlog) on a healthy
	// store. Only now the first admin, so that a start failing before it
	// creates no account whose generated password nobody saw.
	admin, err := s.firstStart(startCtx, cfg, now)
	if err != nil {
		return fail(err)
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
	s.background.Go(func() { s.Auth.RunPrune(bg, time.Hour) })
	// The data key made for this store is announced once it serves (as the
	// password): at its generation, or at the first admin's creation when
	// the start that generated it failed after.
	if generatedKey != "" || admin.created && cfg.DataKey == "" && cfg.DataKeyFile == "" {
		log.Warn("NEW DATA KEY generated: back it up now, apart from the data",
			"file", cfg.DataKeyFileOrDefault(),
			"why", "it seals every customer's phone and address; without it a backup of the store cannot be read, and a start without it is refused",
			"keep", "a copy of the file (or set "+EnvPrefix+"DATA_KEY / "+EnvPrefix+"DATA_KEY_FILE from a secret store)")
	}
	if admin.password != "" {
		// Shown once, on the start that created the account; it is stored
		// only as a hash (fieldsync reset-admin-password sets another).
		log.Warn("first admin created with a one-time password; sign in and change it",
			"login", admin.login, "password", admin.password)
	}
	s.background.Go(func() { s.watchOutbox(bg, 15*time.Second, now) })
	return s, nil
}

// usesDataDir reports whether anything lives in DATA_DIR: the embedded
// store, or a generated key.
func (c Config) usesDataDir() bool {
	return c.MongoURI == "" || c.DataKey == "" && c.DataKeyFile == "" || c.JWTSecret == "" && c.JWTKeyFile == ""
}

type firstAdmin struct {
	created         bool
	login, password string
}

// firstStart creates the first admin when the store has none, and the
// demo data when asked.
func (s *Server) firstStart(ctx context.Context, cfg Config, now func() time.Time) (firstAdmin, error) {
	admin, generated, err := s.Auth.EnsureAdmin(ctx, cfg.AdminLogin, cfg.AdminPass)
	if err != nil {
		return firstAdmin{}, err
	}
	var out firstAdmin
	if admin != nil {
		out = firstAdmin{created: true, login: admin.Login, password: generated}
		if generated == "" {
			s.log.Info("first admin created", "login", admin.Login)
		}
	}
	if cfg.Demo {
		if err := seedDemo(ctx, s.Store, s.Auth, s.Office, now, s.log); err != nil {
			return firstAdmin{}, fmt.Errorf("demo data: %w", err)
		}
	}
	return out, nil
}

func (s *Server) prepare(ctx context.Context, cfg Config, cipher *store.Cipher, now func() time.Time) error {
	s.Office = office.New(s.Store, now, s.log, cfg.ScheduleHorizon)
	s.Office.SetObserver(s.Telemetry)
	presence := fsync.NewPresence(cipher.Derived("presence"), cfg.PresenceStep)
	rules := fsync.DefaultRules
	rules.GeofenceM = float64(cfg.GeofenceMeters)
	rules.MessagesOpenBefore, rules.MessagesCloseAfter = cfg.MessagesOpenBefore, cfg.MessagesCloseAfter
	limits := fsync.DefaultLimits
	limits.MaxOps = cfg.SyncMaxOps
	limits.AlertWindow = cfg.AlertWindow
	s.Sync = fsync.New(s.Store, now, s.log, rules, limits, presence)
	s.Outbox = push.NewOutbox(s.Store.Push)
	targets := push.NewTargets(s.Store.Push)
	s.Relay = push.NewRelay(s.Store, s.Outbox, now, s.log)
	s.Sync.SetNotifier(s.Relay)
	s.Sync.SetTeller(s.Relay)
	s.Sync.SetEscalationTimes(cfg.EscalationUrgent, cfg.EscalationNormal)
	s.Office.SetAlerter(s.Relay)
	s.Office.SetCalendar(cfg.WorkCalendar)
	s.Office.SetAlertWindow(cfg.AlertWindow)
	s.Office.SetTravelBuffer(cfg.TravelBuffer)
	s.Office.SetRatingConfig(cfg.Rating)
	s.Office.SetFiguresConfig(cfg.Figures)
	s.Office.SetCustomerTeller(s.Relay)
	s.Office.SetComplaintAnswerWait(cfg.ComplaintAnswerWait)
	s.Office.SetAnswerBy(cfg.AssignmentAnswerBy)
	s.Sync.SetReworkHook(s.Office)
	s.Sync.SetAcceptHook(s.Office)
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
		s.log.Warn("push: no Firebase project configured; notifications are logged, not sent (set FIELDSYNC_FIREBASE_PROJECT_ID)")
	}
	instance := cfg.InstanceID
	if instance == "" {
		instance = rand.Text() // a name, not a time
	}
	s.Push = push.NewDispatcher(s.Store, targets, sender, instance, now, s.log)
	s.Push.Observer = s.Telemetry
	if cfg.SMS.AppID != "" {
		sms, err := push.NewTencentSMS(push.TencentSMSConfig{SecretID: cfg.SMS.SecretID, SecretKey: cfg.SMS.SecretKey, Region: cfg.SMS.Region,
			AppID: cfg.SMS.AppID, Sign: cfg.SMS.Sign, Templates: cfg.SMS.Templates, Endpoint: cfg.SMS.Endpoint})
		if err != nil {
			return fmt.Errorf("sms: %w", err)
		}
		s.Push.SMS = &push.SMSChannel{Sender: sms, DailyCap: cfg.SMS.DailyCap, After: cfg.SMS.After}
		s.log.Info("SMS through Tencent Cloud SMS for what FCM cannot deliver", "templates", len(cfg.SMS.Templates), "dailyCap", cfg.SMS.DailyCap)
	}
	current, previous, err := cfg.signingKeys()
	if err != nil {
		return err
	}
	tokens := auth.NewTokens(current, previous, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTTL, now)
	s.Auth = auth.NewService(s.Store.Accounts, tokens, auth.Config{
		RefreshTTL: cfg.RefreshTTL, RefreshGrace: cfg.RefreshGrace, LoginPerAccount: cfg.LoginPerAccount, LoginPerIP: cfg.LoginPerIP,
	}, now, s.log)
	s.API = api.New(api.Config{
		BodyLimit: cfg.BodyLimit, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: 2 * time.Minute, RequestTimeout: cfg.RequestTimeout, ProxyHeader: cfg.ProxyHeader,
		Limits: cfg.Limits,
	}, api.Deps{Auth: s.Auth, Office: s.Office, Sync: s.Sync, Presence: presence, Outbox: s.Outbox, Targets: targets, Metrics: &s.Push.Metrics,
		Store: s.Store, Log: s.log, Now: now, Observer: s.Telemetry})
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
	telErr := s.stopTelemetry(ctx)
	storeErr := s.Store.Close(ctx)
	return errors.Join(httpErr, pushErr, telErr, storeErr)
}

// Backup writes a consistent copy of the embedded store under
// cfg.DataDir to path, while a server may be serving from it.
func Backup(ctx context.Context, cfg Config, path string) error {
	// No cipher: a copy opens nothing, and needs no data key here.
	db, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return db.Backup(ctx, path)
}
