package api

import (
	"testing"

	"fieldsync/push"
)

// TestEveryAlertKindHasATitle: every alert kind the API document lists
// (the office's, the scheduler's, the sync engine's, every rule that needs
// review) has its own push title in each locale, not the generic "needs
// attention": a supervisor's lock screen says what happened.
func TestEveryAlertKindHasATitle(t *testing.T) {
	for _, kind := range alertKinds {
		for _, locale := range []string{"zh-CN", "en"} {
			if push.AlertTitle(locale, kind) == "" {
				t.Errorf("alert kind %s has no %s title (push/text.go alertTitles)", kind, locale)
			}
		}
	}
}
