package sync_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

func absentOp(v *schemas.Visit, seq int64, at time.Time, waited int) fsync.Op {
	return fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: fsync.KindCustomerAbsent, VisitID: v.ID, At: at,
		Payload: json.RawMessage(fmt.Sprintf(`{"location":{"lat":31.2,"lng":121.45,"accuracyM":9},"waitedMinutes":%d,"photos":["%064x"],"calledCustomer":true}`, waited, 3))}
}

// TestCustomerAbsentAlertsOnce: the worker's record at the door is stored
// (its position read back from the sealed field) and raises one high
// customer_not_home alert pointing at the visit, told once; neither a
// retried batch nor a second record raises another.
func TestCustomerAbsentAlertsOnce(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	n := &notified{}
	e.SetNotifier(n)
	first := answerBatch(absentOp(v, 1, v.ScheduledStart.Add(10*time.Minute), 15))
	for range 2 {
		if r := pushOK(t, e, a, first).Results[0]; r.Status != fsync.StatusApplied && r.Status != fsync.StatusDuplicate {
			t.Fatalf("customerAbsent: %+v", r)
		}
	}
	if r := pushOK(t, e, a, answerBatch(absentOp(v, 2, v.ScheduledStart.Add(25*time.Minute), 30))).Results[0]; r.Rule != fsync.RuleSecondAbsence {
		t.Fatalf("second record: %+v", r)
	}
	_, got := fieldJSON(t, db, v.ID)
	ca := got.Field.CustomerAbsent
	if ca == nil || ca.WaitedMinutes != 15 || !ca.CalledCustomer || ca.Location == nil || ca.Location.Lat != 31.2 || ca.WorkerID != v.WorkerID {
		t.Fatalf("stored record %+v", ca)
	}
	if got.Status != schemas.VisitScheduled {
		t.Fatalf("status %s after a record at the door", got.Status)
	}
	alerts := visitAlerts(t, db, v.ID, fsync.AlertCustomerNotHome)
	if len(alerts) != 1 || len(n.ids) != 1 {
		t.Fatalf("%d customer_not_home alerts, notified %d times; want 1 and 1", len(alerts), len(n.ids))
	}
	if al := alerts[0]; al.Priority != "high" || al.Team != v.Team || !strings.Contains(al.Detail, "/v1/visits/"+v.ID+"/no-show") || !slices.Contains(al.Causes, fsync.AlertID(v.ID, fsync.AlertCustomerNotHome, "")) {
		t.Fatalf("alert %+v", al)
	}
	raw, err := db.Visits.Raw(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "121.45") {
		t.Fatalf("the position at the door is stored in clear: %s", b)
	}
}

// TestCustomerAbsentAfterCheckIn: once the visit is checked in, a record
// at the door is kept and flagged for review, and alerts nobody that the
// customer is not at home.
func TestCustomerAbsentAfterCheckIn(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	in := answerOp(v, 1, fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`)
	in.At = v.ScheduledStart
	resp := pushOK(t, e, a, answerBatch(in, absentOp(v, 2, v.ScheduledStart.Add(30*time.Minute), 20)))
	if r := resp.Results[1]; r.Status != fsync.StatusConflict || r.Rule != fsync.RuleAbsentAfterCheckIn {
		t.Fatalf("customerAbsent after check-in: %+v", r)
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Field.CustomerAbsent == nil || !got.Field.CustomerAbsent.AfterCheckIn || !got.NeedsReview {
		t.Fatalf("record %+v, needs review %v", got.Field.CustomerAbsent, got.NeedsReview)
	}
	if n := len(visitAlerts(t, db, v.ID, fsync.AlertCustomerNotHome)); n != 0 {
		t.Fatalf("%d customer_not_home alerts after a check-in", n)
	}
	if n := len(visitAlerts(t, db, v.ID, fsync.RuleAbsentAfterCheckIn)); n != 1 {
		t.Fatalf("%d absent_after_checkin alerts, want 1", n)
	}
}
