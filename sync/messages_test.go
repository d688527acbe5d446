package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// msgClock is a clock a test moves.
type msgClock struct{ t atomic.Int64 }

func (c *msgClock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *msgClock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *msgClock) add(d time.Duration) { c.t.Add(int64(d)) }

func messageOp(v *schemas.Visit, seq int64, at time.Time, text string) fsync.Op {
	return fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: fsync.KindMessage, VisitID: v.ID, At: at, Payload: json.RawMessage(fmt.Sprintf(`{"text":%q}`, text))}
}

// TestMessagesFromThePhone: the assignee's message joins the thread while
// it is open; one written offline while open counts when it arrives after
// the close, one dated after the close is rejected thread_closed, one
// dated in the future past the close is judged at its receipt; an
// earlier assignee's message is not_yours; on a cancelled visit every
// message is thread_closed.
func TestMessagesFromThePhone(t *testing.T) {
	clk := &msgClock{}
	clk.set(now0)
	db, v, a := setupAt(t, clk.now)
	e := fsync.New(db, clk.now, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
	push := func(a *schemas.Actor, ops ...fsync.Op) []fsync.Result {
		t.Helper()
		return pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: fsync.SchemaVersion, DeviceClock: clk.now(), Ops: ops}).Results
	}
	closes := v.ScheduledEnd.Add(24 * time.Hour)
	r := push(a, messageOp(v, 1, now0, "马上到"))
	if r[0].Status != fsync.StatusApplied {
		t.Fatalf("open thread: %+v", r[0])
	}
	// A phone clock far ahead: its message is judged, and dated, at its
	// receipt, not at the time it claims past the close.
	clk.set(closes.Add(-time.Hour))
	if r = push(a, messageOp(v, 2, closes.Add(48*time.Hour), "时间错了")); r[0].Status == fsync.StatusRejected {
		t.Fatalf("dated in the future, received while open: %+v", r)
	}
	clk.set(closes.Add(3 * time.Hour)) // the phone comes back online after the close
	r = push(a, messageOp(v, 3, closes.Add(-time.Minute), "忘了说，钥匙放在门垫下"), messageOp(v, 4, closes.Add(time.Minute), "还在吗"))
	if r[0].Status != fsync.StatusApplied || r[1].Status != fsync.StatusRejected || r[1].Code != fsync.RejectThreadClosed {
		t.Fatalf("offline while open, then after the close: %+v", r)
	}
	// Reassigned: the earlier assignee's phone may no longer write.
	got, err := db.Visits.Get(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Field.Messages) != 3 || got.Field.Messages[2].Text != "忘了说，钥匙放在门垫下" || got.Field.Messages[0].From != schemas.MessageFromWorker ||
		!got.Field.Messages[1].At.Equal(closes.Add(-time.Hour)) {
		t.Fatalf("thread: %+v", got.Field.Messages)
	}
	got.PastWorkerIDs, got.WorkerID = []string{v.WorkerID}, schemas.NewID()
	mustReplace(t, db, got)
	if r = push(a, messageOp(v, 5, clk.now(), "还是我")); r[0].Code != fsync.RejectNotYours {
		t.Fatalf("earlier assignee: %+v", r)
	}
	// Cancelled: closed for the new assignee too.
	got, _ = db.Visits.Get(context.Background(), v.ID)
	got.OfficeStatus, got.Status, got.CancelReason = schemas.VisitCancelled, schemas.VisitCancelled, "客户出差"
	mustReplace(t, db, got)
	b := *a
	b.WorkerID, b.UserID, b.DeviceID = got.WorkerID, schemas.NewID(), "phone-2"
	if r = push(&b, messageOp(v, 1, clk.now(), "您好")); r[0].Code != fsync.RejectThreadClosed {
		t.Fatalf("cancelled: %+v", r)
	}
}

func mustReplace(t *testing.T, db *store.Store, v *schemas.Visit) {
	t.Helper()
	v.Version++
	if err := db.Visits.Replace(context.Background(), v, v.Version-1); err != nil {
		t.Fatal(err)
	}
}

// TestMessagesFromTheHousehold: the household's message is folded into
// the same thread as the phone's, masked; sending it again (through
// another instance too, and after the close) changes nothing; another
// household's visit is not found, a worker may not use the route, bad
// bodies are invalid, and a new message after the close is a conflict
// coded thread_closed. The visit's text cap bounds the thread.
func TestMessagesFromTheHousehold(t *testing.T) {
	clk := &msgClock{}
	clk.set(now0)
	db, v, a := setupAt(t, clk.now)
	e := fsync.New(db, clk.now, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
	ctx := context.Background()
	cu := &schemas.Actor{UserID: schemas.NewID(), Role: schemas.RoleCustomer, CustomerID: v.CustomerID, DeviceID: "app"}
	wm := messageOp(v, 1, now0.Add(-time.Minute), "到了，在门口")
	pushOK(t, e, a, &fsync.Batch{DeviceID: a.DeviceID, SchemaVersion: fsync.SchemaVersion, DeviceClock: now0, Ops: []fsync.Op{wm}})
	id := schemas.NewID()
	in := fsync.CustomerMessage{MessageID: id, Text: "请打 139-0000-1234，我下楼"}
	th, err := e.MessageFromCustomer(ctx, cu, v.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"worker:到了，在门口", "customer:请打 ***-****-****，我下楼"}
	thread := func(th *schemas.MessageThread) string {
		var out []string
		for _, m := range th.Messages {
			out = append(out, m.From+":"+m.Text)
		}
		return strings.Join(out, " | ")
	}
	if got := thread(th); got != strings.Join(want, " | ") || !th.Open || th.VisitID != v.ID {
		t.Fatalf("thread %q open %v", got, th.Open)
	}
	other := fsync.New(storetest.Another(t, db), clk.now, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
	clk.set(v.ScheduledEnd.Add(25 * time.Hour))
	for _, eng := range []*fsync.Engine{e, other} {
		th, err = eng.MessageFromCustomer(ctx, cu, v.ID, in)
		if err != nil || thread(th) != strings.Join(want, " | ") || th.Open {
			t.Fatalf("sent again: %v %q open %v", err, thread(th), th.Open)
		}
	}
	got, _ := db.Visits.Get(ctx, v.ID)
	if got.Field.Ops != 2 {
		t.Fatalf("%d operations folded, want 2", got.Field.Ops)
	}
	_, err = e.MessageFromCustomer(ctx, cu, v.ID, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: "还有一件事"})
	if se, ok := err.(*schemas.Error); !ok || se.Code != schemas.ECONFLICT || se.Details["code"] != fsync.RejectThreadClosed || se.Details["closesAt"] == nil {
		t.Fatalf("after the close: %v", err)
	}
	clk.set(now0)
	bad := []struct {
		name string
		act  *schemas.Actor
		in   fsync.CustomerMessage
		code string
	}{
		{"another household", &schemas.Actor{UserID: schemas.NewID(), Role: schemas.RoleCustomer, CustomerID: schemas.NewID(), DeviceID: "app"}, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: "hi"}, schemas.ENOTFOUND},
		{"a worker", a, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: "hi"}, schemas.EFORBIDDEN},
		{"no messageId", cu, fsync.CustomerMessage{Text: "hi"}, schemas.EINVALID},
		{"no text", cu, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: " "}, schemas.EINVALID},
		{"too long", cu, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: strings.Repeat("长", 1001)}, schemas.EINVALID},
		// The household sees the worker's message's id in the thread: reusing
		// it would put two facts under one operation id.
		{"the worker's message's id", cu, fsync.CustomerMessage{MessageID: wm.OpID, Text: "hi"}, schemas.EINVALID},
	}
	for _, c := range bad {
		if _, err := e.MessageFromCustomer(ctx, c.act, v.ID, c.in); schemas.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := e.Thread(ctx, bad[0].act, v.ID); schemas.ErrorCode(err) != schemas.ENOTFOUND {
		t.Errorf("another household reads the thread: %v", err)
	}

	// The visit's cap on text bounds the thread, from either side.
	db2, v2, a2 := setupAt(t, clk.now)
	small := fsync.DefaultLimits
	small.MaxVisitBytes = 3000 * 2
	e2 := fsync.New(db2, clk.now, slog.New(slog.DiscardHandler), fsync.DefaultRules, small, nil)
	long := strings.Repeat("满", 1000) // 3000 bytes
	r := pushOK(t, e2, a2, &fsync.Batch{DeviceID: a2.DeviceID, SchemaVersion: fsync.SchemaVersion, DeviceClock: now0,
		Ops: []fsync.Op{messageOp(v2, 1, now0, long), messageOp(v2, 2, now0, long), messageOp(v2, 3, now0, long)}}).Results
	if r[1].Status != fsync.StatusApplied || r[2].Code != fsync.RejectVisitFull {
		t.Fatalf("phone past the cap: %+v", r)
	}
	cu2 := &schemas.Actor{UserID: schemas.NewID(), Role: schemas.RoleCustomer, CustomerID: v2.CustomerID, DeviceID: "app"}
	_, err = e2.MessageFromCustomer(ctx, cu2, v2.ID, fsync.CustomerMessage{MessageID: schemas.NewID(), Text: "好"})
	if se, ok := err.(*schemas.Error); !ok || se.Code != schemas.ECONFLICT || se.Details["code"] != fsync.RejectVisitFull {
		t.Fatalf("household past the cap: %v", err)
	}
}
