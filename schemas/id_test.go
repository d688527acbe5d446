package schemas

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDAtCarriesTheGivenTime(t *testing.T) {
	at := time.Date(2037, 11, 24, 9, 0, 0, 123_456_789, time.UTC)
	var ids []string
	for range 5000 { // more than one millisecond's counter holds
		ids = append(ids, NewIDAt(at))
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if !ValidID(id) || seen[id] {
			t.Fatalf("id %d %q: valid %v, repeated %v", i, id, ValidID(id), seen[id])
		}
		seen[id] = true
		got, ok := IDTime(id)
		if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("IDTime(%s) = %s %v, want %s", id, got, ok, at.Truncate(time.Millisecond))
		}
	}
	// Made in one millisecond, they still sort in the order made (as far as
	// the counter reaches).
	if !sort.StringsAreSorted(ids[:3000]) {
		t.Fatal("ids of one millisecond do not sort by creation")
	}
	later := NewIDAt(at.Add(time.Millisecond))
	if later <= ids[len(ids)-1] {
		t.Fatalf("an id of the next millisecond %s sorts before %s", later, ids[len(ids)-1])
	}
	if _, ok := IDTime(NewID()); !ok {
		t.Fatal("NewID is not a UUIDv7")
	}
	if _, ok := IDTime("6ba7b812-9dad-11d1-80b4-00c04fd430c8"); ok {
		t.Fatal("a UUIDv1 has no v7 time")
	}
}
