package push_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

// tencentSMS is a local Tencent Cloud SMS endpoint: it records what the
// SDK sends (SendSms) and answers in the provider's shape, as scripted
// per phone number (default: "Ok").
type tencentSMS struct {
	mu     sync.Mutex
	sent   []smsRequest
	script map[string][]string // phone -> error codes to answer first ("Internal..." as an API error)
}

type smsRequest struct {
	PhoneNumberSet   []string
	TemplateId       string
	TemplateParamSet []string
	SignName         string
	SmsSdkAppId      string
	SessionContext   string
}

func newTencentSMS(t testing.TB) (*tencentSMS, string) {
	s := &tencentSMS{script: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-TC-Action") != "SendSms" {
			http.Error(w, "unexpected action", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req smsRequest
		_ = json.Unmarshal(b, &req)
		phone := req.PhoneNumberSet[0]
		s.mu.Lock()
		code := "Ok"
		if q := s.script[phone]; len(q) > 0 {
			code, s.script[phone] = q[0], q[1:]
		}
		if code == "Ok" {
			s.sent = append(s.sent, req)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(code, "InternalError") {
			fmt.Fprintf(w, `{"Response":{"Error":{"Code":%q,"Message":"scripted"},"RequestId":"req-1"}}`, code)
			return
		}
		fmt.Fprintf(w, `{"Response":{"SendStatusSet":[{"SerialNo":"5000:104571066915705","PhoneNumber":%q,"Fee":1,"SessionContext":%q,"Code":%q,"Message":"send success","IsoCode":"CN"}],"RequestId":"req-1"}}`,
			phone, req.SessionContext, code)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *tencentSMS) requests() []smsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

var smsTemplates = map[string]string{"remind_customer_2h": "100001", "remind_customer_24h": "100002",
	"worker_on_the_way": "100003", "visit_changed": "100004", "visit_cancelled": "100005"}

type smsRig struct {
	db   *store.Store
	clk  *clock
	fcm  *fcm
	sms  *tencentSMS
	disp func(owner string, cap int) *push.Dispatcher
}

// newSMSRig is a store at the storetest Epoch with one customer account
// (c1, phone +8613800000001) and FCM and Tencent SMS endpoints.
func newSMSRig(t *testing.T) *smsRig {
	clk := &clock{t: storetest.Epoch}
	db := storetest.New(t, clk.Now)
	ctx := context.Background()
	if err := db.Office.InsertCustomer(ctx, &schemas.Customer{ID: "cust1", CustomerInput: schemas.CustomerInput{Name: "王女士", Phone: "+8613800000001", TimeZone: "Asia/Shanghai",
		Addresses: []schemas.Address{{ID: "a1", Text: "朝阳区建国路88号"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts.CreateUser(ctx, &schemas.User{ID: "c1", Login: "c1", Name: "王女士", Role: schemas.RoleCustomer, CustomerID: "cust1"}); err != nil {
		t.Fatal(err)
	}
	f, endpoint := newFCM(t)
	fs, err := push.NewFCM(ctx, "test", "", endpoint, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	s, url := newTencentSMS(t)
	sender, err := push.NewTencentSMS(push.TencentSMSConfig{SecretID: "id", SecretKey: "key", Region: "ap-guangzhou",
		AppID: "1400000000", Sign: "保洁", Templates: smsTemplates, Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	targets := push.NewTargets(db.Push)
	return &smsRig{db: db, clk: clk, fcm: f, sms: s, disp: func(owner string, cap int) *push.Dispatcher {
		d := push.NewDispatcher(db, targets, fs, owner, clk.Now, slog.New(slog.DiscardHandler))
		d.SMS = &push.SMSChannel{Sender: sender, DailyCap: cap}
		return d
	}}
}

// reminder is a customer's 2-hour reminder of visit, non-urgent.
func reminder(visit string, start time.Time) *push.Notification {
	return &push.Notification{DedupeKey: "remind/" + visit, UserID: "c1", Kind: "remind_customer_2h", VisitID: visit, TTL: time.Hour,
		Data: map[string]string{"visitId": visit, "start": start.Format(time.RFC3339), "workerFirstName": "丽"}}
}

func (r *smsRig) enqueue(t *testing.T, n *push.Notification) {
	if _, err := push.NewOutbox(r.db.Push).Enqueue(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// drain runs the dispatcher until nothing is due.
func drain(t *testing.T, d *push.Dispatcher) {
	for range 10 {
		n, lost, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && lost == 0 {
			return
		}
	}
}

func (r *smsRig) notes(t *testing.T) []push.Notification {
	ns, _, err := push.NewOutbox(r.db.Push).List(context.Background(), "", "c1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestSMSFallbackAfterUnregisteredToken(t *testing.T) {
	r := newSMSRig(t)
	ctx := context.Background()
	tok := "tok-dead-" + strings.Repeat("x", 20)
	if err := push.NewTargets(r.db.Push).Register(ctx, "c1", push.Target{Token: tok, DeviceID: "p1", Platform: "android"}); err != nil {
		t.Fatal(err)
	}
	r.fcm.script[tok] = []reply{{status: 404, errorCode: "UNREGISTERED"}}
	start := storetest.Epoch.Add(2 * time.Hour) // 19:00 in Shanghai
	r.enqueue(t, reminder("v1", start))
	drain(t, r.disp("a", 5))
	got := r.sms.requests()
	if len(got) != 1 {
		t.Fatalf("%d SMS sent, want 1", len(got))
	}
	want := smsRequest{PhoneNumberSet: []string{"+8613800000001"}, TemplateId: "100001", TemplateParamSet: []string{"11-24 19:00", "丽"},
		SignName: "保洁", SmsSdkAppId: "1400000000"}
	got[0].SessionContext = ""
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Fatalf("SMS %+v, want %+v", got[0], want)
	}
	states := map[string]string{}
	for _, n := range r.notes(t) {
		states[n.Channel] = n.State
		if n.Channel == push.ChannelSMS && slices.Contains(n.SentTokens, "+8613800000001") {
			t.Fatal("the phone number is stored in the outbox")
		}
	}
	if states[""] != push.StateFailed || states[push.ChannelSMS] != push.StateSent {
		t.Fatalf("states by channel %v: want the push failed, the SMS sent", states)
	}
}

func TestSMSFallbackNoToken(t *testing.T) {
	r := newSMSRig(t)
	r.enqueue(t, &push.Notification{DedupeKey: "eta/v1", UserID: "c1", Kind: "worker_on_the_way", VisitID: "v1", High: true, TTL: time.Hour,
		Data: map[string]string{"visitId": "v1", "at": storetest.Epoch.Add(30 * time.Minute).Format(time.RFC3339)}})
	drain(t, r.disp("a", 5))
	if got := r.sms.requests(); len(got) != 1 || got[0].TemplateId != "100003" || fmt.Sprint(got[0].TemplateParamSet) != "[11-24 17:30]" {
		t.Fatalf("SMS %+v", got)
	}
}

func TestSMSPreference(t *testing.T) {
	for _, tc := range []struct {
		channel string
		fcm     int
	}{{push.ChannelSMS, 0}, {push.ChannelBoth, 1}} {
		t.Run(tc.channel, func(t *testing.T) {
			r := newSMSRig(t)
			ctx := context.Background()
			if err := push.NewTargets(r.db.Push).Register(ctx, "c1", push.Target{Token: "tok-live-" + strings.Repeat("x", 20), DeviceID: "p1", Platform: "android"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.db.SMS.SetChannel(ctx, "c1", tc.channel); err != nil {
				t.Fatal(err)
			}
			r.enqueue(t, reminder("v1", storetest.Epoch.Add(2*time.Hour)))
			drain(t, r.disp("a", 5))
			if n := len(r.sms.requests()); n != 1 {
				t.Fatalf("%d SMS, want 1", n)
			}
			if n := len(r.fcm.received); n != tc.fcm {
				t.Fatalf("%d FCM messages, want %d", n, tc.fcm)
			}
		})
	}
}

func TestSMSDailyCap(t *testing.T) {
	r := newSMSRig(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		r.enqueue(t, reminder(v, storetest.Epoch.Add(2*time.Hour)))
	}
	drain(t, r.disp("a", 2))
	if n := len(r.sms.requests()); n != 2 {
		t.Fatalf("%d SMS sent, want the cap of 2", n)
	}
	capped := 0
	for _, n := range r.notes(t) {
		if n.Channel == push.ChannelSMS && n.State == push.StateDropped && n.LastError == "daily SMS cap reached" {
			capped++
		}
	}
	if capped != 1 {
		t.Fatalf("%d SMS dropped at the cap, want 1", capped)
	}
}

func TestSMSOncePerVisitAndKind(t *testing.T) {
	storetest.NeedsIsolation(t) // two dispatchers' leases
	r := newSMSRig(t)
	// The first SMS attempt fails transiently: it is retried.
	r.sms.script["+8613800000001"] = []string{"InternalError.Timeout"}
	// Two ETAs for one visit (the worker updated it), each undeliverable
	// by FCM, handled by two dispatchers at once.
	for i, eta := range []time.Duration{30 * time.Minute, 40 * time.Minute} {
		r.enqueue(t, &push.Notification{DedupeKey: fmt.Sprint("eta/v1/", i), UserID: "c1", Kind: "worker_on_the_way", VisitID: "v1", High: true, TTL: time.Hour,
			Data: map[string]string{"visitId": "v1", "at": storetest.Epoch.Add(eta).Format(time.RFC3339)}})
	}
	a, b := r.disp("a", 5), r.disp("b", 5)
	var wg sync.WaitGroup
	for _, d := range []*push.Dispatcher{a, b} {
		wg.Go(func() { drain(t, d) })
	}
	wg.Wait()
	r.clk.Add(time.Hour) // past the retry's backoff
	wg.Go(func() { drain(t, a) })
	wg.Go(func() { drain(t, b) })
	wg.Wait()
	if n := len(r.sms.requests()); n != 1 {
		t.Fatalf("%d SMS for one visit and kind, want 1", n)
	}
}

func TestSMSQuietHours(t *testing.T) {
	r := newSMSRig(t)
	r.clk.Add(5 * time.Hour)                     // 22:00 in Shanghai
	start := storetest.Epoch.Add(17 * time.Hour) // 10:00 the next morning
	r.enqueue(t, reminder("v1", start))
	d := r.disp("a", 5)
	drain(t, d)
	if n := len(r.sms.requests()); n != 0 {
		t.Fatalf("%d SMS sent in quiet hours", n)
	}
	r.clk.Add(10 * time.Hour) // 08:00
	drain(t, d)
	if n := len(r.sms.requests()); n != 1 {
		t.Fatalf("%d SMS sent after quiet hours, want 1", n)
	}
}

// Template variables are only times and a first name: whatever else a
// notification's data holds, no address or phone number reaches the SMS.
func TestSMSTemplateVariablesFreeOfPII(t *testing.T) {
	pii := map[string]string{"phone": "+8613800000001", "customerPhone": "13800000001", "address": "朝阳区建国路88号", "addressText": "朝阳区建国路88号"}
	for kind, vars := range push.SMSKinds {
		for _, v := range vars {
			if !push.SMSVars[v] {
				t.Errorf("kind %s: variable %q is not one of the allowed", kind, v)
			}
		}
		n := reminder("v1", storetest.Epoch)
		for k, v := range pii {
			n.Data[k] = v
		}
		for _, got := range push.SMSVarsOf(n, vars, time.UTC) {
			if strings.Contains(got, "13800000001") || strings.Contains(got, "建国路") {
				t.Errorf("kind %s: PII in a template variable: %q", kind, got)
			}
		}
	}
	if _, err := push.NewTencentSMS(push.TencentSMSConfig{Templates: map[string]string{"complaint": "1"}}); err == nil {
		t.Error("a template for a kind outside SMSKinds was accepted")
	}
	r := newSMSRig(t)
	n := reminder("v1", storetest.Epoch.Add(2*time.Hour))
	n.Data["phone"], n.Data["address"] = "+8613800000001", "朝阳区建国路88号"
	r.enqueue(t, n)
	drain(t, r.disp("a", 5))
	got := r.sms.requests()
	if len(got) != 1 {
		t.Fatalf("%d SMS", len(got))
	}
	for _, p := range got[0].TemplateParamSet {
		if strings.Contains(p, "138") || strings.Contains(p, "建国路") || strings.ContainsAny(p, "@") {
			t.Fatalf("PII in a template variable: %q", got[0].TemplateParamSet)
		}
	}
}

func TestSMSFallbackNotDeliveredInTime(t *testing.T) {
	r := newSMSRig(t)
	ctx := context.Background()
	tok := "tok-busy-" + strings.Repeat("x", 20)
	if err := push.NewTargets(r.db.Push).Register(ctx, "c1", push.Target{Token: tok, DeviceID: "p1", Platform: "android"}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		r.fcm.script[tok] = append(r.fcm.script[tok], reply{status: 500, errorCode: "INTERNAL"})
	}
	r.enqueue(t, reminder("v1", storetest.Epoch.Add(2*time.Hour)))
	d := r.disp("a", 5)
	d.SMS.After = 5 * time.Minute
	drain(t, d)
	if n := len(r.sms.requests()); n != 0 {
		t.Fatalf("%d SMS before the deadline", n)
	}
	r.clk.Add(6 * time.Minute)
	drain(t, d)
	if n := len(r.sms.requests()); n != 1 {
		t.Fatalf("%d SMS after FCM retried past the deadline, want 1", n)
	}
}
