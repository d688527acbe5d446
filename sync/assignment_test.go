package sync_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

func answerOp(v *schemas.Visit, seq int64, kind, payload string) fsync.Op {
	return fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: kind, VisitID: v.ID,
		At: now0.Add(-time.Duration(10-seq) * time.Minute), Payload: json.RawMessage(payload)}
}

func answerBatch(ops ...fsync.Op) *fsync.Batch {
	return &fsync.Batch{DeviceID: "phone-1", SchemaVersion: fsync.SchemaVersion, DeviceClock: now0, Ops: ops}
}

// TestAcceptThenDecline: the assignee accepts, then declines with a
// reason; the latest answer stands, the decline raises one
// assignment_declined alert (not again on a retry), and the office-owned
// assignee is untouched.
func TestAcceptThenDecline(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	n := &notified{}
	e.SetNotifier(n)
	accept := answerBatch(answerOp(v, 1, fsync.KindAccept, `{}`))
	if r := pushOK(t, e, a, accept).Results[0]; r.Status != fsync.StatusApplied {
		t.Fatalf("accept: %+v", r)
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Answer() != schemas.AssignmentAccepted || got.Field.Assignment.WorkerID != v.WorkerID {
		t.Fatalf("after accept: answer %q, %+v", got.Answer(), got.Field.Assignment)
	}
	decline := answerBatch(answerOp(v, 2, fsync.KindDecline, `{"reason":"unwell","text":"fever"}`))
	for range 2 { // the second push is a retry: nothing again
		pushOK(t, e, a, decline)
	}
	_, got = fieldJSON(t, db, v.ID)
	if got.Answer() != schemas.AssignmentDeclined || got.Field.Assignment.Reason != "unwell" || got.Field.Assignment.Text != "fever" {
		t.Fatalf("after decline: answer %q, %+v", got.Answer(), got.Field.Assignment)
	}
	if got.WorkerID != v.WorkerID {
		t.Fatalf("the fold changed the assignee to %q", got.WorkerID)
	}
	alerts := visitAlerts(t, db, v.ID, fsync.AlertDeclined)
	if len(alerts) != 1 || len(n.ids) != 1 {
		t.Fatalf("%d assignment_declined alerts, notified %d times; want 1 and 1", len(alerts), len(n.ids))
	}
	if !strings.Contains(alerts[0].Detail, "unwell") || !strings.Contains(alerts[0].Detail, "/v1/visits/"+v.ID+"/candidates") {
		t.Fatalf("alert detail %q: want the reason and where the candidates are", alerts[0].Detail)
	}
}

// TestAnswerBadInput: each bad answer is rejected with its code and
// changes nothing; the good one after them still applies.
func TestAnswerBadInput(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	resp := pushOK(t, e, a, answerBatch(
		answerOp(v, 1, fsync.KindDecline, `{}`),
		answerOp(v, 2, fsync.KindDecline, `{"reason":"bored"}`),
		answerOp(v, 3, fsync.KindDecline, `{"text":"cannot come"}`),
		answerOp(v, 4, fsync.KindAccept, `{"reason":"unwell"}`),
		answerOp(v, 5, fsync.KindAccept, `{}`),
	))
	for i, want := range []string{fsync.RejectInvalid, fsync.RejectInvalid, fsync.RejectInvalid, fsync.RejectInvalid} {
		if r := resp.Results[i]; r.Status != fsync.StatusRejected || r.Code != want {
			t.Errorf("op %d: %s/%s, want rejected/%s", i+1, r.Status, r.Code, want)
		}
	}
	if r := resp.Results[4]; r.Status != fsync.StatusApplied {
		t.Fatalf("the good accept: %+v", r)
	}

	// Another worker's phone: not_yours, and the visit keeps its answer.
	other := *a
	other.UserID, other.WorkerID = schemas.NewID(), schemas.NewID()
	if r := pushOK(t, e, &other, answerBatch(answerOp(v, 1, fsync.KindDecline, `{"reason":"too_far"}`))).Results[0]; r.Status != fsync.StatusRejected || r.Code != fsync.RejectNotYours {
		t.Fatalf("another worker's decline: %s/%s, want rejected/not_yours", r.Status, r.Code)
	}
	if _, got := fieldJSON(t, db, v.ID); got.Answer() != schemas.AssignmentAccepted {
		t.Fatalf("answer %q after a stranger's decline", got.Answer())
	}
}

// TestAnswerOnCancelledVisit: an answer to a cancelled visit's assignment
// is rejected visit_cancelled.
func TestAnswerOnCancelledVisit(t *testing.T) {
	db, v, a := setup(t)
	ctx := context.Background()
	v.OfficeStatus, v.CancelReason = schemas.VisitCancelled, "customer moved"
	v.Refresh()
	if err := db.Visits.Replace(ctx, v, v.Version); err != nil {
		t.Fatal(err)
	}
	e := engine(db)
	r := pushOK(t, e, a, answerBatch(answerOp(v, 1, fsync.KindAccept, `{}`))).Results[0]
	if r.Status != fsync.StatusRejected || r.Code != fsync.RejectCancelled {
		t.Fatalf("accept on a cancelled visit: %s/%s, want rejected/visit_cancelled", r.Status, r.Code)
	}
	if _, got := fieldJSON(t, db, v.ID); got.Field.Assignment != nil {
		t.Fatalf("recorded %+v", got.Field.Assignment)
	}
}

// TestReassignResetsAnswer: the first assignee's acceptance does not count
// for the next one, and the earlier assignee can no longer answer.
func TestReassignResetsAnswer(t *testing.T) {
	db, v, a := setup(t)
	ctx := context.Background()
	e := engine(db)
	pushOK(t, e, a, answerBatch(answerOp(v, 1, fsync.KindAccept, `{}`)))
	_, got := fieldJSON(t, db, v.ID)
	got.ScheduledStart, got.ScheduledEnd = now0.Add(2*time.Hour), now0.Add(4*time.Hour) // not started: reassignable
	if err := got.Reassign(schemas.NewID(), ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Visits.Replace(ctx, got, got.Version); err != nil {
		t.Fatal(err)
	}
	_, got = fieldJSON(t, db, v.ID)
	if got.Answer() != "" {
		t.Fatalf("answer %q after a reassign, want none", got.Answer())
	}
	r := pushOK(t, e, a, answerBatch(answerOp(v, 2, fsync.KindAccept, `{}`))).Results[0]
	if r.Status != fsync.StatusRejected || r.Code != fsync.RejectNotYours {
		t.Fatalf("the earlier assignee's accept: %s/%s, want rejected/not_yours", r.Status, r.Code)
	}
	// The new assignee's answer stands.
	b := *a
	b.UserID, b.WorkerID = schemas.NewID(), got.WorkerID
	pushOK(t, e, &b, answerBatch(answerOp(v, 1, fsync.KindDecline, `{"reason":"schedule_conflict"}`)))
	if _, got = fieldJSON(t, db, v.ID); got.Answer() != schemas.AssignmentDeclined || got.Field.Assignment.WorkerID != b.WorkerID {
		t.Fatalf("new assignee's decline: %q %+v", got.Answer(), got.Field.Assignment)
	}
}

// TestReassignBackDropsEarlierAnswer: A accepts, the office gives the
// visit to B and back to A; A's acceptance was of the first assignment
// and does not stand, neither at once nor once the visit is folded again,
// nor when the fold would resume from a checkpoint taken under an earlier
// assignment. An answer an offline phone gave to the first assignment does
// not stand either; A's answer to the new assignment does, also from a
// phone a little slow (within MaxSkew) answering right after it.
func TestReassignBackDropsEarlierAnswer(t *testing.T) {
	now := now0
	clock := func() time.Time { return now }
	db, v, a := setupAt(t, clock)
	ctx := context.Background()
	e := fsync.New(db, clock, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
	b := schemas.NewID()
	seqs := map[string]int64{}
	// push sends one operation from device, whose clock is slow by slow.
	push := func(device string, slow time.Duration, kind, payload string, at time.Time) fsync.Result {
		t.Helper()
		seqs[device]++
		op := fsync.Op{Seq: seqs[device], OpID: schemas.NewID(), Kind: kind, VisitID: v.ID, At: at.Add(-slow), Payload: json.RawMessage(payload)}
		act := *a
		act.DeviceID = device
		r := pushOK(t, e, &act, &fsync.Batch{DeviceID: device, SchemaVersion: fsync.SchemaVersion, DeviceClock: now.Add(-slow), Ops: []fsync.Op{op}}).Results[0]
		if r.Status != fsync.StatusApplied {
			t.Fatalf("%s: %+v", kind, r)
		}
		return r
	}
	// reassign gives the visit to w at the clock's time, as the office does.
	reassign := func(w string) {
		t.Helper()
		_, got := fieldJSON(t, db, v.ID)
		if got.WorkerID != w {
			if err := got.Reassign(w, ""); err != nil {
				t.Fatal(err)
			}
		}
		got.AssignedAt = schemas.AssignedAt(now)
		if err := db.Visits.Replace(ctx, got, got.Version); err != nil {
			t.Fatal(err)
		}
	}
	answer := func() (string, *schemas.AssignmentAnswer) {
		_, got := fieldJSON(t, db, v.ID)
		return got.Answer(), got.Field.Assignment
	}
	reassign(a.WorkerID)
	offline := now.Add(time.Minute) // an answer the offline phone gives to the first assignment
	now = now.Add(2 * time.Minute)
	push("phone-1", 0, fsync.KindAccept, `{}`, now)
	if got, _ := answer(); got != schemas.AssignmentAccepted {
		t.Fatalf("answer %q after the accept", got)
	}
	// A -> B -> A, ten minutes apart.
	now = now.Add(10 * time.Minute)
	reassign(b)
	now = now.Add(10 * time.Minute)
	reassign(a.WorkerID)
	if got, _ := answer(); got != "" {
		t.Fatalf("answer %q at once after A, B, A: the first assignment's acceptance stands", got)
	}
	now = now.Add(time.Minute)
	push("phone-1", 0, fsync.KindNote, `{"text":"on my way soon"}`, now) // folds again
	if got, fa := answer(); got != "" || fa != nil {
		t.Fatalf("after a fold: answer %q, %+v; want none", got, fa)
	}
	push("phone-2", 0, fsync.KindDecline, `{"reason":"too_far"}`, offline)
	if got, fa := answer(); got != "" {
		t.Fatalf("an answer given to the first assignment stands: %q %+v", got, fa)
	}
	// A phone 90 s slow accepts a minute after the new assignment: its
	// time reads before the assignment, within MaxSkew.
	push("phone-3", 90*time.Second, fsync.KindAccept, `{}`, now)
	if got, fa := answer(); got != schemas.AssignmentAccepted {
		t.Fatalf("the new assignment's acceptance: %q %+v", got, fa)
	}
	// A -> B -> A again: only assignedAt tells the assignments apart, and
	// the fold must not resume from the checkpoint of the earlier one.
	now = now.Add(10 * time.Minute)
	reassign(b)
	now = now.Add(10 * time.Minute)
	reassign(a.WorkerID)
	now = now.Add(time.Minute)
	push("phone-3", 90*time.Second, fsync.KindNote, `{"text":"again"}`, now)
	if got, fa := answer(); got != "" || fa != nil {
		t.Fatalf("after the second A, B, A and a fold: answer %q, %+v; want none (as a fold from scratch gives)", got, fa)
	}
}
