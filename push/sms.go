package push

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"fieldsync/schemas"
)

// SMSTemplate is one template approved by the provider: its id and the
// names of its variables, in the template's order ({1}, {2}, ...). There
// is no free text: only these variables vary.
type SMSTemplate struct {
	ID   string
	Vars []string
}

// SMSVars are the only values a template may carry: times and a first
// name, never an address or a phone number.
var SMSVars = map[string]bool{"time": true, "workerFirstName": true}

// SMSKinds are the notifications that may go by SMS, with the template
// variables each needs. The template ids come from configuration.
var SMSKinds = map[string][]string{
	"remind_customer_24h": {"time", "workerFirstName"},
	"remind_customer_2h":  {"time", "workerFirstName"},
	"worker_on_the_way":   {"time"},
	"visit_changed":       {"time"},
	"visit_rescheduled":   {"time"}, // the office moved it (the customer notice)
	"visit_cancelled":     {"time"},
}

// smsVars fills a template's variables from a notification's data: times
// as HH:MM in the zone, the worker's first name; unknown names are empty.
func smsVars(n *Notification, names []string, loc *time.Location) []string {
	out := make([]string, len(names))
	for i, name := range names {
		switch name {
		case "time":
			for _, k := range []string{"at", "start"} {
				if t, err := time.Parse(time.RFC3339, n.Data[k]); err == nil {
					out[i] = t.In(loc).Format("01-02 15:04")
					break
				}
			}
		case "workerFirstName":
			out[i] = n.Data["workerFirstName"]
		}
	}
	return out
}

// TencentSMS sends notifications as SMS through Tencent Cloud SMS with its
// Go SDK (SendSms, one phone number per message).
type TencentSMS struct {
	client    *sms.Client
	appID     string
	sign      string
	templates map[string]SMSTemplate // by notification kind
	loc       *time.Location
}

// TencentSMSConfig configures TencentSMS. Endpoint overrides the API's
// host (tests: a local endpoint over plain HTTP).
type TencentSMSConfig struct {
	SecretID, SecretKey, Region string
	AppID, Sign                 string
	Templates                   map[string]string // kind -> template id
	Endpoint                    string
}

// NewTencentSMS builds the SMS sender. Every template's kind must be one
// of SMSKinds: a template for anything else would be free text.
func NewTencentSMS(c TencentSMSConfig) (*TencentSMS, error) {
	cp := profile.NewClientProfile()
	if c.Endpoint != "" {
		host := c.Endpoint
		if h, ok := strings.CutPrefix(host, "http://"); ok {
			host, cp.HttpProfile.Scheme = h, "HTTP"
		}
		cp.HttpProfile.Endpoint = strings.TrimPrefix(host, "https://")
	}
	client, err := sms.NewClient(common.NewCredential(c.SecretID, c.SecretKey), c.Region, cp)
	if err != nil {
		return nil, fmt.Errorf("tencent sms client: %w", err)
	}
	ts := map[string]SMSTemplate{}
	for kind, id := range c.Templates {
		vars, ok := SMSKinds[kind]
		if !ok {
			return nil, fmt.Errorf("sms template for %q: not a kind that goes by SMS", kind)
		}
		ts[kind] = SMSTemplate{ID: id, Vars: vars}
	}
	loc, _ := time.LoadLocation(schemas.DefaultTimeZone)
	return &TencentSMS{client: client, appID: c.AppID, sign: c.Sign, templates: ts, loc: loc}, nil
}

// Name says which channel this is.
func (s *TencentSMS) Name() string { return "sms" }

// Has reports whether kind has an approved template.
func (s *TencentSMS) Has(kind string) bool { _, ok := s.templates[kind]; return ok }

// Send sends each message as one SMS to the phone number in its target's
// Token.
func (s *TencentSMS) Send(ctx context.Context, msgs []Message) []Result {
	out := make([]Result, len(msgs))
	for i, m := range msgs {
		t, ok := s.templates[m.N.Kind]
		if !ok {
			out[i] = Result{Err: fmt.Errorf("sms: no template for %q", m.N.Kind), Permanent: true, Code: "NO_TEMPLATE"}
			continue
		}
		req := sms.NewSendSmsRequest()
		req.SmsSdkAppId = common.StringPtr(s.appID)
		req.SignName = common.StringPtr(s.sign)
		req.TemplateId = common.StringPtr(t.ID)
		phone := m.Target.Token
		if !strings.HasPrefix(phone, "+") {
			phone = "+86" + phone // the provider wants E.164; stored numbers without a country are mainland ones
		}
		req.PhoneNumberSet = common.StringPtrs([]string{phone})
		req.TemplateParamSet = common.StringPtrs(smsVars(m.N, t.Vars, s.loc))
		req.SessionContext = common.StringPtr(m.N.ID)
		resp, err := s.client.SendSmsWithContext(ctx, req)
		if err != nil {
			out[i] = classifySMS(err)
			continue
		}
		if resp.Response == nil || len(resp.Response.SendStatusSet) == 0 {
			out[i] = Result{Err: errors.New("sms: no send status in the answer"), Code: "UNKNOWN"}
			continue
		}
		if st := resp.Response.SendStatusSet[0]; st.Code == nil || *st.Code != "Ok" {
			code, msg := "", ""
			if st.Code != nil {
				code = *st.Code
			}
			if st.Message != nil {
				msg = *st.Message
			}
			out[i] = classifySMS(tcerr.NewTencentCloudSDKError(code, msg, ""))
		}
	}
	return out
}

// classifySMS sorts a provider error by its code's family: parameters,
// phone numbers and the provider's own per-number limits never succeed
// on retry; authentication and unapproved templates are ours to fix.
func classifySMS(err error) Result {
	var e *tcerr.TencentCloudSDKError
	if !errors.As(err, &e) {
		return Result{Err: err, Code: "TRANSPORT"}
	}
	r := Result{Err: err, Code: e.Code}
	switch {
	case strings.HasPrefix(e.Code, "AuthFailure"), strings.HasPrefix(e.Code, "UnauthorizedOperation"),
		strings.Contains(e.Code, "Template"), strings.Contains(e.Code, "Sign"):
		r.Permanent, r.Config = true, true
	case strings.HasPrefix(e.Code, "InvalidParameter"), strings.HasPrefix(e.Code, "LimitExceeded"),
		strings.HasPrefix(e.Code, "FailedOperation"), strings.HasPrefix(e.Code, "UnsupportedOperation"):
		r.Permanent = true
	case strings.HasPrefix(e.Code, "RequestLimitExceeded"):
		r.RetryAfter = time.Minute
	}
	return r
}

// VendorPush is the shape a phone vendor's push channel (Huawei Push Kit,
// Xiaomi, OPPO, vivo) takes: a Sender whose targets are that vendor's
// tokens. None is built yet: each needs its developer account and SDK;
// one goes behind Sender and registers its tokens with a platform of its
// own ("huawei", ...), so the dispatcher needs no change.
type VendorPush interface {
	Sender
	// Platform is the PushTarget platform of this vendor's tokens.
	Platform() string
}
