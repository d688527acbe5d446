package api

import (
	"github.com/gofiber/fiber/v2"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// route is one endpoint: how it is served and how it is documented. The
// app and the OpenAPI document are both built from routes(), and a test
// checks the document against what Fiber actually registered.
type route struct {
	method  string
	path    string // Fiber syntax: /v1/users/:id
	summary string
	tag     string
	public  bool           // no token needed
	roles   []schemas.Role // empty: any signed-in user
	query   []param        // documented query parameters
	body    any            // request body type, for the document
	rawBody string         // content type of a non-JSON body
	resp    any            // success response type; nil for 204
	status  int            // success status
	handler fiber.Handler
}

type param struct {
	name, desc, typ string
}

func (a *API) routes() []route {
	admin := []schemas.Role{schemas.RoleAdmin}
	officeRoles := []schemas.Role{schemas.RoleAdmin, schemas.RoleSupervisor}
	staff := []schemas.Role{schemas.RoleAdmin, schemas.RoleSupervisor, schemas.RoleWorker}
	worker := []schemas.Role{schemas.RoleWorker}
	customer := []schemas.Role{schemas.RoleCustomer}
	notWorker := []schemas.Role{schemas.RoleAdmin, schemas.RoleSupervisor, schemas.RoleCustomer}
	page := []param{{"after", "opaque cursor from the previous page's nextCursor", "string"}, {"limit", "page size, 1-200 (default 50)", "integer"}}
	return []route{
		{method: "GET", path: "/healthz", summary: "Liveness: 200 while the process runs", tag: "ops", public: true, resp: Status{}, status: 200, handler: a.healthz},
		{method: "GET", path: "/readyz", summary: "Readiness: 200 only when the store answers a ping and the instance is not shutting down (then 503)", tag: "ops", public: true, resp: Status{}, status: 200, handler: a.readyz},
		{method: "GET", path: "/openapi.json", summary: "This document", tag: "ops", public: true, resp: map[string]any{}, status: 200, handler: a.openapi},

		{method: "POST", path: "/v1/auth/login", summary: "Sign in on a device; returns an access and a refresh token", tag: "auth", public: true, body: LoginRequest{}, resp: TokenResponse{}, status: 200, handler: a.login},
		{method: "POST", path: "/v1/auth/refresh", summary: "Exchange a refresh token and the session's deviceId for a new pair (rotation; a repeat within REFRESH_GRACE gets the same pair, a later reuse revokes the session)", tag: "auth", public: true, body: RefreshRequest{}, resp: TokenResponse{}, status: 200, handler: a.refresh},
		{method: "POST", path: "/v1/auth/logout", summary: "End this device's session", tag: "auth", status: 204, handler: a.logout},
		{method: "GET", path: "/v1/me", summary: "The signed-in user", tag: "auth", resp: schemas.User{}, status: 200, handler: a.me},

		{method: "GET", path: "/v1/users", summary: "List accounts", tag: "users", roles: admin, query: append([]param{{"role", "only this role", "string"}}, page...), resp: UserPage{}, status: 200, handler: a.listUsers},
		{method: "POST", path: "/v1/users", summary: "Create an account", tag: "users", roles: admin, body: schemas.NewUser{}, resp: schemas.User{}, status: 201, handler: a.createUser},
		{method: "GET", path: "/v1/users/:id", summary: "One account", tag: "users", roles: admin, resp: schemas.User{}, status: 200, handler: a.getUser},
		{method: "PATCH", path: "/v1/users/:id", summary: "Change an account; disabling it ends its sessions at once", tag: "users", roles: admin, body: schemas.UserUpdate{}, resp: schemas.User{}, status: 200, handler: a.updateUser},

		{method: "GET", path: "/v1/workers", summary: "List workers (supervisors: their team)", tag: "workers", roles: officeRoles, query: append([]param{{"team", "only this team", "string"}, {"status", "active, suspended or left", "string"}, {"skill", "only workers with this skill", "string"}}, page...), resp: schemas.Page[schemas.Worker]{}, status: 200, handler: a.listWorkers},
		{method: "POST", path: "/v1/workers", summary: "Add a worker", tag: "workers", roles: officeRoles, body: schemas.WorkerInput{}, resp: schemas.Worker{}, status: 201, handler: a.createWorker},
		{method: "GET", path: "/v1/workers/:id", summary: "One worker (workers: themselves)", tag: "workers", roles: staff, resp: views{schemas.Worker{}, office.WorkerSelf{}}, status: 200, handler: a.getWorker},
		{method: "PUT", path: "/v1/workers/:id", summary: "Replace a worker at the version you loaded: the body names every field (supervisors: their team's workers, within the team)", tag: "workers", roles: officeRoles, body: WorkerPut{}, resp: schemas.Worker{}, status: 200, handler: a.putWorker},

		{method: "GET", path: "/v1/customers", summary: "List customers (supervisors: their team's and those their team visits)", tag: "customers", roles: officeRoles, query: append([]param{{"phone", "find by phone number", "string"}, {"team", "admins: only this team", "string"}}, page...), resp: schemas.Page[schemas.Customer]{}, status: 200, handler: a.listCustomers},
		{method: "POST", path: "/v1/customers", summary: "Add a customer; phone, addresses and access notes are encrypted at rest", tag: "customers", roles: officeRoles, body: schemas.CustomerInput{}, resp: schemas.Customer{}, status: 201, handler: a.createCustomer},
		{method: "GET", path: "/v1/customers/:id", summary: "One customer (customers: themselves)", tag: "customers", roles: notWorker, resp: views{schemas.Customer{}, office.CustomerSelf{}}, status: 200, handler: a.getCustomer},
		{method: "GET", path: "/v1/customers/:id/notification-channel", summary: "How the household wants the notices that may go by SMS: fcm (the app, SMS when it cannot be reached; the default), sms, both (customers: themselves; supervisors: their team's customers)", tag: "customers", roles: notWorker, resp: office.NotificationChannel{}, status: 200, handler: a.getNotificationChannel},
		{method: "PUT", path: "/v1/customers/:id/notification-channel", summary: "Set it: the household in its app, or the office for a household that phoned in; audited (entity notificationChannel, the account's id); 409 no_account for a customer without an account", tag: "customers", roles: notWorker, body: office.NotificationChannel{}, resp: office.NotificationChannel{}, status: 200, handler: a.putNotificationChannel},
		{method: "PUT", path: "/v1/customers/:id", summary: "Replace a customer at the version you loaded: the body names every field (supervisors: their team's customers, within the team)", tag: "customers", roles: officeRoles, body: CustomerPut{}, resp: schemas.Customer{}, status: 200, handler: a.putCustomer},

		{method: "GET", path: "/v1/service-types", summary: "The service catalog (non-office roles: active entries)", tag: "catalog", query: page, resp: schemas.Page[schemas.ServiceType]{}, status: 200, handler: a.listServiceTypes},
		{method: "POST", path: "/v1/service-types", summary: "Add a service with its checklist and prices", tag: "catalog", roles: admin, body: schemas.ServiceTypeInput{}, resp: schemas.ServiceType{}, status: 201, handler: a.createServiceType},
		{method: "GET", path: "/v1/service-types/:id", summary: "One service", tag: "catalog", resp: schemas.ServiceType{}, status: 200, handler: a.getServiceType},
		{method: "PUT", path: "/v1/service-types/:id", summary: "Replace a service at the version you loaded (the body names every field); planned visits keep their checklist", tag: "catalog", roles: admin, body: ServiceTypePut{}, resp: schemas.ServiceType{}, status: 200, handler: a.putServiceType},

		{method: "GET", path: "/v1/visits", summary: "List visits the caller may see, by start time", tag: "visits", query: append([]param{{"day", "a date, in tz", "string"}, {"tz", "zone of day (default Asia/Shanghai)", "string"}, {"from", "RFC 3339: start at or after", "string"}, {"to", "RFC 3339: start before", "string"}, {"workerId", "only this worker", "string"}, {"customerId", "only this customer", "string"}, {"status", "comma-separated statuses", "string"}}, page...), resp: pageOfViews{office.VisitView{}, office.WorkerVisit{}, office.CustomerVisit{}}, status: 200, handler: a.listVisits},
		{method: "POST", path: "/v1/visits", summary: "Plan a visit", tag: "visits", roles: officeRoles, body: schemas.NewVisit{}, resp: office.VisitView{}, status: 201, handler: a.createVisit},
		{method: "GET", path: "/v1/visits/:id", summary: "One visit, with the household (assigned worker, day before to day after) or the worker's profile (customer)", tag: "visits", resp: views{office.VisitView{}, office.WorkerVisit{}, office.CustomerVisit{}}, status: 200, handler: a.getVisit},
		{method: "POST", path: "/v1/visits/:id/reschedule", summary: "Move a visit that has not started", tag: "visits", roles: officeRoles, body: RescheduleBody{}, resp: office.VisitView{}, status: 200, handler: a.rescheduleVisit},
		{method: "POST", path: "/v1/visits/:id/reassign", summary: "Give a visit that has not started to another worker", tag: "visits", roles: officeRoles, body: ReassignBody{}, resp: office.VisitView{}, status: 200, handler: a.reassignVisit},
		{method: "POST", path: "/v1/visits/:id/unassign", summary: "Take the worker off a visit that has not started", tag: "visits", roles: officeRoles, body: CancelBody{}, resp: office.VisitView{}, status: 200, handler: a.unassignVisit},
		{method: "POST", path: "/v1/visits/:id/cancel", summary: "Cancel a visit that has not started, with a reason", tag: "visits", roles: officeRoles, body: CancelBody{}, resp: office.VisitView{}, status: 200, handler: a.cancelVisit},
		{method: "POST", path: "/v1/visits/:id/no-show", summary: "Mark a visit that did not take place a no-show, from its start on and while it has no check-in: the customer's (needs the worker's customerAbsent record) or the worker's; the household is told", tag: "visits", roles: officeRoles, body: NoShowBody{}, resp: office.VisitView{}, status: 200, handler: a.noShowVisit},
		{method: "GET", path: "/v1/visits/:id/candidates", summary: "Workers ranked for a visit, with the reasons", tag: "visits", roles: officeRoles, resp: schemas.Page[office.Candidate]{}, status: 200, handler: a.visitCandidates},

		{method: "GET", path: "/v1/schedules", summary: "List recurring schedules", tag: "schedules", roles: officeRoles, query: page, resp: schemas.Page[schemas.Schedule]{}, status: 200, handler: a.listSchedules},
		{method: "POST", path: "/v1/schedules", summary: "Add a recurring schedule; its visits are generated up to the horizon (unbooked: occurrences its worker cannot take safely, generated without a worker, with the reasons)", tag: "schedules", roles: officeRoles, body: schemas.ScheduleInput{}, resp: office.ScheduleView{}, status: 201, handler: a.createSchedule},
		{method: "GET", path: "/v1/schedules/:id", summary: "One schedule", tag: "schedules", roles: officeRoles, resp: schemas.Schedule{}, status: 200, handler: a.getSchedule},
		{method: "PUT", path: "/v1/schedules/:id", summary: "Replace a schedule at the version you loaded (the body names every field; supervisors: their team's); future visits nobody edited follow it", tag: "schedules", roles: officeRoles, body: SchedulePut{}, resp: office.ScheduleView{}, status: 200, handler: a.putSchedule},
		{method: "POST", path: "/v1/schedules/:id/end", summary: "End a schedule after a date; later generated visits are cancelled", tag: "schedules", roles: officeRoles, body: ScheduleEnd{}, resp: office.ScheduleView{}, status: 200, handler: a.endSchedule},
		{method: "POST", path: "/v1/schedules/generate", summary: "Generate visits of every schedule up to the horizon now (also runs hourly)", tag: "schedules", roles: admin, resp: GenerateResult{}, status: 200, handler: a.generateVisits},

		{method: "POST", path: "/v1/sync/push", summary: "Push a batch of operations from a worker's phone: each applied once, in order, with a result each", tag: "sync", roles: worker, body: PushBody{}, resp: fsync.PushResponse{}, status: 200, handler: a.syncPush},
		{method: "GET", path: "/v1/sync/pull", summary: "What changed in the phone's scope since the cursor (no cursor, or an expired one: a full snapshot marked resync)", tag: "sync", roles: worker, query: []param{{"cursor", "from the previous pull or push", "string"}}, resp: PullView{}, status: 200, handler: a.syncPull},
		{method: "GET", path: "/v1/sync/device", summary: "This phone's own sync state: the seq to number from (nextSeq), the last recorded seq, a pending gap, and the push protocol versions the server speaks", tag: "sync", roles: worker, resp: fsync.DeviceState{}, status: 200, handler: a.syncDevice},
		{method: "GET", path: "/v1/sync/devices", summary: "Sync health of phones: last push and pull, last applied seq, pending gap, versions, rejections in the last day", tag: "sync", roles: officeRoles, query: []param{{"workerId", "only this worker", "string"}}, resp: schemas.Page[fsync.Device]{}, status: 200, handler: a.syncDevices},
		{method: "GET", path: "/v1/visits/:id/presence", summary: "The visit's presence-code secret (TOTP) for the customer's app", tag: "sync", roles: customer, resp: PresenceSecret{}, status: 200, handler: a.presenceSecret},
		{method: "POST", path: "/v1/attachments", summary: "Announce an upload by SHA-256, size and type; answers the offset to resume from (complete when stored already)", tag: "attachments", body: fsync.NewUpload{}, resp: fsync.Attachment{}, status: 201, handler: a.startUpload},
		{method: "HEAD", path: "/v1/attachments/:sha/upload", summary: "tus: the upload's offset (Upload-Offset) and length (Upload-Length)", tag: "attachments", status: 200, handler: a.uploadOffset},
		{method: "PATCH", path: "/v1/attachments/:sha/upload", summary: "tus: append a chunk at Upload-Offset; the last chunk is verified against the hash", tag: "attachments", rawBody: "application/offset+octet-stream", status: 204, handler: a.uploadChunk},
		{method: "GET", path: "/v1/attachments/:sha", summary: "The content, to the uploader and to those who may see a visit that references it", tag: "attachments", status: 200, handler: a.getAttachment},
		{method: "GET", path: "/v1/reviews", summary: "Visits whose facts need a decision, the earliest visit first (it has waited longest)", tag: "sync", roles: officeRoles, query: queueParams(reviewFilter, page), resp: schemas.Page[office.VisitView]{}, status: 200, handler: a.listReviews},
		{method: "POST", path: "/v1/visits/:id/review", summary: "Resolve what needed review on a visit, with a note", tag: "sync", roles: officeRoles, body: ReviewBody{}, resp: office.VisitView{}, status: 200, handler: a.resolveReview},

		{method: "POST", path: "/v1/devices", summary: "Register or refresh this device's FCM token, platform, app version, locale and time zone", tag: "push", body: DeviceBody{}, status: 204, handler: a.registerDevice},
		{method: "GET", path: "/v1/notifications", summary: "Notifications of a visit or a user, newest first, with their delivery state (supervisors: their team's visits)", tag: "push", roles: officeRoles, query: append([]param{{"visitId", "only this visit", "string"}, {"userId", "only this recipient (admins)", "string"}}, page...), resp: schemas.Page[push.Notification]{}, status: 200, handler: a.listNotifications},

		{method: "GET", path: "/v1/push/metrics", summary: "Push counters of this instance: sent, failed, retried, dropped, tokens removed", tag: "push", roles: admin, resp: PushMetrics{}, status: 200, handler: a.pushMetrics},

		{method: "POST", path: "/v1/visits/:id/confirm", summary: "The household confirms an upcoming visit", tag: "customers", roles: customer, resp: office.CustomerVisit{}, status: 200, handler: a.confirmVisit},
		{method: "POST", path: "/v1/visits/:id/requests", summary: "The household asks to reschedule or cancel; the office decides (202)", tag: "customers", roles: customer, body: office.ChangeRequest{}, status: 202, handler: a.requestChange},
		{method: "POST", path: "/v1/visits/:id/signoff", summary: "The household signs off in its own app: the same fact as a sign-off on the worker's phone; the first stands", tag: "customers", roles: customer, body: fsync.CustomerSignOff{}, resp: SignOffView{}, status: 200, handler: a.customerSignOff},
		{method: "POST", path: "/v1/visits/:id/scope/:changeId", summary: "The household agrees to or refuses a change of scope the worker proposed (changeId: the changeScope's opId), or the office records its answer given by phone, with a note (admins; supervisors, own team); the same answer again answers the same, another answer once one stands is 409", tag: "customers", roles: notWorker, body: fsync.ScopeAnswer{}, resp: views{office.VisitView{}, office.CustomerVisit{}}, status: 200, handler: a.answerScope},
		{method: "POST", path: "/v1/visits/:id/messages", summary: "The household writes to its worker about the visit, relayed by the server (no numbers pass: digit runs are masked); open from MESSAGES_OPEN_BEFORE before the start to MESSAGES_CLOSE_AFTER after the end or check-out, else 409 thread_closed; the same messageId again is a no-op", tag: "customers", roles: customer, body: fsync.CustomerMessage{}, resp: schemas.MessageThread{}, status: 200, handler: a.postMessage},
		{method: "GET", path: "/v1/visits/:id/messages", summary: "The visit's thread between the household and its worker, with the window it may be written in", tag: "customers", roles: customer, resp: schemas.MessageThread{}, status: 200, handler: a.getMessages},
		{method: "POST", path: "/v1/visits/:id/rework", summary: "Plan a rework visit for the items the customer disputed; the disputed visit is done when the rework is accepted", tag: "supervisors", roles: officeRoles, body: office.ReworkBody{}, resp: office.VisitView{}, status: 201, handler: a.planRework},
		{method: "GET", path: "/v1/reports/monthly", summary: "Per worker, team and in total for a month, all from the same records: visits due, done, missed, on-time check-ins (missed ones count against), early leaves, trusted and self-entered ratings apart, disputes, reworks, complaints, incidents; complaint SLA attainment (JSON or CSV)", tag: "supervisors", roles: officeRoles, query: []param{{"month", "like 2026-11 (default: this month)", "string"}, {"team", "admins: only this team", "string"}, {"format", "json (default) or csv", "string"}}, resp: office.MonthlyFigures{}, status: 200, handler: a.monthlyReport},
		{method: "GET", path: "/v1/reports/quarterly", summary: "Quarterly review per worker: the quarter's figures beside the company's thresholds, pass/fail per dimension (quality, efficiency, satisfaction), and a flag for a second failed quarter in a row (JSON or CSV)", tag: "supervisors", roles: officeRoles, query: []param{{"quarter", "like 2026-Q4 (default: this quarter)", "string"}, {"team", "admins: only this team", "string"}, {"format", "json (default) or csv", "string"}}, resp: office.QuarterlyReview{}, status: 200, handler: a.quarterlyReview},
		{method: "GET", path: "/v1/reports/breakdowns", summary: "A month's complaints by category, service type and worker, and ratings by service type", tag: "supervisors", roles: officeRoles, query: []param{{"month", "like 2026-11 (default: this month)", "string"}, {"team", "admins: only this team", "string"}}, resp: office.Breakdowns{}, status: 200, handler: a.breakdowns},
		{method: "GET", path: "/v1/reports/trends", summary: "Totals month by month, with the change from the month before", tag: "supervisors", roles: officeRoles, query: []param{{"from", "first month, like 2026-06 (default: five months before to)", "string"}, {"to", "last month, inclusive (default: this month); at most 24 months", "string"}, {"team", "admins: only this team", "string"}}, resp: office.Trends{}, status: 200, handler: a.trends},
		{method: "GET", path: "/v1/followups", summary: "Follow-ups after a sign-off or a closed complaint (due a day later, at the latest a week): the open ones first, soonest due first, then the done ones; overdue flagged", tag: "supervisors", roles: officeRoles, query: queueParams(followUpFilter, page), resp: schemas.Page[schemas.FollowUp]{}, status: 200, handler: a.listFollowUps},
		{method: "POST", path: "/v1/followups/:id/complete", summary: "Record what came of a follow-up", tag: "supervisors", roles: officeRoles, body: FollowUpBody{}, resp: schemas.FollowUp{}, status: 200, handler: a.completeFollowUp},
		{method: "POST", path: "/v1/visits/:id/corrections", summary: "Correct a check-in or check-out time with a reason code; the phone's record is kept beside it", tag: "supervisors", roles: officeRoles, body: schemas.NewCorrection{}, resp: office.VisitView{}, status: 200, handler: a.correctTime},
		{method: "POST", path: "/v1/visits/:id/corrections/:n/dispute", summary: "The assigned worker disputes a correction of their visit's times; it goes to the supervisor's feed", tag: "workers", roles: worker, body: DisputeBody{}, resp: office.WorkerVisit{}, status: 200, handler: a.disputeCorrection},
		{method: "GET", path: "/v1/alerts", summary: "The alert feed: what needs a supervisor, newest first (admins: all)", tag: "supervisors", roles: officeRoles, query: queueParams(alertFilter, page), resp: schemas.Page[schemas.Alert]{}, status: 200, handler: a.listAlerts},
		{method: "POST", path: "/v1/alerts/:id/acknowledge", summary: "Acknowledge an alert, with an optional note", tag: "supervisors", roles: officeRoles, body: AlertNote{}, resp: schemas.Alert{}, status: 200, handler: a.ackAlert},
		{method: "POST", path: "/v1/alerts/:id/resolve", summary: "Resolve an alert with a note", tag: "supervisors", roles: officeRoles, body: AlertNote{}, resp: schemas.Alert{}, status: 200, handler: a.resolveAlert},

		{method: "POST", path: "/v1/complaints", summary: "File a complaint (attitude, quality, safety, fees, privacy, misconduct, other), optionally about a visit", tag: "complaints", roles: customer, body: schemas.NewComplaint{}, resp: office.CustomerComplaint{}, status: 201, handler: a.fileComplaint},
		{method: "GET", path: "/v1/complaints", summary: "Complaints the caller may see, newest first (overdue: the most overdue first)", tag: "complaints", roles: notWorker, query: queueParams(complaintFilter, page), resp: pageOfViews{schemas.Complaint{}, office.CustomerComplaint{}}, status: 200, handler: a.listComplaints},
		{method: "POST", path: "/v1/customers/:id/complaints", summary: "File a complaint the customer phoned or messaged in, with the channel (hotline, wechat, website, email, in_person, account_manager); owned by whoever files it unless ownerId names another", tag: "complaints", roles: officeRoles, body: schemas.OfficeComplaint{}, resp: schemas.Complaint{}, status: 201, handler: a.fileComplaintFor},
		{method: "GET", path: "/v1/complaints/:id", summary: "One complaint with its history and SLA", tag: "complaints", roles: notWorker, resp: views{schemas.Complaint{}, office.CustomerComplaint{}}, status: 200, handler: a.getComplaint},
		{method: "POST", path: "/v1/complaints/:id/actions", summary: "A step of handling: acknowledge, investigate, propose (remedy), assign (ownerId), close (rootCause), close_unanswered (a remedy unanswered for COMPLAINT_ANSWER_WAIT: rootCause and a reason; the customer is told) (office); accept or reject the remedy (customer)", tag: "complaints", roles: notWorker, body: office.ComplaintAction{}, resp: views{schemas.Complaint{}, office.CustomerComplaint{}}, status: 200, handler: a.actOnComplaint},

		{method: "GET", path: "/v1/incidents", summary: "Incidents reported from visits, newest first (supervisors: their team; workers: their own)", tag: "incidents", roles: staff, query: queueParams(incidentFilter, page), resp: pageOfViews{schemas.Incident{}, office.WorkerIncident{}}, status: 200, handler: a.listIncidents},
		{method: "GET", path: "/v1/incidents/:id", summary: "One incident with what supervisors added", tag: "incidents", roles: staff, resp: views{schemas.Incident{}, office.WorkerIncident{}}, status: 200, handler: a.getIncident},
		{method: "POST", path: "/v1/incidents/:id/actions", summary: "Acknowledge, investigate, add a note, or resolve with an outcome; the report itself is never edited", tag: "incidents", roles: officeRoles, body: office.IncidentAction{}, resp: schemas.Incident{}, status: 200, handler: a.actOnIncident},
		{method: "GET", path: "/v1/escalations", summary: "Escalations workers passed on from the door, the soonest promised first (supervisors: their team; workers: their own); overdue: open past their promised time", tag: "escalations", roles: staff, query: queueParams(escalationFilter, page), resp: pageOfViews{schemas.Escalation{}, office.WorkerEscalation{}}, status: 200, handler: a.listEscalations},
		{method: "GET", path: "/v1/escalations/:id", summary: "One escalation with its promised time and what supervisors did", tag: "escalations", roles: staff, resp: views{schemas.Escalation{}, office.WorkerEscalation{}}, status: 200, handler: a.getEscalation},
		{method: "POST", path: "/v1/escalations/:id/actions", summary: "Acknowledge; promise a later time with a reason (the household is told the new time); or resolve with an outcome (the household is told it is handled). Optional version: 409 if the escalation changed", tag: "escalations", roles: officeRoles, body: office.EscalationAction{}, resp: schemas.Escalation{}, status: 200, handler: a.actOnEscalation},

		{method: "GET", path: "/v1/audit/:entity/:id", summary: "The audit trail of a worker, customer, serviceType, visit or schedule; personal values masked", tag: "audit", roles: admin, query: page, resp: schemas.Page[schemas.AuditEntry]{}, status: 200, handler: a.auditTrail},
	}
}
