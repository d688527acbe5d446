package sync

import (
	"strings"
	"testing"
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
