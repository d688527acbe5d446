package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
)

func note(id, user, visit string, notBefore time.Time) *schemas.Notification {
	return &schemas.Notification{ID: id, DedupeKey: "key/" + id, UserID: user, VisitID: visit, Kind: "pull", NotBefore: notBefore}
}

func TestPushEnqueueOnce(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	p := s.Push
	if ok, err := p.Enqueue(ctx, note("n1", "u1", "v1", time.Time{})); err != nil || !ok {
		t.Fatalf("first enqueue: %v, %v", ok, err)
	}
	if ok, err := p.Enqueue(ctx, note("n1", "u1", "v1", time.Time{})); err != nil || ok {
		t.Fatalf("second enqueue of the same id: %v, %v; want a no-op", ok, err)
	}
	// Still a no-op once it is final: the delivery log keeps the id.
	due, _ := p.Due(ctx, 10)
	claimed, _, _ := p.Lease(ctx, due, "a", time.Minute)
	claimed[0].State = schemas.NotificationSent
	if lost, err := p.Record(ctx, []*schemas.Notification{&claimed[0]}); err != nil || lost != 0 {
		t.Fatalf("record: %d, %v", lost, err)
	}
	c.advance(time.Hour)
	if ok, err := p.Enqueue(ctx, note("n1", "u1", "v1", time.Time{})); err != nil || ok {
		t.Fatalf("enqueue after it was sent: %v, %v; want a no-op", ok, err)
	}
	// Many at once: the one enqueued before is not counted again.
	ns := []*schemas.Notification{note("n1", "u1", "v1", time.Time{}), note("n2", "u1", "v1", time.Time{}), note("n3", "u2", "v1", time.Time{})}
	if added, err := p.EnqueueMany(ctx, ns); err != nil || added != 2 {
		t.Fatalf("EnqueueMany: %d, %v; want 2", added, err)
	}
	ns = []*schemas.Notification{note("n4", "u1", "v1", time.Time{}), note("n5", "u1", "v1", time.Time{})}
	if added, err := p.EnqueueMany(ctx, ns); err != nil || added != 2 || ns[1].Version != 1 {
		t.Fatalf("EnqueueMany of new ones: %d, %v", added, err)
	}
	if n := ns[0]; n.State != schemas.NotificationPending || !n.CreatedAt.Equal(c.now()) || !n.NotBefore.Equal(c.now()) || n.Data == nil {
		t.Fatalf("stamped %+v", n)
	}
}

// TestPushConcurrentClaims: 20 claimers (instances) drain 200 due
// notifications at once, in small claims; each notification is claimed
// exactly once, and a claimer stops only when nothing was due and it lost
// no race.
func TestPushConcurrentClaims(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	const total, claimers = 200, 20
	var ns []*schemas.Notification
	for i := range total {
		ns = append(ns, note(fmt.Sprintf("n%03d", i), "u1", "v1", epoch.Add(-time.Duration(i)*time.Second)))
	}
	if added, err := s.Push.EnqueueMany(ctx, ns); err != nil || added != total {
		t.Fatalf("enqueue: %d, %v", added, err)
	}
	var mu sync.Mutex
	got := map[string][]string{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range claimers {
		owner := fmt.Sprintf("c%d", w)
		wg.Go(func() {
			<-start
			for {
				due, err := s.Push.Due(ctx, 30)
				if err != nil {
					t.Error(err)
					return
				}
				claimed, lost, err := s.Push.Lease(ctx, due, owner, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, n := range claimed {
					if n.LeaseOwner != owner {
						t.Errorf("%s claimed %s with owner %q", owner, n.ID, n.LeaseOwner)
					}
					got[n.ID] = append(got[n.ID], owner)
				}
				mu.Unlock()
				if len(due) == 0 && lost == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if len(got) != total {
		t.Fatalf("%d of %d notifications claimed", len(got), total)
	}
	for id, owners := range got {
		if len(owners) != 1 {
			t.Fatalf("%s claimed by %v", id, owners)
		}
	}
	if due, _ := s.Push.Due(ctx, 10); len(due) != 0 {
		t.Fatalf("%d due while every lease is live", len(due))
	}
}

// TestPushLeaseExpiry: a claim whose lease ran out is due again through
// the same index, taken by another claimant, and the first one's outcome
// is then not recorded.
func TestPushLeaseExpiry(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	p := s.Push
	p.Enqueue(ctx, note("n1", "u1", "v1", time.Time{}))
	p.Enqueue(ctx, note("later", "u1", "v1", epoch.Add(time.Hour)))
	due, err := p.Due(ctx, 10)
	if err != nil || len(due) != 1 || due[0].ID != "n1" {
		t.Fatalf("due %+v, %v; want n1 only", due, err)
	}
	a, lost, err := p.Lease(ctx, due, "a", time.Minute)
	if err != nil || len(a) != 1 || lost != 0 {
		t.Fatalf("a's claim %d lost %d, %v", len(a), lost, err)
	}
	// The same read, claimed again, is a lost race.
	if again, lost, err := p.Lease(ctx, due, "b", time.Minute); err != nil || len(again) != 0 || lost != 1 {
		t.Fatalf("a stale claim got %d lost %d, %v", len(again), lost, err)
	}
	c.advance(59 * time.Second)
	if due, _ := p.Due(ctx, 10); len(due) != 0 {
		t.Fatalf("due under a live lease: %+v", due)
	}
	c.advance(time.Second)
	due, _ = p.Due(ctx, 10)
	if len(due) != 1 || due[0].ID != "n1" || due[0].LeaseOwner != "a" {
		t.Fatalf("after the lease: due %+v, want a's lapsed claim", due)
	}
	b, lost, err := p.Lease(ctx, due, "b", time.Minute)
	if err != nil || len(b) != 1 || lost != 0 {
		t.Fatalf("b's claim %d lost %d, %v", len(b), lost, err)
	}
	a[0].State = schemas.NotificationSent
	if lost, err := p.Record(ctx, []*schemas.Notification{&a[0]}); err != nil || lost != 1 {
		t.Fatalf("a records after losing its lease: lost %d, %v; want 1", lost, err)
	}
	// b retries it in five minutes: unleased, due then.
	b[0].Attempts, b[0].NotBefore, b[0].LastError = 1, c.now().Add(5*time.Minute), "quota"
	if lost, err := p.Record(ctx, []*schemas.Notification{&b[0]}); err != nil || lost != 0 {
		t.Fatalf("b records a retry: lost %d, %v", lost, err)
	}
	if b[0].LeaseOwner != "" {
		t.Fatalf("a retry kept its lease: %+v", b[0])
	}
	c.advance(5 * time.Minute)
	due, _ = p.Due(ctx, 10)
	if len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "quota" {
		t.Fatalf("the retry is not due: %+v", due)
	}
}

// TestPushRecordInBatchAfterLostOne: of a batch of outcomes, one was taken
// over; the others are recorded all the same, on either engine (a failed
// batch may have written its first part, or nothing).
func TestPushRecordInBatchAfterLostOne(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	p := s.Push
	for i := range 5 {
		p.Enqueue(ctx, note(fmt.Sprint("n", i), "u1", "v1", epoch.Add(time.Duration(i)*time.Millisecond-time.Second)))
	}
	due, _ := p.Due(ctx, 10)
	a, _, _ := p.Lease(ctx, due, "a", time.Minute)
	c.advance(2 * time.Minute)
	// b takes over the middle one only.
	due, _ = p.Due(ctx, 10)
	if _, lost, err := p.Lease(ctx, due[2:3], "b", time.Minute); err != nil || lost != 0 {
		t.Fatal(lost, err)
	}
	var outs []*schemas.Notification
	for i := range a {
		a[i].State = schemas.NotificationSent
		outs = append(outs, &a[i])
	}
	if lost, err := p.Record(ctx, outs); err != nil || lost != 1 {
		t.Fatalf("lost %d, %v; want 1", lost, err)
	}
	ns, _, err := p.Notifications(ctx, "", "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if want := n.ID != due[2].ID; (n.State == schemas.NotificationSent) != want {
			t.Errorf("%s is %s (owner %q)", n.ID, n.State, n.LeaseOwner)
		}
	}
}

// TestPushNotificationPages: lists page by cursor, newest first, with no
// cap: every notification once, of a user, of a visit, of both.
func TestPushNotificationPages(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	const total = 2300 // past the old silent cap of 2,000
	var batch []*schemas.Notification
	for i := range total {
		batch = append(batch, note(fmt.Sprintf("n%04d", i), fmt.Sprint("u", i%2), fmt.Sprint("v", i%3), time.Time{}))
		if len(batch) == 100 {
			if _, err := s.Push.EnqueueMany(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
			c.advance(time.Second) // some share a creation time: ties go by id
		}
	}
	for _, tc := range []struct {
		name, visit, user string
		want              int
	}{
		{"user", "", "u1", total / 2},
		{"visit", "v2", "", total / 3},
		{"visit and user", "v2", "u1", 383}, // i%6 == 5
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			var last *schemas.Notification
			after, pages := "", 0
			for {
				ns, next, err := s.Push.Notifications(ctx, tc.visit, tc.user, after, 200)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if next != "" && len(ns) != 200 {
					t.Fatalf("page %d holds %d with more to come", pages, len(ns))
				}
				for i := range ns {
					n := &ns[i]
					if seen[n.ID] || tc.user != "" && n.UserID != tc.user || tc.visit != "" && n.VisitID != tc.visit {
						t.Fatalf("page %d: %s (user %s, visit %s) again or not asked for", pages, n.ID, n.UserID, n.VisitID)
					}
					if last != nil && (n.CreatedAt.After(last.CreatedAt) || n.CreatedAt.Equal(last.CreatedAt) && n.ID > last.ID) {
						t.Fatalf("%s after %s: not newest first", n.ID, last.ID)
					}
					seen[n.ID], last = true, n
				}
				if next == "" {
					break
				}
				after = next
			}
			if len(seen) != tc.want {
				t.Fatalf("%d listed, want %d", len(seen), tc.want)
			}
		})
	}
	_, next, _ := s.Push.Notifications(ctx, "", "u1", "", 10)
	if _, _, err := s.Push.Notifications(ctx, "v1", "", next, 10); !errors.Is(err, ErrCursor) {
		t.Fatalf("a user list's cursor on a visit list: %v, want ErrCursor", err)
	}
	if _, _, err := s.Push.Notifications(ctx, "", "u1", "garbage!", 10); !errors.Is(err, ErrCursor) {
		t.Fatalf("a made-up cursor: %v, want ErrCursor", err)
	}
}

func TestPushPendingAndWithdraw(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	p := s.Push
	for i, k := range []string{"remind/v1/a/1", "remind/v2/a/1", "notice/v1/u/7", "remind0"} {
		n := &schemas.Notification{ID: k, DedupeKey: k, UserID: "u", Kind: "x", VisitID: strings.Split(k, "/")[min(1, strings.Count(k, "/"))],
			NotBefore: epoch.Add(time.Duration(i-9) * time.Second)}
		if _, err := p.Enqueue(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := p.Pending(ctx, "", "remind/")
	if err != nil || len(ns) != 2 || ns[0].DedupeKey != "remind/v1/a/1" || ns[1].DedupeKey != "remind/v2/a/1" {
		t.Fatalf("pending reminders %+v, %v", ns, err)
	}
	if ns, err := p.Pending(ctx, "v1", "notice/v1/"); err != nil || len(ns) != 1 || ns[0].ID != "notice/v1/u/7" {
		t.Fatalf("pending notices of v1 %+v, %v", ns, err)
	}
	// A claim in between: the withdrawal does not happen.
	due, _ := p.Due(ctx, 10)
	for _, d := range due {
		if d.ID == ns[0].ID {
			p.Lease(ctx, []schemas.Notification{d}, "a", time.Minute)
		}
	}
	if ok, err := p.Withdraw(ctx, &ns[0]); err != nil || ok {
		t.Fatalf("withdrew a claimed notification: %v, %v", ok, err)
	}
	if ok, err := p.Withdraw(ctx, &ns[1]); err != nil || !ok {
		t.Fatalf("withdraw: %v, %v", ok, err)
	}
	if all, _ := p.Pending(ctx, "", ""); len(all) != 3 {
		t.Fatalf("%d pending, want 3", len(all))
	}
}

func TestPushTargets(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	p := s.Push
	tok := func(i int) string { return fmt.Sprintf("token-%02d-xxxxxxxxxxxxxxxx", i) }
	// Ten devices of one user registered at once: none is lost.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := p.RegisterTarget(ctx, "u1", schemas.PushTarget{Token: tok(i), DeviceID: fmt.Sprint("d", i), Platform: "android"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ts, _ := p.Targets(ctx, "u1"); len(ts) != 10 {
		t.Fatalf("%d devices after 10 concurrent registrations", len(ts))
	}
	// A token that moves to another device leaves the old one.
	if err := p.RegisterTarget(ctx, "u1", schemas.PushTarget{Token: tok(0), DeviceID: "d-new", Platform: "ios"}); err != nil {
		t.Fatal(err)
	}
	ts, _ := p.Targets(ctx, "u1")
	if len(ts) != 10 || ts[9].DeviceID != "d-new" || !ts[9].UpdatedAt.Equal(c.now()) {
		t.Fatalf("after the move: %+v", ts)
	}
	for _, want := range []bool{true, false} {
		if removed, err := p.RemoveToken(ctx, "u1", tok(1)); err != nil || removed != want {
			t.Fatalf("RemoveToken: %v, %v; want %v", removed, err, want)
		}
	}
	if removed, err := p.RemoveToken(ctx, "nobody", tok(1)); err != nil || removed {
		t.Fatalf("RemoveToken of a user without devices: %v, %v", removed, err)
	}
	if err := p.RemoveDevice(ctx, "u1", "d2"); err != nil {
		t.Fatal(err)
	}
	// Refreshed ones stay live; the others are pruned after maxAge.
	c.advance(time.Hour)
	if err := p.RegisterTarget(ctx, "u1", schemas.PushTarget{Token: tok(3), DeviceID: "d3", Platform: "android"}); err != nil {
		t.Fatal(err)
	}
	live, err := p.LiveTargets(ctx, "u1", 30*time.Minute)
	if err != nil || len(live) != 1 || live[0].DeviceID != "d3" {
		t.Fatalf("live %+v, %v", live, err)
	}
	if ts, _ := p.Targets(ctx, "u1"); len(ts) != 1 {
		t.Fatalf("stale devices not pruned: %+v", ts)
	}
}

// TestPushBacklog: the outbox's depth counts what is due and unleased, up
// to the cap, and its oldest due time is the longest waiting one's.
func TestPushBacklog(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	p := s.Push
	if n, oldest, err := p.Backlog(ctx, 100); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: %d, %v, %v", n, oldest, err)
	}
	start := c.t
	for i := range 5 {
		if _, err := p.Enqueue(ctx, note(fmt.Sprint("b", i), "u1", "v1", start.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Enqueue(ctx, note("later", "u1", "v1", start.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	c.advance(10 * time.Minute)
	n, oldest, err := p.Backlog(ctx, 100)
	if err != nil || n != 5 || !oldest.Equal(start.UTC()) {
		t.Fatalf("backlog %d, oldest %v, %v; want 5 due since %v", n, oldest, err, start.UTC())
	}
	if n, _, _ := p.Backlog(ctx, 3); n != 3 {
		t.Fatalf("capped backlog %d, want 3", n)
	}
	// Leased ones are not due: the next oldest is.
	due, _ := p.Due(ctx, 1)
	if _, _, err := p.Lease(ctx, due, "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, oldest, _ := p.Backlog(ctx, 100); n != 4 || !oldest.Equal(start.Add(time.Minute).UTC()) {
		t.Fatalf("after a lease: %d since %v", n, oldest)
	}
}
