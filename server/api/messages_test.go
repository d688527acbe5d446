package api_test

import (
	"strings"
	"testing"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// TestMessageBadInput: through the API, a household may not write to or
// read another household's thread, a worker may not use the household's
// route, and bad bodies and payloads (operator keys, oversize text, wrong
// types, too many photos) are refused with their codes; nothing of them
// reaches the thread.
func TestMessageBadInput(t *testing.T) {
	w := newWorld(t)
	f := w.f
	path := "/v1/visits/" + w.v1.ID + "/messages"
	text := func(n int) string { return strings.Repeat("字", n) }
	cases := []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"another household's visit", "/v1/visits/" + w.v2.ID + "/messages", w.cu1, map[string]any{"messageId": f.newID(), "text": "hi"}, 404, schemas.ENOTFOUND},
		{"a worker on the household's route", path, w.wk1, map[string]any{"messageId": f.newID(), "text": "hi"}, 403, schemas.EFORBIDDEN},
		{"the office on the household's route", path, w.s1, map[string]any{"messageId": f.newID(), "text": "hi"}, 403, schemas.EFORBIDDEN},
		{"an operator key", path, w.cu1, map[string]any{"messageId": f.newID(), "text": "hi", "$set": map[string]any{"field": 1}}, 400, schemas.EINVALID},
		{"an unknown field", path, w.cu1, map[string]any{"messageId": f.newID(), "text": "hi", "photos": []string{}}, 400, schemas.EINVALID},
		{"oversize text", path, w.cu1, map[string]any{"messageId": f.newID(), "text": text(1001)}, 400, schemas.EINVALID},
		{"blank text", path, w.cu1, map[string]any{"messageId": f.newID(), "text": "   "}, 400, schemas.EINVALID},
		{"text a number", path, w.cu1, map[string]any{"messageId": f.newID(), "text": 5}, 400, schemas.EINVALID},
		{"messageId a number", path, w.cu1, map[string]any{"messageId": 7, "text": "hi"}, 400, schemas.EINVALID},
		{"no messageId", path, w.cu1, map[string]any{"text": "hi"}, 400, schemas.EINVALID},
		{"messageId not a UUID", path, w.cu1, map[string]any{"messageId": "msg-1", "text": "hi"}, 400, schemas.EINVALID},
		{"not a visit id", "/v1/visits/nope/messages", w.cu1, map[string]any{"messageId": f.newID(), "text": "hi"}, 404, schemas.ENOTFOUND},
	}
	for _, c := range cases {
		t.Log(c.name)
		f.do("POST", c.path, c.body, c.token).wantError(c.status, c.code)
	}
	f.do("GET", "/v1/visits/"+w.v2.ID+"/messages", nil, w.cu1).wantError(404, schemas.ENOTFOUND)
	f.do("GET", path, nil, w.wk1).wantError(403, schemas.EFORBIDDEN)

	// An operator key refuses the phone's whole batch; then its bad
	// messages are rejected one by one, and the good one applies.
	p := w.phone("wk.one", "phone-a")
	now := f.clock.Now()
	ops := p.ops(opSpec{kind: fsync.KindMessage, visit: w.v1.ID, at: now, payload: map[string]any{"text": "x", "$where": "1"}})
	f.do("POST", "/v1/sync/push", map[string]any{"deviceId": "phone-a", "schemaVersion": fsync.SchemaVersion, "deviceClock": now, "ops": ops}, p.token).
		wantError(400, schemas.EINVALID)
	p.seq = 0
	photo := strings.Repeat("ab", 32)
	resp := p.mustPush(p.ops(
		opSpec{kind: fsync.KindMessage, visit: w.v1.ID, at: now, payload: map[string]any{"text": text(1001)}},
		opSpec{kind: fsync.KindMessage, visit: w.v1.ID, at: now, payload: map[string]any{"text": 5}},
		opSpec{kind: fsync.KindMessage, visit: w.v1.ID, at: now, payload: map[string]any{"text": "看", "photos": []string{photo, photo, photo, photo}}},
		opSpec{kind: fsync.KindMessage, visit: w.v2.ID, at: now, payload: map[string]any{"text": "不是我的"}},
		opSpec{kind: fsync.KindMessage, visit: w.v1.ID, at: now, payload: map[string]any{"text": "好的"}},
	))
	if got := statuses(resp); got != "rejected:invalid,rejected:invalid,rejected:invalid,rejected:not_yours,applied" {
		t.Fatalf("push: %s", got)
	}
	var th schemas.MessageThread
	f.do("GET", path, nil, w.cu1).want(200).decode(&th)
	if len(th.Messages) != 1 || th.Messages[0].Text != "好的" || th.Messages[0].From != schemas.MessageFromWorker {
		t.Fatalf("thread after bad input: %+v", th.Messages)
	}
}
