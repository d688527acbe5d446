package push

import (
	"strings"
	"time"
)

// Texts carry times and kinds, never an address, a phone or a position:
// FCM is a cross-border transfer.
var texts = map[string]map[string][2]string{
	"zh-CN": {
		"visit_assigned":        {"新的服务安排", "{time} 有一项新的上门服务，请打开应用查看"},
		"visit_changed":         {"服务安排有变动", "{time} 的服务有变动，请打开应用查看"},
		"visit_cancelled":       {"服务已取消", "{time} 的服务已取消"},
		"visit_reassigned_away": {"服务已改派", "{time} 的服务已安排给其他服务师"},
		"alert":                 {"需要处理", "有一条新的提醒，请查看"},
	},
	"en": {
		"visit_assigned":        {"New visit", "You have a new visit at {time}; open the app for details"},
		"visit_changed":         {"Visit changed", "Your visit at {time} changed; open the app for details"},
		"visit_cancelled":       {"Visit cancelled", "Your visit at {time} was cancelled"},
		"visit_reassigned_away": {"Visit reassigned", "Your visit at {time} went to another worker"},
		"alert":                 {"Needs attention", "A new alert needs you"},
	},
}

var alertTitles = map[string]map[string]string{
	"zh-CN": {"incident": "事故报告", "checkin_on_cancelled": "已取消的服务有签到", "fact_by_previous_assignee": "改派前的服务师有记录",
		"far_from_address": "签到位置离地址过远", "disputed_items": "客户对服务有异议", "low_rating": "客户低分评价", "signoff_final": "重复签收"},
	"en": {"incident": "Incident reported", "checkin_on_cancelled": "Check-in on a cancelled visit", "fact_by_previous_assignee": "Report from the previous worker",
		"far_from_address": "Check-in far from the address", "disputed_items": "Customer disputed the work", "low_rating": "Low rating", "signoff_final": "Second sign-off"},
}

// text returns the title and body of a kind in the locale (zh-CN default).
func text(locale, kind string, at time.Time) (string, string) {
	if _, ok := texts[locale]; !ok {
		locale = "zh-CN"
	}
	if rest, ok := strings.CutPrefix(kind, "alert_"); ok {
		t := texts[locale]["alert"]
		if title, ok := alertTitles[locale][rest]; ok {
			t[0] = title
		}
		return t[0], t[1]
	}
	t := texts[locale][kind]
	when := at.Format("01-02 15:04")
	if locale == "zh-CN" {
		when = at.Format("1月2日 15:04")
	}
	return t[0], strings.ReplaceAll(t[1], "{time}", when)
}
