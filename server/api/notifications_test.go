package api_test

import (
	"fmt"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
)

// TestNotificationsPageByCursor: a visit's notifications come newest
// first, a page at a time with nextCursor, all of them (no silent cap);
// a made-up cursor and a list of nobody are 400.
func TestNotificationsPageByCursor(t *testing.T) {
	w := newWorld(t)
	f := w.f
	outbox := push.NewOutbox(f.db.Push)
	const total = 120
	for i := range total {
		if _, err := outbox.Enqueue(t.Context(), &push.Notification{DedupeKey: fmt.Sprint("page/", i), UserID: "u1", Kind: "pull", VisitID: w.v1.ID, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Second)
	}
	seen, after, pages := map[string]bool{}, "", 0
	for {
		var page schemas.Page[push.Notification]
		f.do("GET", "/v1/notifications?limit=50&visitId="+w.v1.ID+after, nil, w.admin).want(200).decode(&page)
		pages++
		for _, n := range page.Items {
			if seen[n.ID] {
				t.Fatalf("page %d repeats %s", pages, n.ID)
			}
			seen[n.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		after = "&after=" + page.NextCursor
	}
	if len(seen) != total || pages != 3 {
		t.Fatalf("%d notifications in %d pages, want %d in 3", len(seen), pages, total)
	}
	if e := f.do("GET", "/v1/notifications?visitId="+w.v1.ID+"&after=bm90LWEtY3Vyc29y", nil, w.admin).wantError(400, schemas.EINVALID); e.Details["field"] != "after" {
		t.Fatalf("a made-up cursor: %+v", e)
	}
	f.do("GET", "/v1/notifications", nil, w.admin).wantError(400, schemas.EINVALID)
}
