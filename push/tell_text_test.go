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
		"complaint_remedy_proposed", "complaint_closed", "incident_reported", "incident_resolved",
		"escalation_received", "escalation_delayed", "escalation_resolved", "scope_change_requested",
		"schedule_booked", "schedule_changed", "schedule_ended",
		"worker_waiting", "visit_no_show"} {
		for _, locale := range []string{"zh-CN", "en"} {
			title, body := text(locale, kind, at)
			if title == "" || body == "" || strings.Contains(body, "{time}") {
				t.Errorf("%s %s: %q / %q", locale, kind, title, body)
			}
		}
	}
}

// TestScheduleRhythm: a schedule's days and start, in each locale.
func TestScheduleRhythm(t *testing.T) {
	for _, c := range []struct{ locale, weekdays, want string }{
		{"zh-CN", "2,5", "每周二、五 09:00"},
		{"en", "2,5", "every Tue, Fri at 09:00"},
		{"", "0", "每周日 09:00"},
		{"zh-CN", "0,1,2,3,4,5,6", "每天 09:00"},
		{"en", "0,1,2,3,4,5,6", "every day at 09:00"},
	} {
		if got := rhythm(c.locale, c.weekdays, "09:00"); got != c.want {
			t.Errorf("rhythm(%q, %q) = %q, want %q", c.locale, c.weekdays, got, c.want)
		}
	}
}
