// Package api is fieldsync's HTTP transport: the Fiber app, its middleware,
// thin handlers and the OpenAPI document, all built from one route table.
package api

import (
	"context"
	"log/slog"
	"math"
	"regexp"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// Config tunes the HTTP layer.
type Config struct {
	BodyLimit      int           // bytes
	ReadTimeout    time.Duration // to read a whole request
	WriteTimeout   time.Duration // to write a whole response
	IdleTimeout    time.Duration
	RequestTimeout time.Duration // deadline of the store calls one request makes
	ProxyHeader    string        // header with the client address behind a proxy; empty trusts none
	Limits         Limits        // request budgets per user and device; zero budgets are off
}

// Budget is a token bucket: Burst requests at once, then PerMinute.
// PerMinute 0 is no limit.
type Budget struct {
	PerMinute int
	Burst     int
}

// Limits are the request budgets of signed-in callers, per instance.
// Sync pushes are counted per device (a phone's backlog is its own), other
// writes and reads per user (all of a user's devices together).
type Limits struct {
	Push  Budget // POST /v1/sync/push, per device
	Write Budget // every other POST, PUT, PATCH, DELETE, per user
	Read  Budget // GET and HEAD, per user
}

// DefaultLimits are generous for people and phones, tight for scripts: a
// phone's backlog of 2,000 operations is 4 pushes of 500, well inside the
// push burst; 100 complaints in a second are not.
var DefaultLimits = Limits{
	Push:  Budget{PerMinute: 30, Burst: 10},
	Write: Budget{PerMinute: 60, Burst: 30},
	Read:  Budget{PerMinute: 300, Burst: 100},
}

// Deps are the services the handlers call.
type Deps struct {
	Auth     *auth.Service
	Office   *office.Service
	Sync     *fsync.Engine
	Presence *fsync.Presence
	Outbox   *push.Outbox
	Targets  *push.Targets
	Metrics  *push.Metrics
	Store    *store.Store
	Log      *slog.Logger
	Now      func() time.Time
	Observer Observer // nil: none
}

// Observer watches requests and syncs for the program's metrics and traces
// (server/telemetry).
type Observer interface {
	// Request is called as a request starts, with its headers and request
	// id; the context it returns is the request's. The function it
	// returns is called as the request ends, with the route pattern it
	// matched, the status and the error code ("" for none).
	Request(ctx context.Context, header func(string) string, method, requestID string) (context.Context, func(route string, status int, code string))
	// SyncPushed is called for each push applied (its envelope accepted),
	// with the number of operations it carried.
	SyncPushed(ops int, resp *fsync.PushResponse, d time.Duration)
	// SyncPulled is called for each pull answered.
	SyncPulled(resp *fsync.PullResponse, d time.Duration)
}

// API holds what the handlers need.
type API struct {
	cfg      Config
	auth     *auth.Service
	office   *office.Service
	sync     *fsync.Engine
	presence *fsync.Presence
	outbox   *push.Outbox
	targets  *push.Targets
	metrics  *push.Metrics
	store    *store.Store
	log      *slog.Logger
	now      func() time.Time
	obs      Observer
	routeSet map[string]bool // method+" "+path of every route, for metric labels
	app      *fiber.App
	limiters map[string]*auth.Limiter // by budget: push, write, read
	draining atomic.Bool              // shutting down: readyz says 503
}

// New builds the Fiber app with every route registered.
func New(cfg Config, d Deps) *API {
	a := &API{cfg: cfg, auth: d.Auth, office: d.Office, sync: d.Sync, presence: d.Presence, outbox: d.Outbox, targets: d.Targets, metrics: d.Metrics, store: d.Store, log: d.Log, now: d.Now, obs: d.Observer}
	a.app = fiber.New(fiber.Config{
		AppName:               "fieldsync",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ProxyHeader:           cfg.ProxyHeader,
		ErrorHandler:          a.errorHandler,
		DisableStartupMessage: true,
		ReadBufferSize:        16 << 10, // room for a bearer token and proxy headers
		// Values read from the request outlive the handler in errors, logs
		// and background work; copy them rather than alias fasthttp buffers.
		Immutable: true,
	})
	a.limiters = map[string]*auth.Limiter{}
	for name, b := range map[string]Budget{budgetPush: cfg.Limits.Push, budgetWrite: cfg.Limits.Write, budgetRead: cfg.Limits.Read} {
		a.limiters[name] = auth.NewLimiter(b.PerMinute, b.Burst, time.Minute, d.Now)
	}
	a.app.Use(a.headers, a.requestID, a.observe, a.accessLog, a.recover, a.deadline)
	a.routeSet = map[string]bool{}
	for _, r := range a.routes() {
		a.routeSet[r.method+" "+r.path] = true
		handlers := []fiber.Handler{}
		if !r.public {
			handlers = append(handlers, a.authenticate, a.limit(r.budget()), requireRole(r.roles...))
		}
		a.app.Add(r.method, r.path, append(handlers, r.handler)...)
	}
	return a
}

// App is the Fiber app, for listening and for tests.
func (a *API) App() *fiber.App { return a.app }

// Drain marks the instance as shutting down: /readyz answers 503 so a
// balancer stops sending, while requests that still come are served (with
// Connection: close, so clients reconnect elsewhere).
func (a *API) Drain() { a.draining.Store(true) }

// headers sets what every response carries: no MIME sniffing anywhere, and
// no caching of the API's answers, which hold personal data and tokens.
// (A handler may set its own Cache-Control, as content-addressed
// attachments do.)
func (a *API) headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if strings.HasPrefix(c.Path(), "/v1/") {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	if a.draining.Load() {
		c.Context().SetConnectionClose()
	}
	return c.Next()
}

// The request budgets.
const (
	budgetPush  = "push"
	budgetWrite = "write"
	budgetRead  = "read"
)

// budget is the request budget a route spends.
func (r route) budget() string {
	switch {
	case r.method == fiber.MethodPost && r.path == "/v1/sync/push":
		return budgetPush
	case r.method == fiber.MethodGet || r.method == fiber.MethodHead:
		return budgetRead
	}
	return budgetWrite
}

// limit spends one token of the caller's budget: per device for pushes,
// per user otherwise. Over budget is 429 rate_limited with Retry-After.
func (a *API) limit(budget string) fiber.Handler {
	l := a.limiters[budget]
	return func(c *fiber.Ctx) error {
		p := principal(c)
		key := p.User.ID
		if budget == budgetPush {
			key += "/" + p.DeviceID
		}
		if ok, wait := l.Allow(key); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			return schemas.Errorf(schemas.ERATELIMIT, "too many requests (%s budget); try again in %d seconds", budget, secs).
				With("retryAfter", secs).With("budget", budget)
		}
		return c.Next()
	}
}

const (
	localRequestID = "requestId"
	localPrincipal = "principal"
	localErrorCode = "errorCode" // set by errorHandler
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a sane X-Request-ID from the client or makes one, and
// echoes it, so a phone's report and the server log can be matched.
func (a *API) requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID.MatchString(id) {
		id = schemas.NewID()
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// observe reports each request to the observer (metrics, a span) once its
// final status is known: accessLog inside it renders errors.
func (a *API) observe(c *fiber.Ctx) error {
	if a.obs == nil {
		return c.Next()
	}
	ctx, done := a.obs.Request(c.UserContext(), func(k string) string { return c.Get(k) }, c.Method(), requestID(c))
	c.SetUserContext(ctx)
	err := c.Next()
	code, _ := c.Locals(localErrorCode).(string)
	done(a.routeLabel(c), c.Response().StatusCode(), code)
	return err
}

// routeLabel is the route pattern the request matched, or "unmatched":
// raw paths would make a series per id.
func (a *API) routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || !a.routeSet[r.Method+" "+r.Path] {
		return "unmatched"
	}
	return r.Path
}

// accessLog writes one structured line per request: no bodies, no query
// strings, no tokens, no personal data. Errors are rendered here so the
// line carries the final status.
func (a *API) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := a.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	attrs := []any{
		"requestId", requestID(c), "method", c.Method(), "route", c.Route().Path,
		"status", c.Response().StatusCode(), "ms", time.Since(start).Milliseconds(),
		"bytes", len(c.Response().Body()),
	}
	if code, ok := c.Locals(localErrorCode).(string); ok {
		attrs = append(attrs, "code", code)
	}
	if p := principal(c); p != nil {
		attrs = append(attrs, "user", p.User.ID, "role", p.User.Role)
		if p.DeviceID != "" && strings.HasPrefix(c.Path(), "/v1/sync/") {
			attrs = append(attrs, "device", p.DeviceID)
		}
	}
	a.log.InfoContext(c.UserContext(), "http", attrs...)
	return nil
}

// recover turns a panic into an internal error with the stack logged.
func (a *API) recover(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("panic", "requestId", requestID(c), "panic", r, "stack", string(debug.Stack()))
			err = schemas.Errorf(schemas.EINTERNAL, "internal error")
		}
	}()
	return c.Next()
}

// deadline gives every request's store calls a bounded context.
func (a *API) deadline(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), a.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// authenticate requires a valid bearer access token with a live session.
func (a *API) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return schemas.Errorf(schemas.EUNAUTHORIZED, "missing bearer token")
	}
	if len(h) > 4096 {
		return schemas.Errorf(schemas.EUNAUTHORIZED, "invalid access token")
	}
	p, err := a.auth.Authenticate(c.UserContext(), h[len(prefix):])
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// requireRole lets through callers with one of the roles; none means any
// signed-in user.
func requireRole(roles ...schemas.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(roles) == 0 {
			return c.Next()
		}
		p := principal(c)
		for _, r := range roles {
			if p != nil && p.User.Role == r {
				return c.Next()
			}
		}
		return schemas.Errorf(schemas.EFORBIDDEN, "your role may not do this")
	}
}

func principal(c *fiber.Ctx) *auth.Principal {
	p, _ := c.Locals(localPrincipal).(*auth.Principal)
	return p
}
