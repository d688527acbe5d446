package push

import (
	"regexp"
	"testing"
	"time"
)

// TestAlertTexts: every alert kind has its own title in each locale, not
// the generic one, and no text carries digits that could be a phone or an
// address (times are filled in from the visit).
func TestAlertTexts(t *testing.T) {
	kinds := []string{"visit_full", "presence_locked"}
	for k := range alertTitles["zh-CN"] {
		kinds = append(kinds, k)
	}
	digits := regexp.MustCompile(`[0-9０-９]{3,}`)
	for _, locale := range []string{"zh-CN", "en"} {
		generic := texts[locale]["alert"][0]
		for _, k := range kinds {
			title, body := text(locale, "alert_"+k, time.Time{})
			if title == generic || title == "" {
				t.Errorf("%s %s: generic title %q", locale, k, title)
			}
			if body == "" || digits.MatchString(title+body) {
				t.Errorf("%s %s: text %q / %q", locale, k, title, body)
			}
		}
	}
}
