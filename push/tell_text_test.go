package push

import (
	"strings"
	"testing"
	"time"
)

// TestCustomerNoticeTexts: every notice the office sends a household has a
// title and a body in each locale, and fills in the time it names.
func TestCustomerNoticeTexts(t *testing.T) {
	at := time.Date(2037, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, kind := range []string{"visit_booked", "visit_rescheduled", "visit_cancelled", "visit_worker_changed",
		"request_answered_reschedule", "request_answered_cancel", "complaint_acknowledged", "complaint_investigating",
		"complaint_remedy_proposed", "complaint_closed", "incident_reported", "incident_resolved", "worker_waiting", "visit_no_show"} {
		for _, locale := range []string{"zh-CN", "en"} {
			title, body := text(locale, kind, at)
			if title == "" || body == "" || strings.Contains(body, "{time}") {
				t.Errorf("%s %s: %q / %q", locale, kind, title, body)
			}
		}
	}
}
