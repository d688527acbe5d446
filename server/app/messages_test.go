package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// TestMessagesEndToEnd: the household writes to its worker through the
// server; the worker's phone gets a data push to pull and finds the
// message in its visit, masked; the worker answers from the phone and the
// household gets a visit_message notice without the text, then reads the
// thread. Sending the household's message again is a no-op. Before the
// thread opens, after it closes and on a cancelled visit, the household
// gets 409 thread_closed and the phone a thread_closed rejection.
func TestMessagesEndToEnd(t *testing.T) {
	f := newTellFixture(t, "")
	srv, clk, ctx, sys := f.srv, f.clk, t.Context(), office.System
	base := "http://" + srv.Addr()
	if _, err := srv.Auth.CreateUser(ctx, schemas.NewUser{Login: "wk.1", Password: "worker password", Name: "张丽", Role: schemas.RoleWorker,
		WorkerID: f.w1.ID, Team: "team-1"}); err != nil {
		t.Fatal(err)
	}
	login := func(user, pw, device string) string {
		_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": user, "password": pw, "deviceId": device})
		return out["accessToken"].(string)
	}
	wk, cu := login("wk.1", "worker password", "phone"), login("cu.1", "customer password", "app-2")
	wkFCM := "worker-fcm-token-0123456789abcdef"
	if st, out := call(t, "POST", base+"/v1/devices", wk, map[string]any{"token": wkFCM, "platform": "android"}); st != 204 {
		t.Fatalf("register device: %d %v", st, out)
	}
	relay := func() {
		t.Helper()
		if _, err := srv.Relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.Push.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	relay()
	start := clk.Now().Add(3 * time.Hour).UTC() // 20:00 in Shanghai
	visit := func(start time.Time) *office.VisitView {
		v, err := srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
			ScheduledStart: start, WorkerID: f.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := visit(start)
	relay()

	// The household writes, with its number in the text.
	msgID := schemas.NewIDAt(clk.Now())
	post := func(visitID, id, text string) (int, map[string]any) {
		return call(t, "POST", base+"/v1/visits/"+visitID+"/messages", cu, map[string]any{"messageId": id, "text": text})
	}
	st, out := post(v.ID, msgID, "门铃坏了，到了打我电话 139 0000 0001")
	if st != 200 || out["open"] != true {
		t.Fatalf("post: %d %v", st, out)
	}
	relay()
	nudges := func() []map[string]any {
		var out []map[string]any
		for _, m := range f.fcm.byKind(wkFCM, "pull") {
			if m["data"].(map[string]any)["messageId"] == msgID {
				out = append(out, m)
			}
		}
		return out
	}
	if n := nudges(); len(n) != 1 || n[0]["notification"] != nil || n[0]["data"].(map[string]any)["visitId"] != v.ID {
		t.Fatalf("the worker's data push: %+v", n)
	}
	// The worker's pull shows it, masked, and no number of the household anywhere.
	st, out = call(t, "GET", base+"/v1/sync/pull", wk, nil)
	raw, _ := json.Marshal(out)
	if st != 200 || !strings.Contains(string(raw), "到了打我电话 *** **** ****") || strings.Contains(string(raw), "13900000001") || strings.Contains(string(raw), "0000 0001") {
		t.Fatalf("pull: %d %s", st, raw)
	}

	// The worker answers from the phone.
	opID := schemas.NewIDAt(clk.Now())
	pushMsg := func(seq int, id, visitID, text string, at time.Time) map[string]any {
		t.Helper()
		st, out := call(t, "POST", base+"/v1/sync/push", wk, map[string]any{"deviceId": "phone", "schemaVersion": fsync.SchemaVersion, "deviceClock": clk.Now(),
			"ops": []any{map[string]any{"seq": seq, "opId": id, "kind": fsync.KindMessage, "visitId": visitID, "at": at, "payload": map[string]any{"text": text}}}})
		if st != 200 {
			t.Fatalf("push: %d %v", st, out)
		}
		return out["results"].([]any)[0].(map[string]any)
	}
	if r := pushMsg(1, opID, v.ID, "好的，我到了敲门。我的手机 138-0000-0001", clk.Now()); r["status"] != fsync.StatusApplied {
		t.Fatalf("worker's message: %v", r)
	}
	relay()
	m := f.told(push.KindVisitMessage, "11月24日 20:00")
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "敲门") || strings.Contains(string(b), "0001") || m["data"].(map[string]any)["messageId"] != opID {
		t.Fatalf("the household's notice: %s", b)
	}
	if m["notification"].(map[string]any)["title"] != "服务师给您发来消息" {
		t.Fatalf("notice title: %v", m["notification"])
	}
	// A message is no decision about the visit: it must not replace one
	// (a reschedule) waiting on an offline phone.
	if a, _ := m["android"].(map[string]any); a["collapse_key"] != nil {
		t.Fatalf("the message notice collapses: %v", a)
	}
	// The household reads the thread.
	st, out = call(t, "GET", base+"/v1/visits/"+v.ID+"/messages", cu, nil)
	var th schemas.MessageThread
	raw, _ = json.Marshal(out)
	_ = json.Unmarshal(raw, &th)
	if st != 200 || len(th.Messages) != 2 || th.Messages[0].From != schemas.MessageFromCustomer || th.Messages[1].From != schemas.MessageFromWorker ||
		th.Messages[1].Text != "好的，我到了敲门。我的手机 ***-****-****" || th.Messages[0].ID != msgID || !th.Open {
		t.Fatalf("thread: %d %s", st, raw)
	}
	if !th.OpensAt.Equal(start.Add(-24*time.Hour)) || !th.ClosesAt.Equal(start.Add(2*time.Hour+24*time.Hour)) {
		t.Fatalf("window %s - %s", th.OpensAt, th.ClosesAt)
	}
	// Sent again: the same thread, no second push.
	if st, out = post(v.ID, msgID, "门铃坏了，到了打我电话 139 0000 0001"); st != 200 || len(out["messages"].([]any)) != 2 {
		t.Fatalf("sent again: %d %v", st, out)
	}
	relay()
	if n := nudges(); len(n) != 1 {
		t.Fatalf("%d pushes for one message", len(n))
	}
	// The office sees the thread on the visit.
	got, err := srv.Store.Visits.Get(ctx, v.ID)
	if err != nil || len(got.Field.Messages) != 2 {
		t.Fatalf("the visit's thread: %v %+v", err, got.Field.Messages)
	}

	// Closed: a visit three days ahead, a cancelled one, and this one a day after its end.
	later := visit(start.Add(72 * time.Hour))
	closed := func(what string, st int, out map[string]any) {
		t.Helper()
		e, _ := out["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		if st != 409 || e["code"] != schemas.ECONFLICT || d["code"] != fsync.RejectThreadClosed {
			t.Fatalf("%s: %d %v", what, st, out)
		}
	}
	st, out = post(later.ID, schemas.NewIDAt(clk.Now()), "提前问一下")
	closed("before it opens", st, out)
	if r := pushMsg(2, schemas.NewIDAt(clk.Now()), later.ID, "提前问一下", clk.Now()); r["code"] != fsync.RejectThreadClosed {
		t.Fatalf("phone, before it opens: %v", r)
	}
	cancelled := visit(start.Add(-2*time.Hour - 31*time.Minute).Truncate(time.Minute)) // ends before the travel buffer of v
	if _, err := srv.Office.ActOnVisit(ctx, sys, cancelled.ID, office.VisitAction{Kind: office.ActCancel, Reason: "客户出差"}); err != nil {
		t.Fatal(err)
	}
	st, out = post(cancelled.ID, schemas.NewIDAt(clk.Now()), "还来吗")
	closed("cancelled", st, out)
	if r := pushMsg(3, schemas.NewIDAt(clk.Now()), cancelled.ID, "还来吗", clk.Now()); r["code"] != fsync.RejectThreadClosed {
		t.Fatalf("phone, cancelled: %v", r)
	}
	clk.Add(3*time.Hour + 2*time.Hour + 24*time.Hour + time.Minute)
	cu = login("cu.1", "customer password", "app-2")
	st, out = post(v.ID, schemas.NewIDAt(clk.Now()), "谢谢")
	closed("after it closed", st, out)
	wk = login("wk.1", "worker password", "phone")
	if r := pushMsg(4, schemas.NewIDAt(clk.Now()), v.ID, "不客气", clk.Now()); r["code"] != fsync.RejectThreadClosed {
		t.Fatalf("phone, after it closed: %v", r)
	}
	if st, out = call(t, "GET", base+"/v1/visits/"+v.ID+"/messages", cu, nil); st != 200 || out["open"] != false {
		t.Fatalf("closed thread: %d %v", st, out)
	}
}

// TestWorkerMessageAfterVisitWaitsForMorning: a worker's message written
// after the visit, at night in the household's zone, waits for the
// morning as every notice does; one written before the visit still gives
// way to its start (TestMessagesEndToEnd).
func TestWorkerMessageAfterVisitWaitsForMorning(t *testing.T) {
	f := newTellFixture(t, "")
	ctx := t.Context()
	start := f.clk.Now().Add(3 * time.Hour).UTC() // 20:00-22:00 in Shanghai
	v, err := f.srv.Office.CreateVisit(ctx, office.System, schemas.NewVisit{CustomerID: f.c.ID, AddressID: f.c.Addresses[0].ID, ServiceTypeID: f.st.ID,
		ScheduledStart: start, WorkerID: f.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	relay := func() {
		t.Helper()
		if _, err := f.srv.Relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	relay()
	f.clk.Add(6*time.Hour + 30*time.Minute) // 23:30, an hour and a half after the end
	f.answer(f.w1.ID, v.ID, fsync.KindMessage, `{"text":"您的钥匙落在门口鞋柜上了"}`)
	relay()
	if ms := f.sent(push.KindVisitMessage); len(ms) != 0 {
		t.Fatalf("%d visit_message notices at 23:30 after the visit", len(ms))
	}
	f.clk.Add(9 * time.Hour) // 08:30
	f.told(push.KindVisitMessage, "11月24日 20:00")
}
