package api_test

import (
	"bytes"
	"fmt"
	"maps"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/auth"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// Issue 14, "The protocol": a reinstall, a hole and a newer app never lose
// or stall a worker's operations.

// notes are n note operations on the world's first visit, a minute apart.
func (w *world) notes(from, n int) []opSpec {
	var out []opSpec
	for i := from; i < from+n; i++ {
		out = append(out, opSpec{fsync.KindNote, w.v1.ID, w.v1.ScheduledStart.Add(time.Duration(i) * time.Minute), map[string]any{"text": fmt.Sprint("note ", i)}})
	}
	return out
}

func (p *phone) deviceState() fsync.DeviceState {
	var st fsync.DeviceState
	p.w.f.do("GET", "/v1/sync/device", nil, p.token).want(200).decode(&st)
	return st
}

func TestSignInAnswersNextSeq(t *testing.T) {
	w := newSyncWorld(t)
	if got := w.f.login("wk.one", "phone-1").NextSeq; got != 1 {
		t.Fatalf("a device never seen: nextSeq %d, want 1", got)
	}
	p := w.phone("wk.one", "phone-1")
	p.mustPush(p.ops(w.notes(1, 3)...))

	pair := w.f.login("wk.one", "phone-1") // the reinstalled app signs in again
	if pair.NextSeq != 4 {
		t.Fatalf("login: nextSeq %d, want 4", pair.NextSeq)
	}
	var next auth.TokenPair
	w.f.do("POST", "/v1/auth/refresh", map[string]any{"refreshToken": pair.RefreshToken, "deviceId": "phone-1"}, "").want(200).decode(&next)
	if next.NextSeq != 4 {
		t.Fatalf("refresh: nextSeq %d, want 4", next.NextSeq)
	}
	if got := w.f.login("wk.one", "phone-2").NextSeq; got != 1 {
		t.Fatalf("another device: nextSeq %d, want 1", got)
	}
	p.token = next.AccessToken
	st := p.deviceState()
	want := fsync.DeviceState{DeviceID: "phone-1", NextSeq: 4, LastSeq: 3, SchemaVersion: fsync.SchemaVersion, MinSchemaVersion: fsync.MinSchemaVersion}
	if st != want {
		t.Fatalf("device state %+v, want %+v", st, want)
	}
	// A pending gap is shown to the phone too.
	gapped := p.ops(w.notes(4, 2)...)
	p.mustPush(gapped[1:])
	if st := p.deviceState(); st.PendingGap == nil || st.PendingGap.Expected != 4 || st.PendingGap.Got != 5 || st.NextSeq != 4 {
		t.Fatalf("device state after a gap %+v", st)
	}
	// Only a worker's phone has a sync state.
	w.f.do("GET", "/v1/sync/device", nil, w.s1).want(403)
}

// renumber gives ops new consecutive seqs from next, keeping their opIds,
// as the protocol tells a phone answered seq_taken.
func renumber(ops []map[string]any, next int64) []map[string]any {
	out := make([]map[string]any, len(ops))
	for i, o := range ops {
		c := maps.Clone(o)
		c["seq"] = next + int64(i)
		out[i] = c
	}
	return out
}

func TestReinstallRenumbersAndLosesNothing(t *testing.T) {
	w := newSyncWorld(t)
	old := w.phone("wk.one", "phone-1")
	old.mustPush(old.ops(w.notes(1, 3)...))

	// Reinstalled with the same deviceId, the app signs in: the answer says
	// where the device stands. This app ignores it and starts at seq 1.
	pair := w.f.login("wk.one", "phone-1")
	if pair.NextSeq != 4 {
		t.Fatalf("sign-in after the reinstall: nextSeq %d, want 4", pair.NextSeq)
	}
	p := &phone{w: w, token: pair.AccessToken, device: "phone-1"}
	ops := p.ops(w.notes(10, 3)...)
	resp := p.mustPush(ops)
	if got := statuses(resp); got != "skipped:seq_taken,skipped:after_gap,skipped:after_gap" || resp.NextSeq != 4 {
		t.Fatalf("reinstalled phone from seq 1: %s, next %d", got, resp.NextSeq)
	}
	if n := len(w.visit(w.v1.ID).Field.Notes); n != 3 {
		t.Fatalf("%d notes after seq_taken, want 3 (nothing recorded)", n)
	}
	// It renumbers from nextSeq and sends again: each applied once.
	again := renumber(ops, resp.NextSeq)
	if got := statuses(p.mustPush(again)); got != "applied,applied,applied" {
		t.Fatalf("renumbered: %s", got)
	}
	if got := statuses(p.mustPush(again)); got != "duplicate:applied,duplicate:applied,duplicate:applied" {
		t.Fatalf("renumbered, sent again: %s", got)
	}
	if n := len(w.visit(w.v1.ID).Field.Notes); n != 6 {
		t.Fatalf("%d notes, want 6", n)
	}
}

func TestRenumberedOpAppliedBeforeIsDuplicate(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	ops := p.ops(w.notes(1, 2)...)
	p.mustPush(ops) // applied; the phone never heard back

	// At the next sign-in the phone learns nextSeq 3 and numbers its
	// queue (the same two operations, as far as it knows unsent) from it.
	pair := w.f.login("wk.one", "phone-1")
	p.token = pair.AccessToken
	moved := renumber(ops, pair.NextSeq)
	resp := p.mustPush(moved)
	if got := statuses(resp); got != "duplicate:applied,duplicate:applied" || resp.NextSeq != 5 {
		t.Fatalf("renumbered after being applied: %s, next %d", got, resp.NextSeq)
	}
	if n := len(w.visit(w.v1.ID).Field.Notes); n != 2 {
		t.Fatalf("%d notes, want 2 (applied once)", n)
	}
	// Their new seqs are taken: the phone's next operation follows them,
	// and they answer the same when sent again.
	p.seq = 4
	if got := statuses(p.mustPush(p.ops(w.notes(3, 1)...))); got != "applied" {
		t.Fatalf("after the renumbered ones: %s", got)
	}
	if got := statuses(p.mustPush(moved)); got != "duplicate:applied,duplicate:applied" {
		t.Fatalf("renumbered, sent again: %s", got)
	}
	// Under a seq below lastSeq that another operation holds, an operation
	// recorded before is a duplicate too, not seq_taken.
	swapped := renumber(ops[:1], 2)
	if got := statuses(p.mustPush(swapped)); got != "duplicate:applied" {
		t.Fatalf("applied operation under a taken seq: %s", got)
	}
	// Within one batch as well.
	p.seq = 5
	twice := p.ops(w.notes(4, 1)...)
	twice = append(twice, renumber(twice, 7)...)
	if got := statuses(p.mustPush(twice)); got != "applied,duplicate:applied" {
		t.Fatalf("one operation twice in a batch: %s", got)
	}
	if n := len(w.visit(w.v1.ID).Field.Notes); n != 4 {
		t.Fatalf("%d notes, want 4", n)
	}
}

func TestRetireFillsAHole(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	ops := p.ops(w.notes(1, 5)...)
	// The worker discarded the draft at seq 3: a hole.
	kept := []map[string]any{ops[0], ops[1], ops[3], ops[4]}
	if got := statuses(p.mustPush(kept)); got != "applied,applied,skipped:gap,skipped:after_gap" {
		t.Fatalf("with a hole: %s", got)
	}
	if got := statuses(p.mustPush(kept[2:])); got != "skipped:gap,skipped:after_gap" {
		t.Fatalf("the hole stalls the queue: %s", got)
	}
	// The phone puts a retire at the hole's seq (a new opId): the queue moves.
	retire := map[string]any{"seq": 3, "opId": w.f.newID(), "kind": fsync.KindRetire, "at": w.f.clock.Now(), "payload": map[string]any{}}
	resp := p.mustPush(append([]map[string]any{retire}, kept[2:]...))
	if got := statuses(resp); got != "applied,applied,applied" || resp.NextSeq != 6 || resp.Gap != nil {
		t.Fatalf("retired: %s, next %d, gap %+v", got, resp.NextSeq, resp.Gap)
	}
	if v := w.visit(w.v1.ID); len(v.Field.Notes) != 4 || v.Field.Ops != 4 {
		t.Fatalf("notes %d, ops %d: want 4, 4 (a retire changes nothing)", len(v.Field.Notes), v.Field.Ops)
	}
	if st := p.deviceState(); st.PendingGap != nil || st.NextSeq != 6 {
		t.Fatalf("device state %+v", st)
	}
	// A retire is an operation like any other: sent again, a duplicate;
	// at a seq another operation holds, seq_taken.
	if got := statuses(p.mustPush([]map[string]any{retire})); got != "duplicate:applied" {
		t.Fatalf("retire again: %s", got)
	}
	late := maps.Clone(retire)
	late["opId"] = w.f.newID()
	late["seq"] = 2
	if got := statuses(p.mustPush([]map[string]any{late})); got != "skipped:seq_taken" {
		t.Fatalf("retire of a recorded seq: %s", got)
	}
	// It names no visit and carries nothing; no payload at all is fine.
	bad := func(seq int, k string, v any) map[string]any {
		o := map[string]any{"seq": seq, "opId": w.f.newID(), "kind": fsync.KindRetire, "at": w.f.clock.Now()}
		o[k] = v
		return o
	}
	got := statuses(p.mustPush([]map[string]any{bad(6, "visitId", w.v1.ID), bad(7, "payload", map[string]any{"text": "x"}), bad(8, "payload", nil)}))
	if got != "rejected:invalid,rejected:invalid,applied" {
		t.Fatalf("retires with a visit, a payload, none: %s", got)
	}
}

func TestUnknownKindIsRejectedAndLaterOpsApply(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	ops := p.ops(w.notes(1, 3)...)
	ops[1]["kind"] = "voiceNote" // a newer app's kind
	resp := p.mustPush(ops)
	if got := statuses(resp); got != "applied,rejected:unknown_kind,applied" || resp.NextSeq != 4 {
		t.Fatalf("unknown kind: %s, next %d", got, resp.NextSeq)
	}
	if got := statuses(p.mustPush(ops[1:2])); got != "duplicate:unknown_kind" {
		t.Fatalf("unknown kind again: %s", got)
	}
}

// TestEvolutionNewPayloadField: a newer app adds a payload field; this
// server applies its operations, ignores the field and keeps it.
func TestEvolutionNewPayloadField(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	at := w.v1.ScheduledStart
	ops := p.ops(
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "扫地", "mood": "happy", "tags": []any{map[string]any{"k": "x"}}}},
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "x", "Text": "y"}},                                                             // a known field in another case
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "x", "a.b": 1}},                                                                // a dotted key
		opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "x", "m": map[string]any{"a.b": 1}}},                                           // deeper
		opSpec{fsync.KindCheckIn, w.v1.ID, at, map[string]any{"location": map[string]any{"lat": 31.21, "lng": 121.46, "accuracyM": 8, "alt": 3}}}, // known objects stay strict
	)
	if got := statuses(p.mustPush(ops)); got != "applied,rejected:invalid,rejected:invalid,rejected:invalid,rejected:invalid" {
		t.Fatalf("payloads with unknown fields: %s", got)
	}
	// The evolution: a server upgraded later reads the field the older one
	// kept in the stored record, where it is sealed.
	var me schemas.User
	w.f.do("GET", "/v1/me", nil, p.token).want(200).decode(&me)
	rec, err := w.f.db.SyncLog.Op(t.Context(), store.SyncDeviceID(me.ID, "phone-1")+"/1")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %s", rec.Payload.Extra["mood"], rec.Payload.Extra["tags"]); got != `"happy" [{"k":"x"}]` || rec.Payload.Text != "扫地" {
		t.Fatalf("record keeps %s, text %q", got, rec.Payload.Text)
	}
	err = w.f.db.Each(t.Context(), func(coll string, d bson.Raw) error {
		if bytes.Contains(d, []byte("happy")) {
			t.Errorf("%s holds an unknown payload field in clear", coll)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Operator keys in a payload are refused as before: the whole push.
	bad := p.ops(opSpec{fsync.KindNote, w.v1.ID, at, map[string]any{"text": "x", "$set": 1}})
	_, r := p.push(bad)
	r.wantError(400, schemas.EINVALID)
}

func TestV1PhoneStillSyncs(t *testing.T) {
	w := newSyncWorld(t)
	p := w.phone("wk.one", "phone-1")
	for _, version := range []int{fsync.MinSchemaVersion, fsync.SchemaVersion} {
		body := map[string]any{"deviceId": p.device, "schemaVersion": version, "deviceClock": w.f.clock.Now(), "ops": p.ops(w.notes(version, 1)...)}
		var resp fsync.PushResponse
		w.f.do("POST", "/v1/sync/push", body, p.token).want(200).decode(&resp)
		if got := statuses(&resp); got != "applied" {
			t.Fatalf("schemaVersion %d: %s", version, got)
		}
	}
	if fsync.MinSchemaVersion != 1 || fsync.SchemaVersion != 4 {
		t.Fatalf("versions %d-%d, want 1-4", fsync.MinSchemaVersion, fsync.SchemaVersion)
	}
	newer := map[string]any{"deviceId": p.device, "schemaVersion": fsync.SchemaVersion + 1, "deviceClock": w.f.clock.Now(), "ops": []any{}}
	w.f.do("POST", "/v1/sync/push", newer, p.token).wantError(400, schemas.EINVALID)
}
