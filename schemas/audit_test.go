package schemas

import (
	"reflect"
	"testing"
)

// TestDiffMasksWholeFields: a masked pattern is one entry, so which of its
// fields changed does not show either.
func TestDiffMasksWholeFields(t *testing.T) {
	before := &CustomerInput{Name: "林", Phone: "1", Household: Household{Pets: []string{}, Allergies: []string{}, Taboos: []string{}},
		Addresses: []Address{{ID: "a", Text: "x", Location: LatLng{Lat: 31.2, Lng: 121.4}}}}
	after := &CustomerInput{Name: "林", Phone: "1", Household: Household{Infants: true, Pets: []string{"猫"}, Allergies: []string{}, Taboos: []string{}},
		Addresses: []Address{{ID: "a", Text: "x", Location: LatLng{Lat: 31.3, Lng: 121.4}}}}
	got := Diff(before, after, "addresses.*.location", "household")
	want := []FieldChange{{Field: "addresses.0.location", From: Masked, To: Masked}, {Field: "household", From: Masked, To: Masked}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %+v, want %+v", got, want)
	}
	created := Diff(nil, after, "household")
	for _, c := range created {
		if c.Field == "household" && (c.From != nil || c.To != Masked) {
			t.Errorf("created household = %+v", c)
		}
		if len(c.Field) > len("household") && c.Field[:len("household")] == "household" {
			t.Errorf("household field %q listed on its own", c.Field)
		}
	}
}
