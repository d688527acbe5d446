package sync

import (
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestScopeOnAChangedVisit: a change of scope is a fact of the door like
// a check-in: proposed by a previous assignee (reassigned while the phone
// was offline), on a visit since cancelled or marked a no-show, it is
// kept and flagged for review, as a check-in there is, never folded in
// silently (the household would be asked about it with no one told).
func TestScopeOnAChangedVisit(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(v *schemas.Visit)
		rule string
	}{
		{"reassigned", func(v *schemas.Visit) { v.WorkerID, v.PastWorkerIDs = "w2", []string{"w1"} }, RuleByPreviousAssignee},
		{"cancelled", func(v *schemas.Visit) { v.OfficeStatus, v.CancelReason = schemas.VisitCancelled, "moved away" }, RuleCheckInOnCancelled},
		{"no-show", func(v *schemas.Visit) { v.OfficeStatus = schemas.VisitNoShow }, RuleAfterNoShow},
		{"as planned", func(v *schemas.Visit) {}, ""},
	} {
		v := testVisit()
		c.edit(v)
		r := rec("d1", KindScope, t0.Add(30*time.Minute), Payload{Add: []schemas.ScopeItem{{Title: "擦窗户"}}, Reason: "顺便"})
		fs, out := Fold(v, []*Record{r}, DefaultRules)
		o := out[r.OpID]
		if c.rule == "" {
			if o.Status != StatusApplied || len(fs.Conflicts) != 0 {
				t.Fatalf("%s: %+v %+v", c.name, o, fs.Conflicts)
			}
			continue
		}
		if o.Rule != c.rule || len(fs.Conflicts) != 1 || !fs.Conflicts[0].Review || fs.ReviewItems() == 0 {
			t.Fatalf("%s: outcome %+v, conflicts %+v, want %s for review", c.name, o, fs.Conflicts, c.rule)
		}
		if len(fs.ScopeChanges) != 1 {
			t.Fatalf("%s: the change is not kept: %+v", c.name, fs.ScopeChanges)
		}
	}
}
