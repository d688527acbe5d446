package sync

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestMessageFold: the thread holds the phone's and the household's
// messages in the fold's order whatever order they arrived in, each with
// its side, its time and its text masked; the photos stay.
func TestMessageFold(t *testing.T) {
	v := testVisit()
	photo := strings.Repeat("ab", 32)
	w1 := rec("d1", KindMessage, t0.Add(-30*time.Minute), Payload{Text: "我大概九点到，电话 138 1234 5678", Photos: []string{photo}})
	c1 := rec("customer:app", KindMessage, t0.Add(-20*time.Minute), Payload{Text: "好的，门口密码 0000"})
	c1.Source = SourceCustomerApp
	w2 := rec("d1", KindMessage, t0.Add(-10*time.Minute), Payload{Text: "到楼下了"})
	note := rec("d1", KindNote, t0.Add(-15*time.Minute), Payload{Text: "not a message"})
	want := []schemas.VisitMessage{
		{ID: w1.OpID, From: schemas.MessageFromWorker, At: w1.EffAt, Text: "我大概九点到，电话 *** **** ****", Photos: []string{photo}},
		{ID: c1.OpID, From: schemas.MessageFromCustomer, At: c1.EffAt, Text: "好的，门口密码 0000"},
		{ID: w2.OpID, From: schemas.MessageFromWorker, At: w2.EffAt, Text: "到楼下了"},
	}
	recs := []*Record{w2, note, c1, w1}
	for i := range 20 {
		rand.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		fs, out := Fold(v, recs, DefaultRules)
		if !reflect.DeepEqual(fs.Messages, want) {
			t.Fatalf("try %d: thread %+v, want %+v", i, fs.Messages, want)
		}
		if o := out[w1.OpID]; o.Status != StatusApplied || len(fs.Notes) != 1 || fs.Ops != 4 {
			t.Fatalf("try %d: outcome %+v, notes %d, ops %d", i, o, len(fs.Notes), fs.Ops)
		}
		if fs.FactStatus != schemas.VisitScheduled {
			t.Fatalf("a message is no progress: %s", fs.FactStatus)
		}
	}
	// Folding on from a checkpoint gives the same thread as from scratch.
	f := newFolder(v, DefaultRules, nil)
	f.add(w1)
	f.add(c1)
	cp := f.checkpoint()
	v2 := *v
	v2.Field = f.finish()
	g := newFolder(&v2, DefaultRules, &cp)
	g.add(w2)
	if got := g.finish().Messages; !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed: %+v", got)
	}
	if len(v2.Field.Messages) != 2 {
		t.Fatalf("resuming changed the folded state it started from: %d messages", len(v2.Field.Messages))
	}
}

func TestMaskNumbers(t *testing.T) {
	cases := []struct{ in, want string }{
		{"打我电话13812345678", "打我电话***********"},
		{"call +86 138-1234-5678 please", "call +** ***-****-**** please"},
		{"座机 021-62345678", "座机 ***-********"},
		{"１３８１２３４５６７８", "***********"}, // full-width digits
		{"1 3 8 1 2 3 4", "* * * * * * *"},
		{"房号 1203，密码 123456", "房号 1203，密码 123456"},
		{"2037-11-27 见", "2037-11-27 见"},
		{"收费 150 元，9:30 到", "收费 150 元，9:30 到"},
		{"", ""},
	}
	for _, c := range cases {
		if got := MaskNumbers(c.in); got != c.want {
			t.Errorf("MaskNumbers(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestThreadWindow: open from a day before the start to a day after the
// later of the end and the (corrected) check-out; closed on a cancelled
// or no-show visit.
func TestThreadWindow(t *testing.T) {
	end := t0.Add(3 * time.Hour)
	cases := []struct {
		name   string
		visit  func(*schemas.Visit)
		at     time.Time
		closed bool
	}{
		{"just before it opens", nil, t0.Add(-24*time.Hour - time.Second), true},
		{"as it opens", nil, t0.Add(-24 * time.Hour), false},
		{"during the visit", nil, t0.Add(time.Hour), false},
		{"a day after the end", nil, end.Add(24 * time.Hour), false},
		{"after that", nil, end.Add(24*time.Hour + time.Second), true},
		{"a late check-out keeps it open", func(v *schemas.Visit) { v.Field.CheckOut = &schemas.Attendance{At: end.Add(2 * time.Hour)} }, end.Add(25 * time.Hour), false},
		{"an early check-out does not close it sooner", func(v *schemas.Visit) { v.Field.CheckOut = &schemas.Attendance{At: t0.Add(time.Hour)} }, end.Add(23 * time.Hour), false},
		{"a corrected check-out counts", func(v *schemas.Visit) {
			v.Field.CheckOut = &schemas.Attendance{At: end.Add(2 * time.Hour)}
			v.Corrections = []schemas.Correction{{N: 1, Field: "checkOut", At: end}}
		}, end.Add(25 * time.Hour), true},
		{"cancelled", func(v *schemas.Visit) { v.OfficeStatus = schemas.VisitCancelled }, t0, true},
		{"no-show", func(v *schemas.Visit) { v.OfficeStatus = schemas.VisitNoShow }, t0, true},
	}
	for _, c := range cases {
		v := testVisit()
		if c.visit != nil {
			c.visit(v)
		}
		err := DefaultRules.threadClosed(v, c.at)
		if (err != nil) != c.closed {
			t.Errorf("%s: closed %v, want %v (%v)", c.name, err != nil, c.closed, err)
		}
		if err != nil && (err.Code != RejectThreadClosed || err.Details["opensAt"] == nil) {
			t.Errorf("%s: %+v", c.name, err)
		}
	}
}

func TestMessagePayload(t *testing.T) {
	photos := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("0", 63) + string(rune('a'+i))
		}
		return out
	}
	js := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	cases := []struct {
		name    string
		payload json.RawMessage
		ok      bool
	}{
		{"text", js(map[string]any{"text": "到了"}), true},
		{"three photos", js(map[string]any{"text": "看这里", "photos": photos(3)}), true},
		{"1000 characters", js(map[string]any{"text": strings.Repeat("字", 1000)}), true},
		{"no text", js(map[string]any{"photos": photos(1)}), false},
		{"blank text", js(map[string]any{"text": "  \n"}), false},
		{"1001 characters", js(map[string]any{"text": strings.Repeat("字", 1001)}), false},
		{"four photos", js(map[string]any{"text": "看这里", "photos": photos(4)}), false},
		{"text a number", json.RawMessage(`{"text":5}`), false},
		{"photos a string", json.RawMessage(`{"text":"x","photos":"abc"}`), false},
		{"an operator key", json.RawMessage(`{"text":"x","$set":{"a":1}}`), false},
	}
	for _, c := range cases {
		_, err := decodePayload(&Op{Kind: KindMessage, Payload: c.payload})
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok %v", c.name, err, c.ok)
		}
		if err != nil && schemas.ErrorCode(err) != RejectInvalid {
			t.Errorf("%s: code %s", c.name, schemas.ErrorCode(err))
		}
	}
}

// TestCustomerMessageAcrossReassign: the household's message carries the
// assignee read when it was sent; the office reassigning the visit before
// it is decided must not reject it as "no longer assigned to you" (the
// household writes to whoever is assigned). That rejection is recorded:
// every resend of the message would meet it, the message lost for good.
func TestCustomerMessageAcrossReassign(t *testing.T) {
	v := testVisit()
	v.WorkerID, v.PastWorkerIDs = "w2", []string{"w1"}
	c := rec("customer:app", KindMessage, t0, Payload{Text: "门没锁"})
	c.Source, c.ReceivedAt = SourceCustomerApp, t0
	w := rec("d1", KindMessage, t0, Payload{Text: "到了"})
	w.ReceivedAt = t0
	e := &Engine{rules: DefaultRules}
	live := e.check(v, []*Record{c, w})
	if c.Status == StatusRejected || len(live) != 1 || live[0] != c {
		t.Fatalf("household's message: %s %s %q", c.Status, c.Code, c.Message)
	}
	if w.Code != RejectNotYours {
		t.Fatalf("the previous assignee's message: %s %s", w.Status, w.Code)
	}
}
