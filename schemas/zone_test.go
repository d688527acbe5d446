package schemas

import (
	"os"
	"testing"
	"time"
)

// TestTZIsHonoured keeps the suite's runs in other zones (.ci/run) honest:
// a zone the machine does not know leaves Go on UTC without a word.
func TestTZIsHonoured(t *testing.T) {
	tz := os.Getenv("TZ")
	if tz == "" || tz == "UTC" {
		t.Skip("TZ unset: the machine's zone")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("TZ=%s: %v", tz, err)
	}
	at := time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)
	_, got := at.Local().Zone()
	_, want := at.In(loc).Zone()
	if got != want {
		t.Fatalf("TZ=%s: local offset %ds, want %ds", tz, got, want)
	}
}
