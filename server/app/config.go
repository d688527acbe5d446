package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	"fieldsync/store"
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

	// ComplaintAnswerWait is how long a proposed remedy waits for the
	// customer's answer before a supervisor may close the complaint.
	ComplaintAnswerWait time.Duration

	DataKey           string
	DataKeyFile       string
	DataPreviousKeys  []string
	ScheduleHorizon   time.Duration
	GeneratorInterval time.Duration

	SlowCommand     time.Duration
	FirebaseProject string
	FirebaseCreds   string
	FCMEndpoint     string
	PushInterval    time.Duration
	InstanceID      string
	WorkCalendar    schemas.WorkCalendar
	GeofenceMeters  int
	SyncMaxOps      int
	ChangeRetention time.Duration
	PresenceStep    time.Duration

	AttachmentPendingUploads int // unfinished attachment uploads per user
	AttachmentPendingBytes   int
	AttachmentUploadTTL      time.Duration
}

// LoadConfig reads the configuration; getenv is os.Getenv outside tests.
// Every invalid value is reported, not only the first.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	integer := func(key string, def, min, max int) int {
		v := getenv(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min || n > max {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer from %d to %d", key, v, min, max))
			return def
		}
		return n
	}
	duration := func(key string, def, min, max time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < min || d > max {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration (like 30s, 15m) from %s to %s", key, v, min, max))
			return def
		}
		return d
	}
	boolean := func(key string) bool {
		switch strings.ToLower(strings.TrimSpace(getenv(key))) {
		case "", "0", "false", "no", "off":
			return false
		case "1", "true", "yes", "on":
			return true
		default:
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", key, getenv(key)))
			return false
		}
	}

	c := Config{
		Port:              integer("PORT", 8080, 0, 65535),
		BindAddr:          str("BIND_ADDR", "127.0.0.1"),
		DataDir:           str("DATA_DIR", "./data"),
		MongoURI:          str("MONGODB_URI", ""),
		MongoDB:           str("MONGODB_DB", "fieldsync"),
		LogFormat:         str("LOG_FORMAT", "text"),
		Demo:              boolean("DEMO"),
		AdminLogin:        str("ADMIN_LOGIN", ""),
		AdminPass:         getenv("ADMIN_PASSWORD"),
		ProxyHeader:       str("PROXY_HEADER", ""),
		JWTSecret:         getenv("JWT_SECRET"),
		JWTKeyFile:        str("JWT_KEY_FILE", ""),
		JWTIssuer:         str("JWT_ISSUER", "fieldsync"),
		JWTAudience:       str("JWT_AUDIENCE", "fieldsync-api"),
		AccessTTL:         duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour),
		RefreshTTL:        duration("REFRESH_TOKEN_TTL", 60*24*time.Hour, time.Hour, 365*24*time.Hour),
		RefreshGrace:      duration("REFRESH_GRACE", 30*time.Second, 0, 5*time.Minute),
		LoginPerAccount:   integer("LOGIN_RATE_PER_ACCOUNT", 10, 1, 10000),
		LoginPerIP:        integer("LOGIN_RATE_PER_IP", 60, 1, 100000),
		BodyLimit:         integer("BODY_LIMIT_BYTES", 4<<20, 1<<10, 256<<20),
		ReadTimeout:       duration("READ_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute),
		WriteTimeout:      duration("WRITE_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute),
		RequestTimeout:    duration("REQUEST_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute),
		ShutdownTimeout:   duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute),
		DrainDelay:        duration("DRAIN_DELAY", 5*time.Second, 0, 5*time.Minute),
		AlertWindow:       duration("ALERT_COALESCE_WINDOW", 10*time.Minute, 0, 24*time.Hour),
		StoreStartTimeout: duration("STORE_START_TIMEOUT", 30*time.Second, time.Second, 10*time.Minute),
		DataKey:           getenv("DATA_KEY"),
		DataKeyFile:       str("DATA_KEY_FILE", ""),
		ScheduleHorizon:   duration("SCHEDULE_HORIZON", 28*24*time.Hour, 24*time.Hour, 366*24*time.Hour),
		GeneratorInterval: duration("GENERATOR_INTERVAL", time.Hour, time.Minute, 24*time.Hour),
		GeofenceMeters:    integer("GEOFENCE_METERS", 300, 20, 100000),
		SlowCommand:       duration("SLOW_COMMAND", 0, 0, time.Minute),
		FirebaseProject:   str("FIREBASE_PROJECT_ID", ""),
		FirebaseCreds:     str("FIREBASE_CREDENTIALS", ""),
		FCMEndpoint:       str("FCM_ENDPOINT", ""),
		PushInterval:      duration("PUSH_INTERVAL", time.Second, 100*time.Millisecond, time.Minute),
		InstanceID:        str("INSTANCE_ID", ""),
		SyncMaxOps:        integer("SYNC_MAX_OPS", 500, 1, 10000),
		ChangeRetention:   duration("CHANGE_RETENTION", 30*24*time.Hour, 30*24*time.Hour, 3650*24*time.Hour),
		PresenceStep:      duration("PRESENCE_STEP", 5*time.Minute, 30*time.Second, time.Hour),

		AttachmentPendingUploads: integer("ATTACHMENT_PENDING_UPLOADS", 8, 1, 1000),
		AttachmentPendingBytes:   integer("ATTACHMENT_PENDING_BYTES", 24<<20, 10<<20, 1<<30),
		AttachmentUploadTTL:      duration("ATTACHMENT_UPLOAD_TTL", 24*time.Hour, 10*time.Minute, 30*24*time.Hour),

		ComplaintAnswerWait: duration("COMPLAINT_ANSWER_WAIT", office.DefaultComplaintAnswerWait, time.Hour, 90*24*time.Hour),
	}
	budget := func(name string, def api.Budget) api.Budget {
		return api.Budget{PerMinute: integer(name+"_PER_MINUTE", def.PerMinute, 0, 1_000_000), Burst: integer(name+"_BURST", def.Burst, 1, 1_000_000)}
	}
	c.Limits = api.Limits{
		Push:  budget("RATE_PUSH", api.DefaultLimits.Push),
		Write: budget("RATE_WRITE", api.DefaultLimits.Write),
		Read:  budget("RATE_READ", api.DefaultLimits.Read),
	}
	if ip := net.ParseIP(c.BindAddr); ip == nil && c.BindAddr != "localhost" {
		errs = append(errs, fmt.Errorf("BIND_ADDR=%q: want an IP address such as 127.0.0.1, 0.0.0.0 or ::", c.BindAddr))
	}
	if v := getenv("DATA_PREVIOUS_KEYS"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.DataPreviousKeys = append(c.DataPreviousKeys, k)
			}
		}
	}
	cal, err := parseCalendar(str("WORK_DAYS", "1,2,3,4,5,6"), str("WORK_HOURS", "09:00-18:00"))
	if err != nil {
		errs = append(errs, err)
	}
	c.WorkCalendar = cal
	for _, k := range append([]string{c.DataKey}, c.DataPreviousKeys...) {
		if k != "" {
			if _, err := decodeDataKey(k); err != nil {
				errs = append(errs, fmt.Errorf("DATA_KEY / DATA_PREVIOUS_KEYS: %w", err))
				break
			}
		}
	}
	if v := getenv("JWT_PREVIOUS_SECRETS"); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.JWTPrevious = append(c.JWTPrevious, s)
			}
		}
	}
	switch strings.ToLower(str("LOG_LEVEL", "info")) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", getenv("LOG_LEVEL")))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want text or json", c.LogFormat))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("JWT_SECRET: want at least 32 characters"))
	}
	for _, s := range c.JWTPrevious {
		if len(s) < 32 {
			errs = append(errs, errors.New("JWT_PREVIOUS_SECRETS: each secret must be at least 32 characters"))
			break
		}
	}
	if (c.FirebaseCreds != "" || c.FCMEndpoint != "") && c.FirebaseProject == "" {
		errs = append(errs, errors.New("FIREBASE_PROJECT_ID: required with FIREBASE_CREDENTIALS or FCM_ENDPOINT"))
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		errs = append(errs, errors.New("MONGODB_URI: want a mongodb:// or mongodb+srv:// URI"))
	}
	return c, errors.Join(errs...)
}

// LogValue masks secrets when the config is logged.
func (c Config) LogValue() slog.Value {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	uri := c.MongoURI
	if i := strings.Index(uri, "@"); i > 0 {
		uri = uri[:strings.Index(uri, "//")+2] + "***" + uri[i:]
	}
	return slog.GroupValue(
		slog.String("bindAddr", c.BindAddr), slog.Int("port", c.Port), slog.String("dataDir", c.DataDir), slog.String("mongoURI", uri),
		slog.String("mongoDB", c.MongoDB), slog.String("logLevel", c.LogLevel.String()),
		slog.Bool("demo", c.Demo), slog.String("jwtSecret", mask(c.JWTSecret)),
		slog.String("jwtKeyFile", c.JWTKeyFile), slog.Duration("accessTTL", c.AccessTTL),
		slog.Duration("refreshTTL", c.RefreshTTL), slog.Duration("refreshGrace", c.RefreshGrace),
		slog.Int("bodyLimit", c.BodyLimit),
		slog.String("dataKey", mask(c.DataKey)), slog.Duration("scheduleHorizon", c.ScheduleHorizon),
	)
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
		if err := createKeyFile(c.DataDir, path, 48); err != nil {
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

// createKeyFile writes a new random secret to path unless it exists. With
// O_EXCL, two processes racing both end up reading the one that won.
func createKeyFile(dir, path string, size int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, werr := f.WriteString(auth.RandomSecret(size) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
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

// dataCipher builds the cipher for personal data at rest. The key comes
// from DATA_KEY, else DATA_KEY_FILE, else a key generated once under
// DATA_DIR (development default; back it up with the data).
// DataKeyFileOrDefault is where the data key is read from: DATA_KEY_FILE,
// or DATA_DIR/data.key ("the DATA_KEY variable" when that is set).
func (c Config) DataKeyFileOrDefault() string {
	switch {
	case c.DataKey != "":
		return "the DATA_KEY variable"
	case c.DataKeyFile != "":
		return c.DataKeyFile
	}
	return filepath.Join(c.DataDir, "data.key")
}

func (c Config) dataCipher() (*store.Cipher, error) {
	raw := c.DataKey
	if raw == "" {
		path := c.DataKeyFile
		if path == "" {
			path = filepath.Join(c.DataDir, "data.key")
			if err := createKeyFile(c.DataDir, path, 32); err != nil {
				return nil, err
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read data key file: %w", err)
		}
		raw = string(b)
	}
	key, err := decodeDataKey(raw)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	current, err := store.NewDataKey(key)
	if err != nil {
		return nil, err
	}
	var prev []store.DataKey
	for _, p := range c.DataPreviousKeys {
		b, err := decodeDataKey(p)
		if err != nil {
			return nil, err
		}
		k, err := store.NewDataKey(b)
		if err != nil {
			return nil, err
		}
		prev = append(prev, k)
	}
	return store.NewCipher(current, prev...)
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
