package api_test

import (
	"fmt"
	"testing"
	"time"

	"fieldsync/server/auth"
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
