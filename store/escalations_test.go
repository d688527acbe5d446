package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestEscalationsStore: an escalation is recorded once under its id;
// lists page by cursor the soonest promised first, scoped and filtered;
// the overdue scan finds open ones past their promise not yet alerted; a
// replace on a stale version is ErrVersion.
func TestEscalationsStore(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	for i := range 7 {
		e := &schemas.Escalation{ID: schemas.NewID(), VisitID: fmt.Sprintf("v%d", i%2), WorkerID: "w1", Team: []string{"team-1", "team-2"}[i%2],
			Topic: "other", Urgency: "normal", Text: "x", Status: schemas.EscalationOpen, ReceivedAt: epoch, At: epoch,
			PromisedBy: epoch.Add(time.Duration(7-i) * time.Hour)}
		if i == 6 {
			e.Status = schemas.EscalationResolved
		}
		if first, err := s.Cases.RecordEscalation(ctx, e); err != nil || !first {
			t.Fatalf("record %d: %v %v", i, first, err)
		}
		if again, err := s.Cases.RecordEscalation(ctx, &schemas.Escalation{ID: e.ID, Status: schemas.EscalationOpen}); err != nil || again {
			t.Fatalf("recorded twice: %v %v", again, err)
		}
	}
	var got []schemas.Escalation
	q := EscalationQuery{Limit: 3}
	for {
		p, err := s.Cases.ListEscalations(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Items...)
		if p.NextCursor == "" {
			break
		}
		q.After = p.NextCursor
	}
	if len(got) != 7 {
		t.Fatalf("%d listed, want 7", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].PromisedBy.Before(got[i-1].PromisedBy) {
			t.Fatalf("not the soonest promised first: %s after %s", got[i].PromisedBy, got[i-1].PromisedBy)
		}
	}
	for _, c := range []struct {
		q    EscalationQuery
		want int
	}{
		{EscalationQuery{Team: "team-1"}, 4}, {EscalationQuery{Team: "team-1", Open: true}, 3}, {EscalationQuery{Open: true}, 6},
		{EscalationQuery{VisitID: "v1"}, 3}, {EscalationQuery{WorkerID: "w1", Team: "team-2"}, 3},
		{EscalationQuery{Open: true, Before: epoch.Add(3 * time.Hour)}, 1}, // +2h; +3h is not before, +1h is resolved
	} {
		p, err := s.Cases.ListEscalations(ctx, c.q)
		if err != nil || len(p.Items) != c.want {
			t.Errorf("%+v: %d items (%v), want %d", c.q, len(p.Items), err, c.want)
		}
	}
	due, err := s.Cases.EscalationsOverdue(ctx, epoch.Add(3*time.Hour), 0)
	if err != nil || len(due) != 2 {
		t.Fatalf("overdue at +3h: %d (%v), want 2 (+3h and +2h; the resolved one at +1h is not)", len(due), err)
	}
	e := due[0]
	e.OverdueRaised = true
	if err := s.Cases.ReplaceEscalation(ctx, &e, due[0].Version); err != nil {
		t.Fatal(err)
	}
	if err := s.Cases.ReplaceEscalation(ctx, &e, due[0].Version); !errors.Is(err, ErrVersion) {
		t.Fatalf("stale replace: %v, want ErrVersion", err)
	}
	if due, _ = s.Cases.EscalationsOverdue(ctx, epoch.Add(3*time.Hour), 0); len(due) != 1 {
		t.Fatalf("after marking one: %d overdue, want 1", len(due))
	}
}
