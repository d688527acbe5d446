package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// Config is everything the server reads from the environment. The table in
// README.md lists the same variables with the same defaults.
type Config struct {
	Port        int
	BindAddr    string
	DataDir     string
	MongoURI    string
	MongoDB     string
	LogLevel    slog.Level
	LogFormat   string
	Demo        bool
	AdminLogin  string
	AdminPass   string
	ProxyHeader string

	JWTSecret         string
	JWTKeyFile        string
	JWTPrevious       []string
	JWTIssuer         string
	JWTAudience       string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	RefreshGrace      time.Duration
	LoginPerAccount   int
	LoginPerIP        int
	BodyLimit         int
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	RequestTimeout    time.Duration
	ShutdownTimeout   time.Duration
	DrainDelay        time.Duration
	StoreStartTimeout time.Duration
	Limits            api.Limits
	AlertWindow       time.Duration

	DataKey           string
	DataKeyFile       string
	DataPreviousKeys  []string
	ScheduleHorizon   time.Duration
	GeneratorInterval time.Duration
	TravelBuffer      time.Duration
	Rating            office.RatingConfig
	Figures           office.FiguresConfig
	// ComplaintAnswerWait is how long a proposed remedy waits for the
	// customer's answer before a supervisor may close the complaint.
	ComplaintAnswerWait time.Duration
	// AssignmentAnswerBy is how long before a visit's start an unanswered
	// assignment alerts the supervisor.
	AssignmentAnswerBy time.Duration
	// EscalationUrgent and EscalationNormal are how long after its receipt
	// an urgent and a normal escalation are promised to be handled.
	EscalationUrgent, EscalationNormal time.Duration
	// A visit's message thread opens MessagesOpenBefore before its start
	// and closes MessagesCloseAfter after its end or check-out.
	MessagesOpenBefore, MessagesCloseAfter time.Duration

	MetricsAddr   string // host:port of the /metrics listener; empty: off
	TraceEndpoint string // OTLP/HTTP traces URL, from the standard OTEL_ variables; empty: off

	SlowCommand     time.Duration
	FirebaseProject string
	FirebaseCreds   string
	FCMEndpoint     string
	PushInterval    time.Duration
	SMS             SMSConfig
	InstanceID      string
	WorkCalendar    schemas.WorkCalendar
	GeofenceMeters  int
	SyncMaxOps      int
	ChangeRetention time.Duration
	PresenceStep    time.Duration

	AttachmentPendingUploads int // unfinished attachment uploads per user
	AttachmentPendingBytes   int
	AttachmentUploadTTL      time.Duration

	// Warnings are what LoadConfig read but would rather not have: a
	// setting under its old name. The program logs them at start.
	Warnings []string
	values   []settingValue
}

// SMSConfig is the SMS channel's (Tencent Cloud SMS): off without an app id.
type SMSConfig struct {
	SecretID, SecretKey, Region, AppID, Sign, Endpoint string
	Templates                                          map[string]string // notification kind -> template id
	DailyCap                                           int
	After                                              time.Duration // FCM retrying this long: SMS too
}

// EnvPrefix starts the name of every setting's environment variable.
const EnvPrefix = "FIELDSYNC_"

// Setting is one configuration variable, as -h lists it.
type Setting struct {
	Name    string // with EnvPrefix
	Default string // as it is written in the environment; "" for unset
	Usage   string
	Secret  bool // masked in the configuration dump
}

// settingValue is a setting's value as the configuration dump shows it.
type settingValue struct{ name, value string }

// legacyNames are the settings' names before they took EnvPrefix; they
// are read for one more release, with a warning.
var legacyNames = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`PORT BIND_ADDR DATA_DIR MONGODB_URI MONGODB_DB LOG_FORMAT LOG_LEVEL DEMO
		ADMIN_LOGIN ADMIN_PASSWORD PROXY_HEADER JWT_SECRET JWT_KEY_FILE JWT_PREVIOUS_SECRETS JWT_ISSUER JWT_AUDIENCE
		ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL REFRESH_GRACE LOGIN_RATE_PER_ACCOUNT LOGIN_RATE_PER_IP BODY_LIMIT_BYTES
		READ_TIMEOUT WRITE_TIMEOUT REQUEST_TIMEOUT SHUTDOWN_TIMEOUT DRAIN_DELAY ALERT_COALESCE_WINDOW STORE_START_TIMEOUT
		DATA_KEY DATA_KEY_FILE DATA_PREVIOUS_KEYS SCHEDULE_HORIZON GENERATOR_INTERVAL GEOFENCE_METERS SLOW_COMMAND
		FIREBASE_PROJECT_ID FIREBASE_CREDENTIALS FCM_ENDPOINT PUSH_INTERVAL INSTANCE_ID SYNC_MAX_OPS CHANGE_RETENTION
		PRESENCE_STEP ATTACHMENT_PENDING_UPLOADS ATTACHMENT_PENDING_BYTES ATTACHMENT_UPLOAD_TTL
		RATE_PUSH_PER_MINUTE RATE_PUSH_BURST RATE_WRITE_PER_MINUTE RATE_WRITE_BURST RATE_READ_PER_MINUTE RATE_READ_BURST
		WORK_DAYS WORK_HOURS`) {
		legacyNames[n] = true
	}
}

// LoadConfig reads the configuration; getenv is os.Getenv outside tests.
// Every invalid value is reported, not only the first. A setting still
// set under its old name is read, with a warning in cfg.Warnings.
func LoadConfig(getenv func(string) string) (Config, error) {
	c, _, err := load(getenv)
	return c, err
}

// Settings lists every setting, from the table LoadConfig reads.
func Settings() []Setting {
	_, s, _ := load(func(string) string { return "" })
	return s
}

// load reads the one table of settings: each line names a setting (without
// EnvPrefix), its default, its bounds and what it is for.
func load(getenv func(string) string) (Config, []Setting, error) {
	var (
		c        Config
		errs     []error
		settings []Setting
	)
	// lookup reads FIELDSYNC_name, else, for one release, the old name.
	lookup := func(name string) string {
		v := getenv(EnvPrefix + name)
		if !legacyNames[name] {
			return v
		}
		old := getenv(name)
		switch {
		case old == "":
		case v == "":
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is read for this release only: rename it %s%s", name, EnvPrefix, name))
			return old
		case v != old:
			errs = append(errs, fmt.Errorf("%s%s and %s are both set, to different values: remove %s", EnvPrefix, name, name, name))
		}
		return v
	}
	// define records a setting for -h and the configuration dump.
	define := func(name, def, usage string, secret bool, value string) {
		settings = append(settings, Setting{Name: EnvPrefix + name, Default: def, Usage: usage, Secret: secret})
		if secret && value != "" {
			value = "***"
		}
		c.values = append(c.values, settingValue{name, value})
	}
	invalid := func(name, v, want string) {
		errs = append(errs, fmt.Errorf("%s%s=%q: %s", EnvPrefix, name, v, want))
	}
	str := func(name, def, usage string) string {
		v := strings.TrimSpace(lookup(name))
		if v == "" {
			v = def
		}
		define(name, def, usage, false, v)
		return v
	}
	// secret is read as given, untrimmed, and masked in the dump.
	secret := func(name, usage string) string {
		v := lookup(name)
		define(name, "", usage, true, v)
		return v
	}
	integer := func(name string, def, min, max int, usage string) int {
		n := def
		if v := lookup(name); v != "" {
			var err error
			if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || n < min || n > max {
				invalid(name, v, fmt.Sprintf("want an integer from %d to %d", min, max))
				n = def
			}
		}
		define(name, strconv.Itoa(def), usage, false, strconv.Itoa(n))
		return n
	}
	duration := func(name string, def, min, max time.Duration, usage string) time.Duration {
		d := def
		if v := lookup(name); v != "" {
			var err error
			if d, err = time.ParseDuration(strings.TrimSpace(v)); err != nil || d < min || d > max {
				invalid(name, v, fmt.Sprintf("want a duration (like 30s, 15m) from %s to %s", FormatDuration(min), FormatDuration(max)))
				d = def
			}
		}
		define(name, FormatDuration(def), usage, false, FormatDuration(d))
		return d
	}
	decimal := func(name string, def, min, max float64, usage string) float64 {
		x := def
		if v := lookup(name); v != "" {
			var err error
			if x, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || x < min || x > max {
				invalid(name, v, fmt.Sprintf("want a number from %g to %g", min, max))
				x = def
			}
		}
		define(name, strconv.FormatFloat(def, 'g', -1, 64), usage, false, strconv.FormatFloat(x, 'g', -1, 64))
		return x
	}
	boolean := func(name, usage string) bool {
		b := false
		switch v := lookup(name); strings.ToLower(strings.TrimSpace(v)) {
		case "", "0", "false", "no", "off":
		case "1", "true", "yes", "on":
			b = true
		default:
			invalid(name, v, "want true or false")
		}
		define(name, "false", usage, false, strconv.FormatBool(b))
		return b
	}
	budget := func(name, what string, def api.Budget) api.Budget {
		return api.Budget{
			PerMinute: integer(name+"_PER_MINUTE", def.PerMinute, 0, 1_000_000, what+" per minute (0: no limit)"),
			Burst:     integer(name+"_BURST", def.Burst, 1, 1_000_000, what+" at once, above the rate"),
		}
	}
	list := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}

	c.BindAddr = str("BIND_ADDR", "127.0.0.1", "address to listen on: loopback unless told; 0.0.0.0 (IPv4) or :: for every interface")
	c.Port = integer("PORT", 8080, 0, 65535, "HTTP port (0 picks a free one)")
	c.DataDir = str("DATA_DIR", "./data", "the embedded store's file and the generated keys (data.key, jwt.key)")
	c.MongoURI = str("MONGODB_URI", "", "a mongodb:// or mongodb+srv:// URI; unset keeps the store in SQLite under DATA_DIR")
	c.MongoDB = str("MONGODB_DB", "fieldsync", "MongoDB database name")
	logLevel := str("LOG_LEVEL", "info", "debug, info, warn or error")
	c.LogFormat = str("LOG_FORMAT", "text", "text or json")
	c.Demo = boolean("DEMO", "seed the demo company once (same as -demo)")
	c.AdminLogin = str("ADMIN_LOGIN", "", "the first admin's login (admin when unset), created only when the store has none")
	c.AdminPass = secret("ADMIN_PASSWORD", "the first admin's password; unset: generated and logged once the server is ready")
	c.JWTSecret = secret("JWT_SECRET", "HMAC key for access tokens, at least 32 characters")
	c.JWTKeyFile = str("JWT_KEY_FILE", "", "file with the token key when JWT_SECRET is unset (default DATA_DIR/jwt.key, generated once)")
	c.JWTPrevious = list(secret("JWT_PREVIOUS_SECRETS", "comma-separated retired token keys still accepted"))
	c.JWTIssuer = str("JWT_ISSUER", "fieldsync", "iss of access tokens")
	c.JWTAudience = str("JWT_AUDIENCE", "fieldsync-api", "aud of access tokens")
	c.AccessTTL = duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour, "access token lifetime")
	c.RefreshTTL = duration("REFRESH_TOKEN_TTL", 60*24*time.Hour, time.Hour, 365*24*time.Hour, "session lifetime")
	c.RefreshGrace = duration("REFRESH_GRACE", 30*time.Second, 0, 5*time.Minute, "a rotated refresh token presented again within this gets the same pair")
	c.LoginPerAccount = integer("LOGIN_RATE_PER_ACCOUNT", 10, 1, 10000, "login attempts per login per minute (per instance)")
	c.LoginPerIP = integer("LOGIN_RATE_PER_IP", 60, 1, 100000, "login attempts per client address per minute (per instance)")
	c.Limits = api.Limits{
		Push:  budget("RATE_PUSH", "sync pushes per device", api.DefaultLimits.Push),
		Write: budget("RATE_WRITE", "other writes per user", api.DefaultLimits.Write),
		Read:  budget("RATE_READ", "reads per user", api.DefaultLimits.Read),
	}
	c.AlertWindow = duration("ALERT_COALESCE_WINDOW", 10*time.Minute, 0, 24*time.Hour, "alerts of one kind about one customer or visit within this are one alert (0: never)")
	c.ProxyHeader = str("PROXY_HEADER", "", "header with the client address behind a trusted proxy, e.g. X-Forwarded-For")
	c.BodyLimit = integer("BODY_LIMIT_BYTES", 4<<20, 1<<10, 256<<20, "largest request body")
	c.ReadTimeout = duration("READ_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute, "to read a whole request")
	c.WriteTimeout = duration("WRITE_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute, "to write a whole response")
	c.RequestTimeout = duration("REQUEST_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute, "deadline for the store calls of one request")
	c.DrainDelay = duration("DRAIN_DELAY", 5*time.Second, 0, 5*time.Minute, "after SIGTERM, how long /readyz answers 503 before the listener closes")
	c.ShutdownTimeout = duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute, "how long in-flight requests, then push sends, may finish after the drain")
	c.StoreStartTimeout = duration("STORE_START_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute, "how long to wait for the store at start")
	c.DataKey = secret("DATA_KEY", "32-byte key, base64, that seals customers' phones and addresses at rest")
	c.DataKeyFile = str("DATA_KEY_FILE", "", "file with the data key when DATA_KEY is unset (default DATA_DIR/data.key, generated at the first start: back it up)")
	c.DataPreviousKeys = list(secret("DATA_PREVIOUS_KEYS", "comma-separated retired data keys, to read values sealed before a rotation"))
	c.GeofenceMeters = integer("GEOFENCE_METERS", 300, 20, 100000, "a check-in farther from the address is an exception")
	c.SyncMaxOps = integer("SYNC_MAX_OPS", 500, 1, 10000, "operations per push")
	c.ChangeRetention = duration("CHANGE_RETENTION", 30*24*time.Hour, 30*24*time.Hour, 3650*24*time.Hour, "how long the change log keeps entries")
	c.PresenceStep = duration("PRESENCE_STEP", 5*time.Minute, 30*time.Second, time.Hour, "how often a customer's presence code changes")
	c.SlowCommand = duration("SLOW_COMMAND", 0, 0, time.Minute, "log store commands slower than this (0: off)")
	c.FirebaseProject = str("FIREBASE_PROJECT_ID", "", "with it, pushes go through FCM; without, they are logged")
	c.FirebaseCreds = str("FIREBASE_CREDENTIALS", "", "service-account JSON file; unset uses Application Default Credentials")
	c.FCMEndpoint = str("FCM_ENDPOINT", "", "FCM base URL override, for an emulator or tests")
	c.SMS.AppID = str("SMS_APP_ID", "", "Tencent Cloud SMS SdkAppId; with it, what FCM cannot deliver goes by SMS")
	c.SMS.SecretID = secret("SMS_SECRET_ID", "Tencent Cloud API SecretId for SMS")
	c.SMS.SecretKey = secret("SMS_SECRET_KEY", "Tencent Cloud API SecretKey for SMS")
	c.SMS.Region = str("SMS_REGION", "ap-guangzhou", "Tencent Cloud region of the SMS API")
	c.SMS.Sign = str("SMS_SIGN", "", "the approved SMS signature")
	smsTemplates := str("SMS_TEMPLATES", "", "approved templates, kind=templateId comma-separated (kinds: "+strings.Join(slices.Sorted(maps.Keys(push.SMSKinds)), ", ")+")")
	c.SMS.Endpoint = str("SMS_ENDPOINT", "", "SMS API host override (http://host:port for a local endpoint)")
	c.SMS.DailyCap = integer("SMS_DAILY_CAP", 3, 1, 100, "SMS per recipient and day")
	c.SMS.After = duration("SMS_FALLBACK_AFTER", 10*time.Minute, 0, 24*time.Hour, "a notification FCM is still retrying after this long goes by SMS too (0: only when FCM gives up)")
	c.SMS.Templates = map[string]string{}
	for _, kv := range list(smsTemplates) {
		kind, id, ok := strings.Cut(kv, "=")
		if _, known := push.SMSKinds[strings.TrimSpace(kind)]; !ok || !known || strings.TrimSpace(id) == "" {
			invalid("SMS_TEMPLATES", smsTemplates, "want kind=templateId pairs of the kinds that go by SMS")
			break
		}
		c.SMS.Templates[strings.TrimSpace(kind)] = strings.TrimSpace(id)
	}
	c.PushInterval = duration("PUSH_INTERVAL", time.Second, 100*time.Millisecond, time.Minute, "how often the dispatcher and relay look for work when idle")
	c.InstanceID = str("INSTANCE_ID", "", "this instance's name on the leases it takes (random when unset)")
	days := str("WORK_DAYS", "1,2,3,4,5,6", "the office's working days (0 = Sunday)")
	hours := str("WORK_HOURS", "09:00-18:00", "the office's working hours, company zone")
	c.ScheduleHorizon = duration("SCHEDULE_HORIZON", 28*24*time.Hour, 24*time.Hour, 366*24*time.Hour, "how far ahead recurring schedules generate visits")
	c.GeneratorInterval = duration("GENERATOR_INTERVAL", time.Hour, time.Minute, 24*time.Hour, "how often the schedule generator runs")
	c.AssignmentAnswerBy = duration("ASSIGNMENT_ANSWER_BY", office.DefaultAnswerBy, 0, 14*24*time.Hour, "an assignment its worker has not accepted or declined this long after it was made (at the latest half way from then to the visit's start) alerts the supervisor (0: off)")
	c.EscalationUrgent = duration("ESCALATION_URGENT", fsync.DefaultEscalationUrgent, time.Minute, 7*24*time.Hour, "an urgent escalation from the door is promised to the household this long after the server receives it")
	c.EscalationNormal = duration("ESCALATION_NORMAL", fsync.DefaultEscalationNormal, time.Minute, 30*24*time.Hour, "a normal escalation from the door is promised to the household this long after the server receives it")
	c.MessagesOpenBefore = duration("MESSAGES_OPEN_BEFORE", fsync.DefaultRules.MessagesOpenBefore, 0, 14*24*time.Hour, "a visit's message thread between the household and the worker opens this long before the scheduled start")
	c.MessagesCloseAfter = duration("MESSAGES_CLOSE_AFTER", fsync.DefaultRules.MessagesCloseAfter, 0, 14*24*time.Hour, "and closes this long after the later of the scheduled end and the check-out")
	c.TravelBuffer = duration("TRAVEL_BUFFER", office.DefaultTravelBuffer, 0, 4*time.Hour, "time kept free before and after each visit of a worker")
	c.Rating = office.RatingConfig{
		HalfLife:    duration("RATING_HALF_LIFE", office.DefaultRatingConfig.HalfLife, 24*time.Hour, 3650*24*time.Hour, "a sign-off's rating weighs half as much this long before the worker's newest one"),
		PriorMean:   decimal("RATING_PRIOR_MEAN", office.DefaultRatingConfig.PriorMean, 1, 5, "the score a worker's rating is pulled toward while it has few ratings"),
		PriorWeight: decimal("RATING_PRIOR_WEIGHT", office.DefaultRatingConfig.PriorWeight, 0, 100, "how many ratings the prior counts as"),
	}
	c.MetricsAddr = str("METRICS_ADDR", "", "host:port of the Prometheus /metrics listener, apart from the API (empty: off)")
	errs = append(errs, c.loadTelemetry(getenv)...)
	c.ComplaintAnswerWait = duration("COMPLAINT_ANSWER_WAIT", office.DefaultComplaintAnswerWait, time.Hour, 90*24*time.Hour, "how long a proposed remedy waits for the customer's answer before a supervisor may close the complaint without it")
	rv := office.DefaultReviewThresholds
	c.Figures = office.FiguresConfig{
		EarlyLeaveSlack: duration("EARLY_LEAVE_SLACK", office.DefaultFiguresConfig.EarlyLeaveSlack, 0, 8*time.Hour, "worked time this much short of the booked time is an early leave"),
		Review: office.ReviewThresholds{
			MinQuality:    decimal("REVIEW_MIN_QUALITY", rv.MinQuality, 0, 1, "quarterly review: lowest share of visits without dispute or complaint that passes"),
			MinOnTime:     decimal("REVIEW_MIN_ON_TIME", rv.MinOnTime, 0, 1, "quarterly review: lowest on-time rate that passes"),
			MaxEarlyLeave: decimal("REVIEW_MAX_EARLY_LEAVE", rv.MaxEarlyLeave, 0, 1, "quarterly review: highest early-leave rate that passes"),
			MinRating:     decimal("REVIEW_MIN_RATING", rv.MinRating, 1, 5, "quarterly review: lowest average trusted score that passes"),
			MinSample:     integer("REVIEW_MIN_SAMPLE", rv.MinSample, 1, 1000, "quarterly review: fewest visits or ratings a dimension needs to be judged"),
		},
	}
	c.AttachmentPendingUploads = integer("ATTACHMENT_PENDING_UPLOADS", 8, 1, 1000, "unfinished attachment uploads per user")
	c.AttachmentPendingBytes = integer("ATTACHMENT_PENDING_BYTES", 24<<20, 10<<20, 1<<30, "bytes of unfinished attachment uploads per user")
	c.AttachmentUploadTTL = duration("ATTACHMENT_UPLOAD_TTL", 24*time.Hour, 10*time.Minute, 30*24*time.Hour, "how long an unfinished upload is kept")

	if ip := net.ParseIP(c.BindAddr); ip == nil && c.BindAddr != "localhost" {
		invalid("BIND_ADDR", c.BindAddr, "want an IP address such as 127.0.0.1, 0.0.0.0 or ::")
	}
	cal, err := parseCalendar(days, hours)
	if err != nil {
		errs = append(errs, err)
	}
	c.WorkCalendar = cal
	for _, k := range append([]string{c.DataKey}, c.DataPreviousKeys...) {
		if k != "" {
			if _, err := decodeDataKey(k); err != nil {
				errs = append(errs, fmt.Errorf("%sDATA_KEY / %sDATA_PREVIOUS_KEYS: %w", EnvPrefix, EnvPrefix, err))
				break
			}
		}
	}
	switch strings.ToLower(logLevel) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		invalid("LOG_LEVEL", logLevel, "want debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		invalid("LOG_FORMAT", c.LogFormat, "want text or json")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New(EnvPrefix+"JWT_SECRET: want at least 32 characters"))
	}
	for _, s := range c.JWTPrevious {
		if len(s) < 32 {
			errs = append(errs, errors.New(EnvPrefix+"JWT_PREVIOUS_SECRETS: each secret must be at least 32 characters"))
			break
		}
	}
	if (c.FirebaseCreds != "" || c.FCMEndpoint != "") && c.FirebaseProject == "" {
		errs = append(errs, errors.New(EnvPrefix+"FIREBASE_PROJECT_ID: required with FIREBASE_CREDENTIALS or FCM_ENDPOINT"))
	}
	if c.SMS.AppID != "" && (c.SMS.Sign == "" || len(c.SMS.Templates) == 0 || c.SMS.Endpoint == "" && (c.SMS.SecretID == "" || c.SMS.SecretKey == "")) {
		errs = append(errs, errors.New(EnvPrefix+"SMS_APP_ID: needs SMS_SIGN, SMS_TEMPLATES and SMS_SECRET_ID/SMS_SECRET_KEY"))
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		errs = append(errs, errors.New(EnvPrefix+"MONGODB_URI: want a mongodb:// or mongodb+srv:// URI"))
	}
	return c, settings, errors.Join(errs...)
}

// CheckEnviron reports the FIELDSYNC_ variables of environ ("NAME=value"
// pairs, as os.Environ) that name no setting, each with the closest
// setting's name: a misspelled setting would otherwise be silently
// ignored (a misspelled DATA_KEY_FILE meaning a new data key). The test
// suite's own FIELDSYNC_TEST_ variables are not settings and pass.
func CheckEnviron(environ []string) error {
	known := map[string]bool{}
	var names []string
	for _, s := range Settings() {
		known[s.Name] = true
		names = append(names, s.Name)
	}
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] || strings.HasPrefix(name, EnvPrefix+"TEST_") {
			continue
		}
		msg := fmt.Sprintf("%s is not a setting (fieldsync -h lists them)", name)
		if near := closest(name, names); near != "" {
			msg = fmt.Sprintf("%s is not a setting: did you mean %s?", name, near)
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// closest is the name nearest to s by edit distance, if near enough to be
// a misspelling of it.
func closest(s string, names []string) string {
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// FormatDuration writes d as a setting is written: 15m, 1440h, 30s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// LogValue is the configuration dump: every setting with the value in
// force, written as it would be set (durations as 15m, not nanoseconds),
// secrets masked.
func (c Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(c.values))
	for _, v := range c.values {
		value := v.value
		if v.name == "MONGODB_URI" {
			value = maskURI(value)
		}
		attrs = append(attrs, slog.String(v.name, value))
	}
	return slog.GroupValue(attrs...)
}

// maskURI hides the password of a URI's user information.
func maskURI(uri string) string {
	if i := strings.Index(uri, "@"); i > 0 {
		if j := strings.Index(uri, "//"); j >= 0 && j < i {
			return uri[:j+2] + "***" + uri[i:]
		}
	}
	return uri
}

// signingKeys returns the current key and the ones still accepted. The
// secret comes from JWT_SECRET, else from JWT_KEY_FILE, else from a key
// generated once under DATA_DIR (development default).
func (c Config) signingKeys() (auth.Key, []auth.Key, error) {
	var prev []auth.Key
	for _, s := range c.JWTPrevious {
		prev = append(prev, auth.NewKey([]byte(s)))
	}
	if c.JWTSecret != "" {
		return auth.NewKey([]byte(c.JWTSecret)), prev, nil
	}
	path := c.JWTKeyFile
	if path == "" {
		path = filepath.Join(c.DataDir, "jwt.key")
	}
	if c.JWTKeyFile == "" {
		if _, err := createKeyFile(c.DataDir, path, 48); err != nil {
			return auth.Key{}, nil, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return auth.Key{}, nil, fmt.Errorf("read JWT key file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 32 {
		return auth.Key{}, nil, fmt.Errorf("JWT key file %s: want at least 32 characters", path)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(secret); err == nil && len(raw) >= 32 {
		return auth.NewKey(raw), prev, nil
	}
	return auth.NewKey([]byte(secret)), prev, nil
}

// createKeyFile writes a new random secret to path unless it exists, and
// says whether it did. With O_EXCL, two processes racing both end up
// reading the one that won.
func createKeyFile(dir, path string, size int) (bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	_, werr := f.WriteString(auth.RandomSecret(size) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return false, fmt.Errorf("write %s: %w", path, werr)
	}
	return true, nil
}

// decodeDataKey reads a 32-byte key written as base64 (standard or URL).
func decodeDataKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("want 32 bytes, base64-encoded (e.g. openssl rand -base64 32)")
}

// DataKeyFileOrDefault is where the data key is read from: DATA_KEY_FILE,
// or DATA_DIR/data.key ("the FIELDSYNC_DATA_KEY variable" when that is set).
func (c Config) DataKeyFileOrDefault() string {
	switch {
	case c.DataKey != "":
		return "the " + EnvPrefix + "DATA_KEY variable"
	case c.DataKeyFile != "":
		return c.DataKeyFile
	}
	return filepath.Join(c.DataDir, "data.key")
}

// dataCipher builds the cipher for personal data at rest. The key comes
// from DATA_KEY, else DATA_KEY_FILE, else DATA_DIR/data.key, generated
// when missing: then generated is its path (the store refuses a generated
// key on data that already exists).
func (c Config) dataCipher() (cipher *store.Cipher, generated string, err error) {
	raw := c.DataKey
	if raw == "" {
		path := c.DataKeyFile
		if path == "" {
			path = filepath.Join(c.DataDir, "data.key")
			created, err := createKeyFile(c.DataDir, path, 32)
			if err != nil {
				return nil, "", err
			}
			if created {
				generated = path
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("read data key file: %w", err)
		}
		raw = string(b)
	}
	key, err := decodeDataKey(raw)
	if err != nil {
		return nil, "", fmt.Errorf("data key from %s: %w", c.DataKeyFileOrDefault(), err)
	}
	current, err := store.NewDataKey(key)
	if err != nil {
		return nil, "", err
	}
	var prev []store.DataKey
	for _, p := range c.DataPreviousKeys {
		b, err := decodeDataKey(p)
		if err != nil {
			return nil, "", err
		}
		k, err := store.NewDataKey(b)
		if err != nil {
			return nil, "", err
		}
		prev = append(prev, k)
	}
	cipher, err = store.NewCipher(current, prev...)
	return cipher, generated, err
}

// dataKeyError says what to do when the store refuses the data key.
func (c Config) dataKeyError(err error, generated string) error {
	if generated != "" {
		return fmt.Errorf("refusing to start: %w.\n"+
			"  There was no data key at %s, so a new one was made, but this store's customers' phones and addresses are sealed with the old one.\n"+
			"  Put the old data.key back there (from the backup of this data directory), or set %sDATA_KEY or %sDATA_KEY_FILE to it, and start again.\n"+
			"  (The key made now was moved aside to %s.unused; it seals nothing.)",
			err, generated, EnvPrefix, EnvPrefix, generated)
	}
	return fmt.Errorf("refusing to start: %w.\n"+
		"  The data key is read from %s. Give the key this data was sealed with (from the backup of data.key, or of %sDATA_KEY) and start again.\n"+
		"  To change keys, set the new one as the key and the old one in %sDATA_PREVIOUS_KEYS. Starting with another key would leave every customer's phone and address unreadable.",
		err, c.DataKeyFileOrDefault(), EnvPrefix, EnvPrefix)
}

// parseCalendar reads the office's working days ("1,2,3,4,5,6", 0 =
// Sunday) and hours ("09:00-18:00"), in the company's zone.
func parseCalendar(days, hours string) (schemas.WorkCalendar, error) {
	cal := schemas.DefaultCalendar()
	cal.Days = nil
	for _, d := range strings.Split(days, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err != nil || n < 0 || n > 6 {
			return schemas.DefaultCalendar(), fmt.Errorf("WORK_DAYS=%q: want weekdays 0 (Sunday) to 6, comma-separated", days)
		}
		cal.Days = append(cal.Days, n)
	}
	from, to, ok := strings.Cut(hours, "-")
	s, err1 := schemas.Clock(strings.TrimSpace(from)).Minutes("")
	e, err2 := schemas.Clock(strings.TrimSpace(to)).Minutes("")
	if !ok || err1 != nil || err2 != nil || e <= s {
		return schemas.DefaultCalendar(), fmt.Errorf("WORK_HOURS=%q: want HH:MM-HH:MM", hours)
	}
	cal.Start, cal.End = s, e
	return cal, nil
}
