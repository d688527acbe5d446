package push

import (
	"strconv"
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
		"worker_on_the_way":     {"服务师在路上", "服务师预计 {time} 到达"},
		"worker_checked_in":     {"服务师已到达", "服务师已于 {time} 到达并开始服务"},
		"ready_for_signoff":     {"服务已完成", "请查看并逐项确认服务内容"},
		"follow_up":             {"服务回访", "您对 {time} 的服务满意吗？欢迎评价"},
		"remind_customer_24h":   {"明天的上门服务", "服务师将于 {time} 上门，请提前做好准备"},
		"remind_customer_2h":    {"服务即将开始", "服务师将于 {time} 上门"},
		"remind_worker_evening": {"明天的服务安排", "明天 {time} 有上门服务，请提前查看客户注意事项"},
		"remind_worker_1h":      {"服务一小时后开始", "{time} 的服务即将开始，请准时出发"},
		"certificate_expiring":  {"证书即将到期", "您的证书将于 {date} 到期，请尽快续办，到期后将无法安排相关服务"},

		// A complaint closed without the customer's answer to the remedy.
		"complaint_closed_unanswered": {"投诉已结案", "我们提出的解决方案未收到您的答复，投诉已结案；我们会再联系您回访"},

		// What the office decided, told to the household.
		"visit_booked":                {"服务已预约", "已为您预约 {time} 的上门服务"},
		"visit_rescheduled":           {"服务时间已变更", "您的上门服务已改到 {time}"},
		"visit_worker_changed":        {"服务师已更换", "{time} 的服务将由 {worker} 为您提供"},
		"request_answered_reschedule": {"改期申请已处理", "您对 {time} 服务的改期申请已处理，请打开应用查看"},
		"request_answered_cancel":     {"取消申请已处理", "您对 {time} 服务的取消申请已处理，请打开应用查看"},
		"complaint_acknowledged":      {"投诉已受理", "我们已收到您的投诉并开始处理"},
		"complaint_investigating":     {"投诉处理中", "我们正在调查您反映的问题"},
		"complaint_remedy_proposed":   {"解决方案待您确认", "我们为您的投诉提出了解决方案，请打开应用查看并答复"},
		"complaint_closed":            {"投诉已结案", "您的投诉已处理完毕，感谢您的反馈"},
		"incident_reported":           {"服务中出现意外情况", "{time} 的服务中出现了意外情况，我们正在处理，处理完毕会告知您"},
		"incident_resolved":           {"意外情况已处理", "{time} 服务中的意外情况已处理完毕"},
		// An escalation from the door: when it will be handled, never what the worker wrote.
		"escalation_received": {"问题已上报", "服务师已将现场无法解决的问题上报公司，预计 {time} 前处理"},
		"escalation_delayed":  {"处理时间有变", "很抱歉，您的问题未能按原定时间处理，新的预计处理时间为 {time}"},
		"escalation_resolved": {"问题已处理", "服务师上报的问题已处理完毕，感谢您的耐心"},

		// A change of scope the worker proposed, for the household to answer.
		"scope_change_requested": {"服务内容变更待您确认", "服务师提出变更 {time} 的服务内容，请打开应用查看并确认是否同意"},

		// A recurring schedule, told once (not per generated visit; the
		// reminders cover each visit). {rhythm}: its days and start.
		"schedule_booked":  {"周期服务已预约", "已为您预约{rhythm}的周期上门服务，首次 {time}"},
		"schedule_changed": {"周期服务已变更", "您的周期上门服务已改为{rhythm}，下次 {time}"},
		"schedule_ended":   {"周期服务将结束", "您的周期上门服务将于 {date} 后结束"},

		// The worker's record at the door, and the office's no-show.
		"worker_waiting": {"服务师已在门口", "您的服务师已到您家门口，但联系不上您，请尽快与我们联系"},
		"visit_no_show":  {"服务未能进行", "{time} 的服务未能进行，已记为爽约；如需重新预约请联系我们"},

		// A message from the worker: never its text (lock screens are public).
		"visit_message": {"服务师给您发来消息", "关于 {time} 的服务，请打开应用查看"},
	},
	"en": {
		"visit_assigned":        {"New visit", "You have a new visit at {time}; open the app for details"},
		"visit_changed":         {"Visit changed", "Your visit at {time} changed; open the app for details"},
		"visit_cancelled":       {"Visit cancelled", "Your visit at {time} was cancelled"},
		"visit_reassigned_away": {"Visit reassigned", "Your visit at {time} went to another worker"},
		"alert":                 {"Needs attention", "A new alert needs you"},
		"worker_on_the_way":     {"Your worker is on the way", "Expected at {time}"},
		"worker_checked_in":     {"Your worker has arrived", "Arrived at {time} and started"},
		"ready_for_signoff":     {"Work done", "Please check and sign off each item"},
		"follow_up":             {"How did it go?", "Tell us about the visit of {time}"},
		"remind_customer_24h":   {"Visit tomorrow", "Your worker comes at {time}; please get ready"},
		"remind_customer_2h":    {"Visit soon", "Your worker comes at {time}"},
		"remind_worker_evening": {"Tomorrow's visit", "You have a visit at {time} tomorrow; read the household notes"},
		"remind_worker_1h":      {"Visit in one hour", "Your visit at {time} starts soon; leave on time"},
		"certificate_expiring":  {"Certificate expiring", "Your certificate expires on {date}; renew it, or visits that need it cannot be given to you"},

		"complaint_closed_unanswered": {"Complaint closed", "We had no answer to the remedy we proposed, so the complaint is closed; we will call you to follow up"},

		"visit_booked":                {"Visit booked", "Your visit is booked for {time}"},
		"visit_rescheduled":           {"Visit moved", "Your visit is now at {time}"},
		"visit_worker_changed":        {"New worker", "{worker} will come for your visit at {time}"},
		"request_answered_reschedule": {"Reschedule request answered", "We answered your request to move the visit of {time}; open the app for details"},
		"request_answered_cancel":     {"Cancellation request answered", "We answered your request to cancel the visit of {time}; open the app for details"},
		"complaint_acknowledged":      {"Complaint received", "We have your complaint and are on it"},
		"complaint_investigating":     {"Complaint under investigation", "We are looking into what you told us"},
		"complaint_remedy_proposed":   {"A remedy for you", "We propose a remedy for your complaint; open the app to answer"},
		"complaint_closed":            {"Complaint closed", "Your complaint is handled; thank you for telling us"},
		"incident_reported":           {"Something happened during your visit", "Something happened during the visit of {time}; we are handling it and will tell you when it is done"},
		"incident_resolved":           {"Incident handled", "What happened during the visit of {time} is handled"},
		"escalation_received":         {"Passed to the office", "Your worker passed what could not be solved on the spot to the office; expected to be handled by {time}"},
		"escalation_delayed":          {"New expected time", "Sorry, we could not handle it by the time we gave; it is now expected by {time}"},
		"escalation_resolved":         {"Handled", "What your worker passed to the office is handled; thank you for your patience"},

		"scope_change_requested": {"Change to your visit", "Your worker proposes a change to the visit of {time}; open the app to agree or refuse"},

		"schedule_booked":  {"Regular visits booked", "Your visits are booked {rhythm}, the first at {time}"},
		"schedule_changed": {"Regular visits changed", "Your visits are now {rhythm}, the next at {time}"},
		"schedule_ended":   {"Regular visits ending", "Your regular visits end after {date}"},

		"worker_waiting": {"Your worker is at your door", "Your worker is at your door and could not reach you; please contact us"},
		"visit_no_show":  {"Visit did not take place", "The visit of {time} did not take place and is recorded as a no-show; contact us to book again"},

		"visit_message": {"New message from your worker", "About your visit of {time}; open the app to read it"},
	},
}

var alertTitles = map[string]map[string]string{
	"zh-CN": {"correction_disputed": "服务师对时间更正有异议", "customer_request_reschedule": "客户申请改期", "customer_request_cancel": "客户申请取消", "incident_escalated": "严重事故未及时响应", "complaint": "收到客户投诉", "complaint_sla_breach": "投诉超时未响应", "late": "服务师未按时签到", "missed": "服务师缺席", "incident": "事故报告", "checkin_on_cancelled": "已取消的服务有签到", "fact_by_previous_assignee": "改派前的服务师有记录",
		"far_from_address": "签到位置离地址过远", "disputed_items": "客户对服务有异议", "low_rating": "客户低分评价", "signoff_final": "重复签收",
		"visit_full": "服务记录已达上限", "presence_locked": "到场码错误过多，已锁定", "certificate_expiring": "服务师证书30天内到期",
		"escalation": "服务师上报问题", "escalation_overdue": "上报问题超过承诺时间未处理",
		"customer_not_home": "客户不在家", "absent_after_checkin": "签到后又报告客户不在家", "scope_refused_item": "客户拒绝的服务变更项目有进度",
		"push_config_error": "推送配置错误", "assignment_declined": "服务师拒绝了派单", "assignment_unanswered": "服务师未确认派单",
		"fact_after_no_show": "已记爽约的服务又有现场记录", "outside_window": "签到时间远离预约时间", "rescheduled_while_offline": "离线期间服务已改期",
		"manual_attendance": "手动签到", "clock_skew": "手机时间不准", "future_time": "记录时间晚于接收时间", "second_checkin": "重复签到",
		"second_checkout": "重复签退", "checkout_without_checkin": "未签到即签退", "signoff_before_checkout": "签退前已签收",
		"checklist_same_item": "两台设备修改同一项目", "presence_code_invalid": "到场码不正确", "presence_code_reused": "到场码重复使用",
		"scope_answered": "服务变更的两个答复冲突", "second_customer_absent": "再次报告客户不在家"},
	"en": {"correction_disputed": "Worker disputes a time correction", "customer_request_reschedule": "Customer asks to reschedule", "customer_request_cancel": "Customer asks to cancel", "incident_escalated": "Critical incident unanswered", "complaint": "Complaint received", "complaint_sla_breach": "Complaint response overdue", "late": "Late check-in", "missed": "Missed visit", "incident": "Incident reported", "checkin_on_cancelled": "Check-in on a cancelled visit", "fact_by_previous_assignee": "Report from the previous worker",
		"far_from_address": "Check-in far from the address", "disputed_items": "Customer disputed the work", "low_rating": "Low rating", "signoff_final": "Second sign-off",
		"visit_full": "Visit record is full", "presence_locked": "Presence code locked after wrong codes", "certificate_expiring": "A worker's certificate expires within 30 days",
		"escalation": "A worker escalated a problem", "escalation_overdue": "Escalation past its promised time",
		"customer_not_home": "Customer not at home", "absent_after_checkin": "Customer not at home reported after check-in", "scope_refused_item": "Work on an item the customer refused",
		"push_config_error": "Push is misconfigured", "assignment_declined": "A worker declined a visit", "assignment_unanswered": "A worker has not answered an assignment",
		"fact_after_no_show": "Field record on a no-show visit", "outside_window": "Check-in far from the booked time", "rescheduled_while_offline": "Visit moved while the phone was offline",
		"manual_attendance": "Manual check-in", "clock_skew": "Phone clock is off", "future_time": "Record dated after its receipt", "second_checkin": "Second check-in",
		"second_checkout": "Second check-out", "checkout_without_checkin": "Check-out without check-in", "signoff_before_checkout": "Signed off before check-out",
		"checklist_same_item": "Two phones changed one item", "presence_code_invalid": "Wrong presence code", "presence_code_reused": "Presence code used twice",
		"scope_answered": "Two answers to a change of scope", "second_customer_absent": "Customer not at home reported again"},
}

// AlertTitle is an alert kind's own title in the locale; "" when it has
// none and the generic one would be shown.
func AlertTitle(locale, kind string) string { return alertTitles[locale][kind] }

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

// weekdayNames name a schedule's days, Sunday first.
var weekdayNames = map[string][7]string{
	"zh-CN": {"日", "一", "二", "三", "四", "五", "六"},
	"en":    {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
}

// rhythm names a schedule's days (weekdays as "2,5", 0 = Sunday) and
// start ("09:00") in the locale: "每周二、五 09:00", "every Tue, Fri at
// 09:00"; every day is "每天" / "every day".
func rhythm(locale, weekdays, start string) string {
	if _, ok := texts[locale]; !ok {
		locale = "zh-CN"
	}
	var days []string
	for d := range strings.SplitSeq(weekdays, ",") {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 && n < 7 {
			days = append(days, weekdayNames[locale][n])
		}
	}
	if locale == "zh-CN" {
		if len(days) == 7 {
			return "每天 " + start
		}
		return "每周" + strings.Join(days, "、") + " " + start
	}
	if len(days) == 7 {
		return "every day at " + start
	}
	return "every " + strings.Join(days, ", ") + " at " + start
}
