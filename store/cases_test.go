package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
)

func TestRaiseAlertCoalescing(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	const win = 10 * time.Minute
	c.t = epoch.Truncate(win) // the start of a window
	type raised struct {
		id    string
		first bool
		count int
	}
	raise := func(group, cause string, window time.Duration) raised {
		t.Helper()
		a := &schemas.Alert{Kind: "complaint", Team: "team-1", Priority: "high", CreatedAt: c.now()}
		first, err := s.Cases.RaiseAlert(ctx, a, group, cause, window)
		if err != nil {
			t.Fatal(err)
		}
		return raised{a.ID, first, a.Count}
	}
	a1 := raise("g", "c1", win)
	steps := []struct {
		name    string
		advance time.Duration
		group   string
		cause   string
		window  time.Duration
		ack     bool // acknowledge the first alert before raising
		same    bool // joins the first alert
		first   bool
		count   int // of the alert raised, 0 to skip
	}{
		{name: "a second cause in the window joins", advance: time.Minute, group: "g", cause: "c2", window: win, same: true, count: 2},
		{name: "the first cause again is found, as first", group: "g", cause: "c1", window: win, same: true, first: true, count: 2},
		{name: "the second cause again counts nothing", group: "g", cause: "c2", window: win, same: true, count: 2},
		{name: "another group is another alert", group: "h", cause: "c3", window: win, first: true, count: 1},
		{name: "a cause after the acknowledgement opens a new alert", ack: true, group: "g", cause: "c4", window: win, first: true, count: 1},
		{name: "a cause counted before the acknowledgement stays there", group: "g", cause: "c2", window: win, same: true, count: 2},
		{name: "the next window is a new alert", advance: win, group: "g", cause: "c5", window: win, first: true, count: 1},
		{name: "a cause of an earlier window is not raised again", group: "g", cause: "c1", window: win, same: true, first: true, count: 2},
		{name: "no window: each cause its own", group: "g", cause: "c6", window: 0, first: true, count: 1},
	}
	for _, st := range steps {
		c.advance(st.advance)
		if st.ack {
			if _, _, err := s.Cases.UpdateAlert(ctx, a1.id, func(a *schemas.Alert) error { a.State = schemas.AlertAcknowledged; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		got := raise(st.group, st.cause, st.window)
		if (got.id == a1.id) != st.same || got.first != st.first || st.count != 0 && got.count != st.count {
			t.Errorf("%s: got %+v (first alert %s), want same=%v first=%v count=%d", st.name, got, a1.id, st.same, st.first, st.count)
		}
	}
	// Without a window, raising a cause again changes nothing.
	if again := raise("g", "c6", 0); !again.first || again.count != 1 {
		t.Errorf("no window, again: %+v", again)
	}
	p, err := s.Cases.ListAlerts(ctx, AlertQuery{AllTeams: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 5 {
		t.Errorf("%d alerts stored, want 5: %+v", len(p.Items), p.Items)
	}
}

// TestRaiseAlertTwoInstances: two instances raising one group's causes at
// once make one alert that counts every cause once, and one of them is
// told it raised the first.
func TestRaiseAlertTwoInstances(t *testing.T) {
	s1, s2, c := openTwins(t)
	ctx := t.Context()
	const n = 24
	for _, sameCause := range []bool{false, true} {
		group := fmt.Sprintf("incident/high/visit/v-%v", sameCause)
		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts, ids := 0, map[string]bool{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := []*Store{s1, s2}[i%2]
				cause := fmt.Sprint("cause-", i)
				if sameCause {
					cause = "the-cause"
				}
				a := &schemas.Alert{Kind: "incident", Team: "team-1", Priority: "high", CreatedAt: c.now()}
				first, err := s.Cases.RaiseAlert(ctx, a, group, cause, 10*time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[a.ID] = true
				if first {
					firsts++
				}
			}()
		}
		wg.Wait()
		if len(ids) != 1 {
			t.Fatalf("same cause %v: %d alerts, want 1", sameCause, len(ids))
		}
		var id string
		for id = range ids {
		}
		a, err := s1.Cases.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantCount, wantFirsts := n, 1
		if sameCause {
			wantCount, wantFirsts = 1, n // each was the first cause
		}
		if a.Count != wantCount || len(a.Causes) != wantCount || firsts != wantFirsts {
			t.Errorf("same cause %v: count %d, %d causes, %d told first; want %d, %d", sameCause, a.Count, len(a.Causes), firsts, wantCount, wantFirsts)
		}
	}
}

// TestUpdateAlertOneWinner: of concurrent acknowledgements, one lands.
func TestUpdateAlertOneWinner(t *testing.T) {
	s1, s2, c := openTwins(t)
	ctx := t.Context()
	a := &schemas.Alert{ID: "late/1", Kind: "late", Team: "team-1", Priority: "normal", CreatedAt: c.now()}
	if created, err := s1.Cases.RecordAlert(ctx, a); err != nil || !created {
		t.Fatalf("record: %v %v", created, err)
	}
	if created, err := s2.Cases.RecordAlert(ctx, a); err != nil || created {
		t.Fatalf("record again: %v %v", created, err)
	}
	errAcked := errors.New("acknowledged already")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*Store{s1, s2}[i%2]
			_, after, err := s.Cases.UpdateAlert(ctx, a.ID, func(al *schemas.Alert) error {
				if al.State != schemas.AlertOpen {
					return errAcked
				}
				al.State, al.AckBy = schemas.AlertAcknowledged, fmt.Sprint("sup-", i)
				return nil
			})
			if err != nil && !errors.Is(err, errAcked) {
				t.Error(err)
			}
			if err == nil && after.State == schemas.AlertAcknowledged {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d acknowledgements landed, want 1", wins)
	}
	if _, _, err := s1.Cases.UpdateAlert(ctx, "nope", func(*schemas.Alert) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing alert: %v", err)
	}
}

// TestCaseListsPage: every list reads its index in order, page by page,
// never repeating or skipping one, in its scope and state.
func TestCaseListsPage(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	const n = 11
	for i := range n {
		at := epoch.Add(time.Duration(i) * time.Minute)
		team := []string{"team-1", "team-2"}[i%3/2] // two of three in team-1
		id := fmt.Sprintf("%02d", i)
		if _, err := s.Cases.RecordAlert(ctx, &schemas.Alert{ID: "a" + id, Kind: "late", Team: team, Priority: "normal", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		cp := &schemas.Complaint{ID: "c" + id, CustomerID: "cust-" + strconv.Itoa(i%2), Team: team, Category: "quality", State: schemas.ComplaintReceived,
			ReceivedAt: at, AckDueAt: at.Add(time.Hour), History: []schemas.ComplaintEvent{}}
		if i%4 == 0 {
			cp.State = schemas.ComplaintClosed
		}
		if err := s.Cases.InsertComplaint(ctx, cp); err != nil {
			t.Fatal(err)
		}
		inc := &schemas.Incident{ID: "i" + id, VisitID: "v" + strconv.Itoa(i%2), WorkerID: "w" + strconv.Itoa(i%3), Team: team, Category: "other", Severity: "low",
			At: at, ReportedAt: at, Status: schemas.IncidentOpen}
		if i%4 == 0 {
			inc.Status = schemas.IncidentResolved
		}
		if _, err := s.Cases.RecordIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		// Follow-ups fall due in the reverse order of their making.
		if _, err := s.Cases.RecordFollowUp(ctx, &schemas.FollowUp{ID: "f" + id, VisitID: "v" + id, CustomerID: "cust", Team: team,
			DueAt: epoch.Add(time.Duration(n-i) * time.Hour), LatestAt: epoch.Add(7 * 24 * time.Hour), Done: i%4 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Hour)
	// want lists the indexes i of the records a list must give, in order.
	want := func(desc bool, keep func(i int) bool) []string {
		var out []string
		for k := range n {
			i := k
			if desc {
				i = n - 1 - k
			}
			if keep(i) {
				out = append(out, fmt.Sprintf("%02d", i))
			}
		}
		return out
	}
	inTeam1 := func(i int) bool { return i%3 != 2 }
	open := func(i int) bool { return i%4 != 0 }
	cases := []struct {
		name string
		page func(after string, limit int) ([]string, string, error)
		want []string
	}{
		{"alerts of every team", alertPages(ctx, s, AlertQuery{AllTeams: true}), want(true, func(int) bool { return true })},
		{"alerts of team-1", alertPages(ctx, s, AlertQuery{Team: "team-1"}), want(true, inTeam1)},
		{"alerts of no team", alertPages(ctx, s, AlertQuery{}), nil},
		{"alerts of team-1 in a range", alertPages(ctx, s, AlertQuery{Team: "team-1", From: epoch.Add(2 * time.Minute), To: epoch.Add(7 * time.Minute)}),
			want(true, func(i int) bool { return inTeam1(i) && i >= 2 && i < 7 })},
		{"complaints", complaintPages(ctx, s, ComplaintQuery{}), want(true, func(int) bool { return true })},
		{"open complaints of team-1", complaintPages(ctx, s, ComplaintQuery{Team: "team-1", Open: true}), want(true, func(i int) bool { return inTeam1(i) && open(i) })},
		{"complaints of a customer", complaintPages(ctx, s, ComplaintQuery{CustomerID: "cust-1"}), want(true, func(i int) bool { return i%2 == 1 })},
		{"open incidents", incidentPages(ctx, s, IncidentQuery{Open: true}), want(true, open)},
		{"incidents of a worker", incidentPages(ctx, s, IncidentQuery{WorkerID: "w1"}), want(true, func(i int) bool { return i%3 == 1 })},
		{"incidents of a visit", incidentPages(ctx, s, IncidentQuery{VisitID: "v0"}), want(true, func(i int) bool { return i%2 == 0 })},
		{"follow-ups, open ones first, soonest due first", followUpPages(ctx, s, FollowUpQuery{}), append(want(true, open), want(true, func(i int) bool { return !open(i) })...)},
		{"done follow-ups", followUpPages(ctx, s, FollowUpQuery{Done: true}), want(true, func(i int) bool { return !open(i) })},
		{"follow-ups of a visit", followUpPages(ctx, s, FollowUpQuery{VisitID: "v04"}), []string{"04"}},
		{"follow-ups due in a range, open first", followUpPages(ctx, s, FollowUpQuery{Team: "team-1", From: epoch.Add(3 * time.Hour), To: epoch.Add(9 * time.Hour)}),
			append(want(true, func(i int) bool { return inTeam1(i) && open(i) && n-i >= 3 && n-i < 9 }), want(true, func(i int) bool { return inTeam1(i) && !open(i) && n-i >= 3 && n-i < 9 })...)},
		{"alerts of a kind", alertPages(ctx, s, AlertQuery{AllTeams: true, Kind: "missed"}), nil},
		{"open complaints of team-1 of a customer", complaintPages(ctx, s, ComplaintQuery{Team: "team-1", CustomerID: "cust-1", Open: true}),
			want(true, func(i int) bool { return inTeam1(i) && open(i) && i%2 == 1 })},
		{"complaints of a category in team-2", complaintPages(ctx, s, ComplaintQuery{Team: "team-2", Category: "quality"}), want(true, func(i int) bool { return !inTeam1(i) })},
		// Due an hour after receipt, at epoch+1h: those received before epoch+5m are overdue, the most overdue first.
		{"overdue complaints of team-1", complaintPages(ctx, s, ComplaintQuery{Team: "team-1", Overdue: epoch.Add(65 * time.Minute)}),
			want(false, func(i int) bool { return inTeam1(i) && open(i) && i < 5 })},
		{"open incidents of a worker in team-1", incidentPages(ctx, s, IncidentQuery{Team: "team-1", WorkerID: "w1", Open: true}),
			want(true, func(i int) bool { return inTeam1(i) && open(i) && i%3 == 1 })},
		{"open follow-ups of team-1", followUpPages(ctx, s, FollowUpQuery{Team: "team-1", Open: true}), want(true, func(i int) bool { return inTeam1(i) && open(i) })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, n, 0} {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					ids, next, err := tc.page(after, limit)
					if err != nil {
						t.Fatal(err)
					}
					if limit > 0 && len(ids) > limit || pages > n+1 {
						t.Fatalf("limit %d: a page of %d, page %d", limit, len(ids), pages)
					}
					got = append(got, ids...)
					if next == "" {
						break
					}
					after = next
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("limit %d: %v, want %v", limit, got, tc.want)
				}
			}
		})
	}
	if _, err := s.Cases.ListAlerts(ctx, AlertQuery{Team: "team-1", After: "bm90IGEgY3Vyc29y"}); !errors.Is(err, ErrCursor) {
		t.Errorf("a made-up cursor: %v", err)
	}
	first, err := s.Cases.ListAlerts(ctx, AlertQuery{AllTeams: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cases.ListAlerts(ctx, AlertQuery{Team: "team-1", After: first.NextCursor}); !errors.Is(err, ErrCursor) {
		t.Errorf("another list's cursor: %v", err)
	}
}

func alertPages(ctx context.Context, s *Store, q AlertQuery) func(string, int) ([]string, string, error) {
	return func(after string, limit int) ([]string, string, error) {
		q.After, q.Limit = after, limit
		p, err := s.Cases.ListAlerts(ctx, q)
		return ids(p, func(a schemas.Alert) string { return a.ID }), p.NextCursor, err
	}
}

func complaintPages(ctx context.Context, s *Store, q ComplaintQuery) func(string, int) ([]string, string, error) {
	return func(after string, limit int) ([]string, string, error) {
		q.After, q.Limit = after, limit
		p, err := s.Cases.ListComplaints(ctx, q)
		return ids(p, func(c schemas.Complaint) string { return c.ID }), p.NextCursor, err
	}
}

func incidentPages(ctx context.Context, s *Store, q IncidentQuery) func(string, int) ([]string, string, error) {
	return func(after string, limit int) ([]string, string, error) {
		q.After, q.Limit = after, limit
		p, err := s.Cases.ListIncidents(ctx, q)
		return ids(p, func(i schemas.Incident) string { return i.ID }), p.NextCursor, err
	}
}

func followUpPages(ctx context.Context, s *Store, q FollowUpQuery) func(string, int) ([]string, string, error) {
	return func(after string, limit int) ([]string, string, error) {
		q.After, q.Limit = after, limit
		p, err := s.Cases.ListFollowUps(ctx, q)
		return ids(p, func(f schemas.FollowUp) string { return f.ID }), p.NextCursor, err
	}
}

// ids are the records' ids without their one-letter prefix.
func ids[T any](p schemas.Page[T], id func(T) string) []string {
	var out []string
	for _, x := range p.Items {
		out = append(out, id(x)[1:])
	}
	return out
}

// TestCaseVersionsAndSweeps: versions are the store's, a stale replace
// loses, and the SLA and escalation sweeps read only what is due.
func TestCaseVersionsAndSweeps(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	for i, due := range []time.Duration{10 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
		cp := &schemas.Complaint{ID: fmt.Sprint("c", i), CustomerID: "cust", Team: "team-1", Category: "safety", Urgent: true,
			State: schemas.ComplaintReceived, ReceivedAt: c.now(), AckDueAt: c.now().Add(due), History: []schemas.ComplaintEvent{}}
		if err := s.Cases.InsertComplaint(ctx, cp); err != nil || cp.Version != 1 {
			t.Fatalf("insert: version %d, %v", cp.Version, err)
		}
	}
	for i, inc := range []schemas.Incident{
		{Category: "injury", Severity: "low"},  // critical by category
		{Category: "other", Severity: "low"},   // not critical
		{Category: "other", Severity: "high"},  // critical by severity
		{Category: "safety", Severity: "high"}, // critical, reported later
	} {
		inc.ID, inc.VisitID, inc.WorkerID, inc.Team, inc.Status = fmt.Sprint("i", i), "v", "w", "team-1", schemas.IncidentOpen
		inc.At, inc.ReportedAt = c.now(), c.now().Add(time.Duration(i/3)*time.Hour)
		if created, err := s.Cases.RecordIncident(ctx, &inc); err != nil || !created || inc.Version != 1 || inc.Photos == nil {
			t.Fatalf("record incident: %v %v %+v", created, err, inc)
		}
		if created, err := s.Cases.RecordIncident(ctx, &inc); err != nil || created {
			t.Fatalf("record incident again: %v %v", created, err)
		}
	}
	c.advance(45 * time.Minute)
	due, err := s.Cases.ComplaintsPastDue(ctx, c.now(), 0)
	if err != nil || len(due) != 2 || due[0].ID != "c0" || due[1].ID != "c1" {
		t.Fatalf("past due: %+v %v", due, err)
	}
	// Marked breached, c0 leaves the sweep; a stale writer loses.
	stale := due[0]
	breached := due[0]
	breached.Breached = true
	if err := s.Cases.ReplaceComplaint(ctx, &breached, due[0].Version); err != nil || breached.Version != 2 {
		t.Fatalf("replace: version %d, %v", breached.Version, err)
	}
	stale.State = schemas.ComplaintAcknowledged
	if err := s.Cases.ReplaceComplaint(ctx, &stale, stale.Version); !errors.Is(err, ErrVersion) {
		t.Fatalf("a stale replace: %v", err)
	}
	if due, _ := s.Cases.ComplaintsPastDue(ctx, c.now(), 0); len(due) != 1 || due[0].ID != "c1" {
		t.Fatalf("past due after the breach was marked: %+v", due)
	}
	if got, err := s.Cases.Complaint(ctx, "c0"); err != nil || got.Version != 2 || !got.Breached {
		t.Fatalf("complaint: %+v %v", got, err)
	}
	if _, err := s.Cases.Complaint(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing complaint: %v", err)
	}
	esc, err := s.Cases.IncidentsToEscalate(ctx, c.now().Add(-15*time.Minute), 0)
	if err != nil || len(esc) != 2 || esc[0].ID != "i0" && esc[0].ID != "i2" {
		t.Fatalf("to escalate: %+v %v", esc, err)
	}
	e := esc[0]
	e.Escalated = true
	if err := s.Cases.ReplaceIncident(ctx, &e, esc[0].Version); err != nil || e.Version != 2 {
		t.Fatalf("escalate: %d %v", e.Version, err)
	}
	if esc, _ := s.Cases.IncidentsToEscalate(ctx, c.now().Add(-15*time.Minute), 0); len(esc) != 1 || esc[0].ID == e.ID {
		t.Fatalf("to escalate after one was: %+v", esc)
	}
	got, err := s.Cases.IncidentsByID(ctx, []string{"i3", "nope", "i0"})
	if err != nil || len(got) != 2 || got[0].ID != "i3" || got[1].ID != "i0" || got[1].Version != 2 {
		t.Fatalf("by id: %+v %v", got, err)
	}
}

// TestCaseListsPageUnderInserts: records written between two pages, ahead
// of the cursor or behind it, never make a page repeat or skip one that was
// there; those ahead of the cursor show.
// The follow-ups' list spans two scans (open, then done) and the
// complaints' one filters a worker out of the team's range.
func TestCaseListsPageUnderInserts(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	at := func(i int) time.Time { return epoch.Add(time.Duration(i) * time.Minute) }
	n := 0
	follow := func(due time.Time, done bool) string {
		n++
		id := fmt.Sprintf("f%03d", n)
		if _, err := s.Cases.RecordFollowUp(ctx, &schemas.FollowUp{ID: id, VisitID: "v" + id, CustomerID: "cust", Team: "team-1",
			DueAt: due, LatestAt: due.Add(6 * 24 * time.Hour), Done: done}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	complain := func(received time.Time, worker string) string {
		n++
		id := fmt.Sprintf("c%03d", n)
		if err := s.Cases.InsertComplaint(ctx, &schemas.Complaint{ID: id, CustomerID: "cust", Team: "team-1", WorkerID: worker, Category: "quality",
			State: schemas.ComplaintReceived, ReceivedAt: received, AckDueAt: received.Add(time.Hour), History: []schemas.ComplaintEvent{}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for i := range 6 {
		follow(at(i), i%2 == 0)
		complain(at(i), []string{"w1", "w2"}[i%2])
	}
	for _, tc := range []struct {
		name  string
		page  func(after string) (schemas.Page[string], error)
		write func(k int) (string, bool) // the k-th insert between pages, and whether it is after the cursor
	}{
		{"follow-ups", func(after string) (schemas.Page[string], error) {
			p, err := s.Cases.ListFollowUps(ctx, FollowUpQuery{Team: "team-1", After: after, Limit: 2})
			return pageIDs(p, func(f schemas.FollowUp) string { return f.ID }), err
		}, func(k int) (string, bool) {
			// Behind the cursor (open, due first), or ahead of it (done,
			// due last: the very end of the list).
			if k%2 == 0 {
				return follow(at(-1-k), false), false
			}
			return follow(at(100+k), true), true
		}},
		{"complaints of a worker", func(after string) (schemas.Page[string], error) {
			p, err := s.Cases.ListComplaints(ctx, ComplaintQuery{Team: "team-1", WorkerID: "w1", After: after, Limit: 2})
			return pageIDs(p, func(c schemas.Complaint) string { return c.ID }), err
		}, func(k int) (string, bool) {
			// Newest first: a newer one is behind the cursor, an older one ahead.
			switch k % 3 {
			case 0:
				return complain(at(100+k), "w1"), false
			case 1:
				return complain(at(-10-k), "w1"), true
			}
			return complain(at(-10-k), "w2"), false // another worker's: never listed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := tc.page("")
			if err != nil {
				t.Fatal(err)
			}
			var want []string // everything listed at first, then what was written ahead
			all, err := pagesOf(tc.page)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, all...)
			got := slices.Clone(first.Items)
			after := first.NextCursor
			for k := 0; after != ""; k++ {
				if k > 50 {
					t.Fatal("paging does not end")
				}
				id, ahead := tc.write(k)
				if ahead {
					want = append(want, id)
				}
				p, err := tc.page(after)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.Items...)
				after = p.NextCursor
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("paged through %v, want %v", got, want)
			}
		})
	}
}

func pageIDs[T any](p schemas.Page[T], id func(T) string) schemas.Page[string] {
	out := schemas.Page[string]{Items: []string{}, NextCursor: p.NextCursor}
	for _, x := range p.Items {
		out.Items = append(out.Items, id(x))
	}
	return out
}

func pagesOf(page func(after string) (schemas.Page[string], error)) ([]string, error) {
	var out []string
	for after := ""; ; {
		p, err := page(after)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if after = p.NextCursor; after == "" {
			return out, nil
		}
	}
}

// TestFilteredListsScanABoundedRange: a page of a filtered list reads at
// most scanBudget records; a filter matching little gives short pages
// with a cursor, and paging still reads every match once.
func TestFilteredListsScanABoundedRange(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	defer func(b int) { scanBudget = b }(scanBudget)
	scanBudget = 3
	var want []string
	for i := range 20 {
		id := fmt.Sprintf("c%02d", i)
		worker := "w2"
		if i%7 == 0 {
			worker = "w1"
			want = append([]string{id[1:]}, want...) // newest first
		}
		if err := s.Cases.InsertComplaint(ctx, &schemas.Complaint{ID: id, CustomerID: "cust", Team: "team-1", WorkerID: worker, Category: "quality",
			State: schemas.ComplaintReceived, ReceivedAt: epoch.Add(time.Duration(i) * time.Minute), History: []schemas.ComplaintEvent{}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	pages := 0
	for after := ""; ; pages++ {
		p, err := s.Cases.ListComplaints(ctx, ComplaintQuery{Team: "team-1", WorkerID: "w1", After: after, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(p, func(c schemas.Complaint) string { return c.ID })...)
		if after = p.NextCursor; after == "" {
			break
		}
	}
	if !slices.Equal(got, want) || pages < 5 {
		t.Errorf("%d pages of %v, want %v in short pages", pages+1, got, want)
	}
}
