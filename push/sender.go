package push

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

// Message is one notification to one device.
type Message struct {
	N      *Notification
	Target Target
}

// Result is what the channel said of one message.
type Result struct {
	Err          error
	Permanent    bool          // will never succeed: do not retry
	Unregistered bool          // the token is dead: forget it
	Config       bool          // our configuration is wrong: tell an admin
	RetryAfter   time.Duration // the channel asked to wait this long
	Code         string        // the channel's error code (FCM: UNREGISTERED, QUOTA_EXCEEDED, ...), for metrics
}

// Sender delivers messages through one channel. FCM needs Google Play
// services, which many phones in mainland China lack, so a vendor channel
// can sit behind this interface without touching the outbox.
type Sender interface {
	Send(ctx context.Context, msgs []Message) []Result
	Name() string
}

// FCM sends through Firebase Cloud Messaging with the Admin SDK.
type FCM struct {
	client *messaging.Client
	now    func() time.Time
}

// NewFCM builds the FCM sender. endpoint overrides FCM's base URL (tests,
// emulators); with it and no credentials the SDK sends unauthenticated.
// now is the clock of the expiry times it sends and of Retry-After dates.
func NewFCM(ctx context.Context, projectID, credentialsFile, endpoint string, now func() time.Time) (*FCM, error) {
	var opts []option.ClientOption
	if credentialsFile != "" {
		opts = append(opts, option.WithCredentialsFile(credentialsFile))
	}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
		if credentialsFile == "" {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, opts...)
	if err != nil {
		return nil, err
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		return nil, err
	}
	return &FCM{client: c, now: now}, nil
}

// Name says which channel this is.
func (f *FCM) Name() string { return "fcm" }

// Send sends up to 500 messages with SendEach and classifies each outcome.
func (f *FCM) Send(ctx context.Context, msgs []Message) []Result {
	out := make([]Result, len(msgs))
	fm := make([]*messaging.Message, len(msgs))
	now := f.now()
	for i, m := range msgs {
		fm[i] = toFCM(m, now)
	}
	resp, err := f.client.SendEach(ctx, fm)
	if err != nil {
		for i := range out {
			out[i] = classify(err, f.now())
		}
		return out
	}
	for i, r := range resp.Responses {
		if !r.Success {
			out[i] = classify(r.Error, f.now())
		}
	}
	return out
}

// toFCM shapes a message: data always (the app pulls on it), a visible
// notification when there is a title, priorities and a TTL per kind, a
// collapse key so a burst shows once. now is the time of sending.
func toFCM(m Message, now time.Time) *messaging.Message {
	n := m.N
	ttl := n.TTL
	androidPrio, apnsPrio := "normal", "5"
	if n.High {
		androidPrio, apnsPrio = "high", "10"
	}
	msg := &messaging.Message{
		Token: m.Target.Token,
		Data:  n.Data,
		Android: &messaging.AndroidConfig{
			Priority:    androidPrio,
			TTL:         &ttl,
			CollapseKey: n.CollapseKey,
		},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{
				"apns-priority":   apnsPrio,
				"apns-expiration": strconv.FormatInt(now.Add(ttl).Unix(), 10),
			},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{}},
		},
	}
	if n.CollapseKey != "" {
		msg.APNS.Headers["apns-collapse-id"] = n.CollapseKey
	}
	if n.Title != "" {
		msg.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
	} else {
		// iOS data-only messages must be background pushes at priority 5.
		msg.APNS.Headers["apns-priority"] = "5"
		msg.APNS.Headers["apns-push-type"] = "background"
		msg.APNS.Payload.Aps.ContentAvailable = true
	}
	return msg
}

// classify sorts an FCM error: the SDK retries only network errors and
// 503; 429 and 500 are ours to retry, some errors never succeed.
func classify(err error, now time.Time) Result {
	r := Result{Err: err, Code: fcmCode(err)}
	if resp := errorutils.HTTPResponse(err); resp != nil {
		r.RetryAfter = retryAfter(resp, now)
	}
	switch {
	case messaging.IsUnregistered(err):
		r.Permanent, r.Unregistered = true, true
	case messaging.IsInvalidArgument(err):
		r.Permanent, r.Unregistered = true, true // a malformed or foreign token
	case messaging.IsSenderIDMismatch(err), messaging.IsThirdPartyAuthError(err):
		r.Permanent, r.Config = true, true
	case messaging.IsQuotaExceeded(err):
		r.RetryAfter = max(r.RetryAfter, time.Minute) // FCM asks for at least a minute
	}
	return r
}

// fcmCode names an FCM error by FCM's own error codes (the SDK exposes
// them only as predicates), else by the platform's status, else the
// transport's failure.
func fcmCode(err error) string {
	for _, c := range []struct {
		code string
		is   func(error) bool
	}{
		{"UNREGISTERED", messaging.IsUnregistered},
		{"SENDER_ID_MISMATCH", messaging.IsSenderIDMismatch},
		{"QUOTA_EXCEEDED", messaging.IsQuotaExceeded},
		{"THIRD_PARTY_AUTH_ERROR", messaging.IsThirdPartyAuthError},
		{"INVALID_ARGUMENT", messaging.IsInvalidArgument},
		{"UNAVAILABLE", messaging.IsUnavailable},
		{"INTERNAL", messaging.IsInternal},
		{"PERMISSION_DENIED", errorutils.IsPermissionDenied},
		{"UNAUTHENTICATED", errorutils.IsUnauthenticated},
		{"NOT_FOUND", errorutils.IsNotFound},
		{"DEADLINE_EXCEEDED", errorutils.IsDeadlineExceeded},
		{"CANCELLED", errorutils.IsCancelled},
	} {
		if c.is(err) {
			return c.code
		}
	}
	if errorutils.HTTPResponse(err) == nil {
		return "TRANSPORT" // no answer from FCM: network, TLS, deadline
	}
	return "UNKNOWN"
}

// retryAfter reads Retry-After: seconds, or an HTTP date (taken against now).
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// LogSender records what would have been sent: the embedded default needs
// no Firebase project.
type LogSender struct{ Log *slog.Logger }

// Name says which channel this is.
func (l LogSender) Name() string { return "log" }

// Send logs each message (ids and kinds, never tokens) and reports success.
func (l LogSender) Send(_ context.Context, msgs []Message) []Result {
	for _, m := range msgs {
		l.Log.Info("push (log sender)", "notification", m.N.ID, "kind", m.N.Kind, "user", m.N.UserID, "platform", m.Target.Platform)
	}
	return make([]Result, len(msgs))
}

// NewFCMClient is the bare Admin SDK messaging client NewFCM wraps, for
// measuring the endpoint's own ceiling.
func NewFCMClient(ctx context.Context, projectID, endpoint string) (*messaging.Client, error) {
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	if err != nil {
		return nil, err
	}
	return app.Messaging(ctx)
}
