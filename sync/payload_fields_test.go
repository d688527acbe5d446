package sync

import (
	"strings"
	"testing"

	"fieldsync/schemas"
)

// TestNewFieldsOnOtherKinds: a field of one of the schemaVersion 4 kinds
// sent on another kind is as unknown to it as a newer app's field: it is
// kept in Extra (sealed at rest, counted against MaxVisitBytes), not taken
// as a clear, uncounted field the fold never reads. Before the new kinds,
// "changeId" on a note was Extra; it must not have become a way around
// visit_full and the seal.
func TestNewFieldsOnOtherKinds(t *testing.T) {
	long := strings.Repeat("宝宝过敏", 60)                         // a code field's most: 256 characters
	many := `"` + strings.Repeat(long+`","`, 999) + long + `"` // a thousand of them: only changeScope bounds drop
	cases := []struct{ kind, payload, field string }{
		{KindNote, `{"text":"x","changeId":"` + long + `"}`, "changeId"},
		{KindNote, `{"text":"x","decision":"` + long + `"}`, "decision"},
		{KindNote, `{"text":"x","topic":"` + long + `"}`, "topic"},
		{KindNote, `{"text":"x","urgency":"` + long + `"}`, "urgency"},
		{KindNote, `{"text":"x","drop":[` + many + `]}`, "drop"},
		{KindNote, `{"text":"x","add":[{"title":"` + long + `"}]}`, "add"},
		{KindScope, `{"add":[{"title":"t"}],"reason":"r","changeId":"` + long + `"}`, "changeId"},
		{KindMessage, `{"text":"x","topic":"` + long + `"}`, "topic"},
		{KindCheckIn, `{"location":{"lat":31.2,"lng":121.45},"waitedMinutes":5,"calledCustomer":true}`, "waitedMinutes"},
	}
	for _, c := range cases {
		p, err := decodePayload(&Op{Kind: c.kind, Payload: []byte(c.payload)})
		if err != nil {
			t.Fatalf("%s %.60s: %v", c.kind, c.payload, err)
		}
		if _, ok := p.Extra[c.field]; !ok {
			t.Errorf("%s with %s: not kept in Extra (extra %v)", c.kind, c.field, len(p.Extra))
		}
		if p.ChangeID != "" || p.Decision != "" || p.Topic != "" || p.Urgency != "" || len(p.Drop) > 0 || p.WaitedMinutes != nil || p.CalledCustomer != nil ||
			(c.kind != KindScope && len(p.Add) > 0) {
			t.Errorf("%s with %s: read as a field of the kind: %+v", c.kind, c.field, p)
		}
		if c.field == "drop" && payloadSize(&p) < int64(len(many)) {
			t.Errorf("note with drop: counts %d bytes, the field has %d", payloadSize(&p), len(many))
		}
		if c.field != "waitedMinutes" && payloadSize(&p) < int64(len(long)) {
			t.Errorf("%s with %s: counts %d bytes, the field has %d", c.kind, c.field, payloadSize(&p), len(long))
		}
	}
	// Each kind still reads its own.
	p, err := decodePayload(&Op{Kind: KindEscalate, Payload: []byte(`{"topic":"safety","urgency":"urgent","text":"gas"}`)})
	if err != nil || p.Topic != "safety" || p.Urgency != "urgent" || len(p.Extra) != 0 {
		t.Fatalf("escalate: %+v %v", p, err)
	}
	p, err = decodePayload(&Op{Kind: KindScope, Payload: []byte(`{"add":[{"title":"t"}],"drop":["kitchen"],"reason":"r"}`)})
	if err != nil || len(p.Add) != 1 || len(p.Drop) != 1 || len(p.Extra) != 0 {
		t.Fatalf("changeScope: %+v %v", p, err)
	}
}

// TestScopeSizeCounted: what a changeScope adds to the visit's field
// state counts against MaxVisitBytes: the ids it drops (up to 100, an
// added item's id is a 38-character <changeId>.N) and each added item's
// derived id, as a photo's reference counts. Uncounted, each change of
// 100 drops adds some 3.8 KB to the visit: 3,000 of them (MaxVisitOps)
// some 11 MB under a cap of 512 KiB (a MongoDB document holds 16 MB).
func TestScopeSizeCounted(t *testing.T) {
	var drop []string
	for i := range MaxScopeDrop {
		drop = append(drop, schemas.ScopeItemID(schemas.NewID(), i%10))
	}
	p := Payload{Drop: drop, Reason: "r"}
	var ids int64
	for _, id := range drop {
		ids += int64(len(id))
	}
	if n := payloadSize(&p); n < ids {
		t.Fatalf("a change dropping %d items counts %d bytes, its ids hold %d", len(drop), n, ids)
	}
	add := Payload{Add: make([]schemas.ScopeItem, MaxScopeAdd), Reason: "r"}
	for i := range add.Add {
		add.Add[i].Title = "t"
	}
	if n := payloadSize(&add); n < int64(MaxScopeAdd*len(schemas.ScopeItemID(schemas.NewID(), 9))) {
		t.Fatalf("a change adding %d items counts %d bytes, less than their ids", MaxScopeAdd, n)
	}
}
