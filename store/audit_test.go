package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"fieldsync/schemas"
)

func TestAudit(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	au := s.Audit
	entry := func(entity, id string, version int64, action string) *schemas.AuditEntry {
		c.advance(time.Second)
		return &schemas.AuditEntry{ID: schemas.AuditID(entity, id, version), Entity: entity, EntityID: id, Action: action,
			Version: version, ActorID: "admin", Role: schemas.RoleAdmin, At: c.now().UTC(),
			Changes: []schemas.FieldChange{{Field: "name", From: "a", To: "b"}}}
	}
	start := c.now().UTC()
	written := []*schemas.AuditEntry{
		entry(schemas.EntityCustomer, "c1", 1, "create"),
		entry(schemas.EntityCustomer, "c2", 1, "create"),
		entry(schemas.EntityCustomer, "c1", 2, "update"),
		entry(schemas.EntityWorker, "c1", 1, "create"), // another entity, same id
		entry(schemas.EntityCustomer, "c1", 3, "update"),
	}
	// A customer's request: same version as the visit's last change, at the same time.
	req := entry(schemas.EntityVisit, "v1", 4, "update")
	req2 := *req
	req2.ID, req2.Action = "request/v1/cancel/1", "request_cancel"
	written = append(written, req, &req2)
	for _, e := range written {
		for range 2 { // a retried write records it once
			if err := au.Insert(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(es []schemas.AuditEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		entity, id   string
		afterVersion int64
		limit        int
		want         []string
	}{
		{"a customer's trail", schemas.EntityCustomer, "c1", 0, 10, []string{"customer/c1/1", "customer/c1/2", "customer/c1/3"}},
		{"its first page", schemas.EntityCustomer, "c1", 0, 2, []string{"customer/c1/1", "customer/c1/2"}},
		{"its next page", schemas.EntityCustomer, "c1", 2, 2, []string{"customer/c1/3"}},
		{"past its end", schemas.EntityCustomer, "c1", 3, 2, []string{}},
		{"another entity of the same id", schemas.EntityWorker, "c1", 0, 10, []string{"worker/c1/1"}},
		{"one version, two entries", schemas.EntityVisit, "v1", 0, 10, []string{"request/v1/cancel/1", "visit/v1/4"}},
		{"no trail", schemas.EntityVisit, "v2", 0, 10, []string{}},
	} {
		es, err := au.Trail(ctx, tc.entity, tc.id, tc.afterVersion, tc.limit)
		if err != nil || !slices.Equal(ids(es), tc.want) {
			t.Errorf("%s: Trail = %v, %v; want %v", tc.name, ids(es), err, tc.want)
		}
	}
	es, _ := au.Trail(ctx, schemas.EntityCustomer, "c2", 0, 1)
	if len(es) != 1 || es[0].ActorID != "admin" || !es[0].At.Equal(written[1].At) || len(es[0].Changes) != 1 || es[0].Changes[0].To != "b" {
		t.Errorf("entry reads back as %+v", es)
	}

	// The whole trail in time order (ties by id), a page at a time.
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		es, next, err := au.Since(ctx, start, after, 3)
		if err != nil || pages > 5 {
			t.Fatalf("Since page %d: %v", pages, err)
		}
		all = append(all, ids(es)...)
		if next == "" {
			break
		}
		after = next
	}
	want := []string{"customer/c1/1", "customer/c2/1", "customer/c1/2", "worker/c1/1", "customer/c1/3", "request/v1/cancel/1", "visit/v1/4"}
	if !slices.Equal(all, want) {
		t.Errorf("Since, paged = %v, want %v", all, want)
	}
	if es, _, err := au.Since(ctx, written[4].At, "", 10); err != nil || !slices.Equal(ids(es), want[4:]) {
		t.Errorf("Since a time = %v, %v; want %v", ids(es), err, want[4:])
	}
	if _, _, err := au.Since(ctx, start, "bogus", 10); !errors.Is(err, ErrCursor) {
		t.Errorf("Since with a bad cursor = %v, want ErrCursor", err)
	}
}
