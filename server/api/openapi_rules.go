package api

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// What the Go types cannot tell the document: the rules the server applies
// to what it reads, and the closed sets of what it writes. Each rule here
// names the check it mirrors; the tests validate every request and answer
// of the API suite against the document, so a rule stricter or looser than
// the server's shows up as a failing test. Lengths of free text come from
// schemas.ClassOf, the table the server's free-text rule reads.

// uuidPattern is what schemas.ValidID accepts.
const uuidPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

// hashPattern is what fsync.ValidHash accepts: a lowercase hex SHA-256.
const hashPattern = `^[0-9a-f]{64}$`

type rule func(*openapi3.Schema)

func enum[T ~string](xs ...T) rule {
	return func(s *openapi3.Schema) {
		s.Enum = nil
		for _, x := range xs {
			s.Enum = append(s.Enum, string(x))
		}
	}
}

func pattern(p string) rule { return func(s *openapi3.Schema) { s.Pattern = p } }
func maxLen(n uint64) rule  { return func(s *openapi3.Schema) { s.MaxLength = &n } }
func minLen(n uint64) rule  { return func(s *openapi3.Schema) { s.MinLength = n } }
func maxItems(n uint64) rule {
	return func(s *openapi3.Schema) { s.MaxItems = &n }
}
func minItems(n uint64) rule { return func(s *openapi3.Schema) { s.MinItems = n } }
func between(lo, hi float64) rule {
	return func(s *openapi3.Schema) { s.Min, s.Max = &lo, &hi }
}
func atLeast(lo float64) rule { return func(s *openapi3.Schema) { s.Min = &lo } }
func describe(d string) rule  { return func(s *openapi3.Schema) { s.Description = d } }
func format(f string) rule    { return func(s *openapi3.Schema) { s.Format = f } }

// items applies rules to a list's entries.
func items(rs ...rule) rule {
	return func(s *openapi3.Schema) {
		if s.Items != nil && s.Items.Value != nil && !strings.HasPrefix(s.Items.Ref, "#/") {
			for _, r := range rs {
				r(s.Items.Value)
			}
		}
	}
}

var (
	uuid    = []rule{format("uuid"), pattern(uuidPattern)}
	idRef   = []rule{pattern("^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$"), describe("an id, or empty for none")}
	notOnly = pattern(`\S`) // the server trims free text and refuses it empty
	hash    = []rule{pattern(hashPattern), describe("a lowercase hex SHA-256 of an uploaded attachment")}
)

func rules(groups ...any) []rule {
	var out []rule
	for _, g := range groups {
		switch g := g.(type) {
		case rule:
			out = append(out, g)
		case []rule:
			out = append(out, g...)
		}
	}
	return out
}

// Closed sets.
var (
	roles         = []schemas.Role{schemas.RoleAdmin, schemas.RoleSupervisor, schemas.RoleWorker, schemas.RoleCustomer}
	workerStates  = []schemas.WorkerStatus{schemas.WorkerActive, schemas.WorkerSuspended, schemas.WorkerLeft}
	resultStatus  = []string{fsync.StatusApplied, fsync.StatusConflict, fsync.StatusDuplicate, fsync.StatusRejected, fsync.StatusSkipped}
	rejectedCodes = fsync.RejectCodes
	skippedCodes  = []string{"gap", "after_gap", "time_budget", "seq_taken"}
	// A duplicate repeats the first outcome: applied, conflict, unknown, or
	// a rejected code.
	resultCodes = slices.Concat(rejectedCodes, skippedCodes, []string{"applied", "conflict", "unknown"}, legacyCodes)
	// seq_reused is what a schemaVersion 1 server answered where a later
	// one skips with seq_taken.
	legacyCodes = func() []string {
		if fsync.SchemaVersion < 2 {
			return []string{"seq_reused"}
		}
		return nil
	}()
	syncRules = []string{fsync.RuleCheckInOnCancelled, fsync.RuleByPreviousAssignee, fsync.RuleAfterNoShow, fsync.RuleOutsideWindow,
		fsync.RuleRescheduledOffline, fsync.RuleFarFromAddress, fsync.RuleManual, fsync.RuleClockSkew, fsync.RuleFutureTime,
		fsync.RuleSecondCheckIn, fsync.RuleSecondCheckOut, fsync.RuleCheckOutFirst, fsync.RuleSignOffFinal, fsync.RuleSignOffEarly,
		fsync.RuleSameItem, fsync.RulePresenceInvalid, fsync.RulePresenceReused, fsync.RulePresenceLocked,
		fsync.RuleCustomerLowRating, fsync.RuleDisputed, fsync.RuleScopeRefusedItem, fsync.RuleScopeAnswered, fsync.RuleAbsentAfterCheckIn, fsync.RuleSecondAbsence}
	// Alert kinds: the office's, the scheduler's, the sync engine's
	// (visit_full, incident) and every sync rule that needs review.
	alertKinds = slices.Concat([]string{"complaint", "complaint_sla_breach", "correction_disputed", "incident_escalated",
		"customer_request_reschedule", "customer_request_cancel", "push_config_error", "late", "missed", "incident", "visit_full", fsync.AlertDeclined, office.AlertUnanswered,
		fsync.AlertEscalation, office.AlertEscalationOverdue, fsync.AlertCustomerNotHome}, syncRules)
	errorCodes = []string{schemas.EINVALID, schemas.EUNAUTHORIZED, schemas.EFORBIDDEN, schemas.ENOTFOUND, schemas.EMETHOD,
		schemas.ECONFLICT, schemas.ETOOLARGE, schemas.EMEDIATYPE, schemas.EUPGRADE, schemas.ERATELIMIT, schemas.EINTERNAL, schemas.EUNAVAILABLE}
	auditEntities = []string{schemas.EntityWorker, schemas.EntityCustomer, schemas.EntityServiceType, schemas.EntityVisit,
		schemas.EntitySchedule, schemas.EntityAlert, schemas.EntityComplaint, "incident", "escalation", office.EntityNotificationChannel}
)

// typeEnums are the closed sets that are Go types.
var typeEnums = map[reflect.Type][]any{}

func init() {
	add := func(t reflect.Type, xs []string) {
		for _, x := range xs {
			typeEnums[t] = append(typeEnums[t], x)
		}
	}
	add(reflect.TypeOf(schemas.Role("")), strs(roles))
	add(reflect.TypeOf(schemas.VisitStatus("")), strs(schemas.VisitStatuses))
	add(reflect.TypeOf(schemas.WorkerStatus("")), strs(workerStates))
	add(reflect.TypeOf(schemas.Skill("")), strs(schemas.Skills))
	add(reflect.TypeOf(schemas.Gender("")), []string{string(schemas.GenderFemale), string(schemas.GenderMale)})
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// typeFormats are rules of named non-struct types.
var typeFormats = map[reflect.Type]func(*openapi3.Schema){
	reflect.TypeOf(schemas.Clock("")): func(s *openapi3.Schema) {
		s.Pattern = `^([01]?[0-9]|2[0-3]):[0-5][0-9]$`
		s.Description = "a local time of day, like 09:30"
	},
}

// fieldRules are the rules of string, number and list fields, by
// "Component.field" or, for every component, by "field".
var fieldRules = map[string][]rule{
	// ids: schemas.ValidID
	// references to records: an id, or empty for none
	"visitId": idRef, "workerId": idRef, "customerId": idRef, "serviceTypeId": idRef, "userId": idRef, "supervisorId": idRef,
	"opId":                  uuid,
	"SyncDevice.id":         {describe("userId/deviceId")},
	"NewUser.login":         {pattern(`^[A-Za-z0-9._@+一-鿿Ａ-Ｚａ-ｚ０-９＿．＠＋－-]{3,64}$`), describe("3-64 letters (ASCII, any case, or Chinese; fullwidth forms are folded), digits and . _ - @ +; stored in lower case")},
	"NewUser.password":      {minLen(10), maxLen(128)},
	"UserUpdate.password":   {minLen(10), maxLen(128)},
	"Notification.userId":   nil,
	"NewUpload.sha256":      {pattern(`^[0-9a-fA-F]{64}$`), describe("the content's SHA-256 in hex")},
	"NewUpload.size":        {atLeast(1), describe("bytes; over the server's MAX_UPLOAD_BYTES is a 413")},
	"WorkerInput.status":    {enum(append([]schemas.WorkerStatus{""}, workerStates...)...), describe("empty: active")},
	"ReviewBody.note":       {nonBlank("note")},
	"FollowUpBody.outcome":  {nonBlank("outcome")},
	"ChangeRequest.reason":  {nonBlank("reason")},
	"NoShowBody.reason":     {nonBlank("reason")},
	"NoShowBody.party":      {enum(schemas.NoShowParties...)},
	"NoShow.party":          {enum(schemas.NoShowParties...)},
	"DisputeBody.note":      {nonBlank("note")},
	"FieldState.progress":   {nullable},
	"FieldState.incidents":  {nullable},
	"FieldState.notes":      {nullable},
	"FieldState.exceptions": {nullable},
	"FieldState.conflicts":  {nullable},
	"deviceId":              {minLen(1), maxLen(128), pattern(`^[!-~]+$`), describe("the app's id for this installation: 1-128 printable ASCII characters, no spaces (schemas.ValidateDeviceID)")},
	"appVersion":            {maxLen(40)},
	"locale":                {enum(append([]string{""}, schemas.Locales...)...), describe("empty: the default, zh-CN")},
	"timeZone":              {describe("an IANA time zone, like Asia/Shanghai")},
	"platform":              {enum("android", "ios")},
	"DeviceBody.token":      {minLen(20), maxLen(4096), describe("the app's FCM registration token (20-4096 characters)")},
	"sha256":                hash,
	"photos":                {maxItems(20), items(hash...)},
	"signatureRef":          hash,
	"Result.status":         {enum(resultStatus...)},
	"Result.opId":           {describe("the operation's opId as sent (an invalid one is echoed, rejected)")},
	"Result.code":           {enum(resultCodes...), describe("rejected: " + strings.Join(rejectedCodes, ", ") + "; skipped: " + strings.Join(skippedCodes, ", ") + "; duplicate: the first outcome (applied, conflict, unknown or a rejected code)")},
	"Result.rule":           {enum(syncRules...)},
	"Result.rules":          {items(enum(syncRules...))},
	"Conflict.rule":         {enum(syncRules...)},
	"Exception.code":        {enum(syncRules...)},
	"Batch.appVersion":      {maxLen(40)},
	"Batch.ops":             {notNull, describe("the phone's unsent operations in seq order; at most the server's MAX_OPS_PER_PUSH")},
	"Batch.schemaVersion": {
		between(fsync.MinSchemaVersion, fsync.SchemaVersion),
		describe(fmt.Sprintf("the push protocol the app speaks: below minSchemaVersion (%d) the push is refused with 426 upgrade_required; above the server's (%d) with 400", fsync.MinSchemaVersion, fsync.SchemaVersion)),
	},

	// A household's channel preference, as push/smsfallback.go reads it.
	"NotificationChannel.channel": {enum(office.NotificationChannels...), describe("fcm: the app, and SMS when it cannot be reached (the default); sms: SMS only; both: the app and SMS")},

	"Alert.kind":                 {enum(alertKinds...)},
	"AssignmentAnswer.answer":    {enum(schemas.AssignmentAccepted, schemas.AssignmentDeclined)},
	"AssignmentAnswer.reason":    {enum(fsync.DeclineReasons...)},
	"Alert.priority":             {enum("normal", "high")},
	"Alert.state":                {enum(schemas.AlertOpen, schemas.AlertAcknowledged, schemas.AlertResolved)},
	"Complaint.category":         {enum(schemas.ComplaintCategories...)},
	"NewComplaint.category":      {enum(schemas.ComplaintCategories...)},
	"CustomerComplaint.category": {enum(schemas.ComplaintCategories...)},
	"Complaint.status": {enum(schemas.ComplaintReceived, schemas.ComplaintAcknowledged, schemas.ComplaintInvestigating,
		schemas.ComplaintRemedyProposed, schemas.ComplaintAccepted, schemas.ComplaintClosed)},
	"CustomerComplaint.status": {enum(schemas.ComplaintReceived, schemas.ComplaintAcknowledged, schemas.ComplaintInvestigating,
		schemas.ComplaintRemedyProposed, schemas.ComplaintAccepted, schemas.ComplaintClosed)},
	"Remedy.kind":               {enum(schemas.Remedies...)},
	"ComplaintAction.action":    {enum("acknowledge", "investigate", "propose", "close", "accept", "reject", "assign", "close_unanswered")},
	"ComplaintAction.rootCause": {enum(append([]string{""}, schemas.RootCauses...)...), describe("required to close: one of " + strings.Join(schemas.RootCauses, ", "))},
	"ComplaintAction.ownerId":   idRef,
	"OfficeComplaint.channel":   {enum(schemas.OfficeChannels...)},
	"OfficeComplaint.category":  {enum(schemas.ComplaintCategories...)},
	"CustomerInput.doNotSend":   {nullable, unique, items(uuid...), describe("workers this household does not want sent again: distinct worker ids")},
	"IncidentAction.action":     {enum("acknowledge", "investigate", "note", "resolve")},
	"ChangeRequest.kind":        {enum("reschedule", "cancel")},
	"Incident.category":         {enum(fsync.IncidentCategories...)},
	"Incident.severity":         {enum(fsync.Severities...)},
	"WorkerIncident.category":   {enum(fsync.IncidentCategories...)},
	"WorkerIncident.severity":   {enum(fsync.Severities...)},
	"Incident.status":           {enum(schemas.IncidentOpen, schemas.IncidentAcknowledged, schemas.IncidentInvestigating, schemas.IncidentResolved)},
	"WorkerIncident.status":     {enum(schemas.IncidentOpen, schemas.IncidentAcknowledged, schemas.IncidentInvestigating, schemas.IncidentResolved)},
	"EscalationAction.action":   {enum("acknowledge", "promise", "resolve")},
	"EscalationAction.reason":   {maxLen(500)},
	"EscalationAction.outcome":  {maxLen(2000)},
	"EscalationAction.version":  {between(0, 1<<53)},
	"Escalation.topic":          {enum(fsync.EscalationTopics...)},
	"Escalation.urgency":        {enum(fsync.EscalationUrgencies...)},
	"Escalation.status":         {enum(schemas.EscalationOpen, schemas.EscalationAcknowledged, schemas.EscalationResolved)},
	"WorkerEscalation.topic":    {enum(fsync.EscalationTopics...)},
	"WorkerEscalation.urgency":  {enum(fsync.EscalationUrgencies...)},
	"WorkerEscalation.status":   {enum(schemas.EscalationOpen, schemas.EscalationAcknowledged, schemas.EscalationResolved)},
	"NewCorrection.reasonCode":  {enum(schemas.CorrectionReasons...)},
	"Correction.reasonCode":     {enum(schemas.CorrectionReasons...)},
	"NewCorrection.field":       {enum(fsync.KindCheckIn, fsync.KindCheckOut)},
	"Correction.field":          {enum(fsync.KindCheckIn, fsync.KindCheckOut)},
	"Notification.status":       {enum(schemas.NotificationPending, schemas.NotificationSent, schemas.NotificationFailed, schemas.NotificationDropped)},
	"ErrorDetail.code":          {enum(errorCodes...)},
	"NewUpload.contentType":     {enum(fsync.AttachmentTypes...)},
	"GeoFix.accuracyM":          {between(0, 100000)},
	"lat":                       {between(-90, 90)},
	"lng":                       {between(-180, 180)},
	"Rating.attitude":           {between(1, 5)},
	"Rating.quality":            {between(1, 5)},
	"Rating.efficiency":         {between(1, 5)},
	"Rating.price":              {between(1, 5)},

	// A change of scope (sync/scope.go).
	"ScopeItem.title":           {notOnly, maxLen(fsync.MaxScopeTitle)},
	"ScopeItem.minutes":         {between(0, fsync.MaxScopeMinutes)},
	"ScopeAnswer.decision":      {enum(fsync.DecisionAgree, fsync.DecisionRefuse)},
	"ScopeAnswer.note":          {notOnly, maxLen(500)},
	"ScopeChange.state":         {enum(schemas.ScopePending, schemas.ScopeAgreed, schemas.ScopeRefused)},
	"ScopeChange.how":           {enum(schemas.ConsentCode, schemas.ConsentApp, schemas.ConsentOffice)},
	"CustomerScopeChange.state": {enum(schemas.ScopePending, schemas.ScopeAgreed)},
	"CustomerScopeChange.how":   {enum(schemas.ConsentCode, schemas.ConsentApp, schemas.ConsentOffice)},
	// A visit's messages (sync/messages.go).
	"CustomerMessage.messageId": uuid,
	"CustomerMessage.text":      {notOnly, maxLen(fsync.MaxMessageRunes)},
	"VisitMessage.from":         {enum(schemas.MessageFromWorker, schemas.MessageFromCustomer)},
}

// applyFieldRules gives a property of a component its rules: the free-text
// class's length for strings (and lists of strings), then fieldRules.
func applyFieldRules(component, field string, s *openapi3.Schema) {
	target := s
	if s.Type.Is("array") && s.Items != nil && !strings.HasPrefix(s.Items.Ref, "#/") && s.Items.Value != nil {
		target = s.Items.Value
	}
	if target.Type.Is("string") && target.Format == "" {
		if class, ok := schemas.ClassOf(field); ok {
			n := uint64(class.MaxLen())
			target.MaxLength = &n
			if class != schemas.TextSecret {
				target.Pattern = textPattern(class, false)
			}
		}
	}
	rs, ok := fieldRules[component+"."+field]
	if !ok {
		rs = fieldRules[field]
	}
	for _, r := range rs {
		r(s)
	}
}

// textPattern is the free-text rule of a class (schemas.CheckText) as a
// pattern: no control characters but, in free text, newline and tab;
// nonBlank also asks for a character that is not a space.
func textPattern(class schemas.TextClass, nonBlank bool) string {
	ctl := `\x00-\x1F\x7F-\x9F`
	if class.Free() {
		ctl = `\x00-\x08\x0B-\x1F\x7F-\x9F`
	}
	if !nonBlank {
		return "^[^" + ctl + "]*$"
	}
	return "^[^" + ctl + "]*[^" + `\s\x00-\x1F\x7F-\x9F` + "][^" + ctl + "]*$"
}

// required free text: trimmed, it must not be empty.
func nonBlank(field string) rule {
	return func(s *openapi3.Schema) {
		class, _ := schemas.ClassOf(field)
		s.Pattern = textPattern(class, true)
		s.MinLength = 1
	}
}

func nullable(s *openapi3.Schema) { s.Nullable = true }
func unique(s *openapi3.Schema)   { s.UniqueItems = true }
func notNull(s *openapi3.Schema)  { s.Nullable = false }

// componentNames renames Go types whose name says little out of their
// package.
var componentNames = map[string]string{}

// descriptions of components.
var descriptions = map[string]string{
	"Batch":        "One push from a phone: its operations in seq order. The envelope is strict; see Op for the operations.",
	"PushResponse": "A result per operation, in order, and the seq the server expects next (renumber from it after seq_taken).",
	"PullView":     "What changed in the phone's scope since the cursor; visits and incidents in the worker's view.",
	"Result": "The outcome of one operation. applied and conflict are recorded (conflict: a rule decided what stands); " +
		"duplicate: seen before, code repeats the first outcome; rejected: never retried, the phone drops it (its seq is used); " +
		"skipped: not looked at, send it again (seq_taken: renumber from nextSeq first).",
	"ErrorBody": "Every error: a machine code, a human message, optional details (a field error names the field), the request id.",
}

var tagDescriptions = map[string]string{
	"ops": "Liveness, readiness and this document", "auth": "Sessions", "users": "Accounts (admins)",
	"workers": "Workers", "customers": "Customers and their app", "catalog": "The service catalog",
	"visits": "Visits", "schedules": "Recurring schedules", "sync": "Offline sync of workers' phones",
	"attachments": "Photos and signatures (tus uploads)", "push": "Push notifications",
	"supervisors": "Supervisors' tools", "complaints": "Complaints", "incidents": "Incidents", "escalations": "Escalations from the door", "audit": "Audit trail",
}

// pathParam documents a path parameter by its name.
func pathParam(name string) *openapi3.Parameter {
	p := openapi3.NewPathParameter(name)
	s := &openapi3.Schema{Type: &openapi3.Types{"string"}}
	switch name {
	case "id":
		s.Format, s.Pattern = "uuid", uuidPattern
		p.Description = "a record id (an id of another shape is a 404)"
	case "sha":
		s.Pattern = hashPattern
		p.Description = "the attachment's SHA-256, lowercase hex"
	case "n":
		s = &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: openapi3.Ptr(1.0)}
		p.Description = "the correction's number on the visit"
	case "entity":
		s.Enum = toAny(auditEntities)
	}
	p.Schema = &openapi3.SchemaRef{Value: s}
	return p
}

// queryParams are the rules of query parameters by name, or by "path name".
var queryParams = map[string]*openapi3.Schema{
	"limit":                   {Type: &openapi3.Types{"integer"}, Min: openapi3.Ptr(1.0), Max: openapi3.Ptr(float64(maxPageLimit)), Default: defaultPageLimit},
	"after":                   {Type: &openapi3.Types{"string"}, MaxLength: openapi3.Ptr(uint64(256))},
	"role":                    {Type: &openapi3.Types{"string"}, Enum: toAny(strs(roles))},
	"/v1/workers status":      {Type: &openapi3.Types{"string"}, Enum: toAny(strs(workerStates))},
	"/v1/visits status":       {Type: &openapi3.Types{"string"}, Pattern: "^(" + visitStatusAlt() + ")(,(" + visitStatusAlt() + "))*$"},
	"skill":                   {Type: &openapi3.Types{"string"}, MaxLength: openapi3.Ptr(uint64(256)), Description: "one of " + strings.Join(strs(schemas.Skills), ", ")},
	"day":                     {Type: &openapi3.Types{"string"}, Format: "date"},
	"from":                    {Type: &openapi3.Types{"string"}, Format: "date-time"},
	"to":                      {Type: &openapi3.Types{"string"}, Format: "date-time"},
	"workerId":                {Type: &openapi3.Types{"string"}, Pattern: "^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$", Description: "an id; empty: no filter"},
	"customerId":              {Type: &openapi3.Types{"string"}, Pattern: "^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$", Description: "an id; empty: no filter"},
	"visitId":                 {Type: &openapi3.Types{"string"}, Pattern: "^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$", Description: "an id; empty: no filter"},
	"userId":                  {Type: &openapi3.Types{"string"}, Pattern: "^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$", Description: "an id; empty: no filter"},
	"month":                   {Type: &openapi3.Types{"string"}, Pattern: `^[0-9]{4}-(0[1-9]|1[0-2])$`},
	"/v1/reports/trends from": {Type: &openapi3.Types{"string"}, Pattern: `^[0-9]{4}-(0[1-9]|1[0-2])$`},
	"/v1/reports/trends to":   {Type: &openapi3.Types{"string"}, Pattern: `^[0-9]{4}-(0[1-9]|1[0-2])$`},
	"quarter":                 {Type: &openapi3.Types{"string"}, Pattern: `^[0-9]{4}-Q[1-4]$`},
	"format":                  {Type: &openapi3.Types{"string"}, Enum: []any{"json", "csv"}, Default: "json"},
}

func visitStatusAlt() string { return strings.Join(strs(schemas.VisitStatuses), "|") }

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func queryParam(path string, q param) *openapi3.Parameter {
	p := openapi3.NewQueryParameter(q.name).WithDescription(q.desc)
	s, ok := queryParams[path+" "+q.name]
	if !ok {
		s, ok = queryParams[q.name]
	}
	if !ok {
		s = &openapi3.Schema{Type: &openapi3.Types{q.typ}}
		if q.typ == "string" {
			s.MaxLength = openapi3.Ptr(uint64(256))
		}
	}
	c := *s
	p.Schema = &openapi3.SchemaRef{Value: &c}
	return p
}

// Headers.
const (
	hdrRequestID    = "X-Request-ID"
	hdrRetryAfter   = "Retry-After"
	hdrUploadOffset = "Upload-Offset"
	hdrUploadLength = "Upload-Length"
	hdrTusResumable = "Tus-Resumable"
	hdrUploadDone   = "Upload-Complete"
	hdrLocation     = "Location"
)

func (b *docBuilder) headers() {
	h := func(desc string, s *openapi3.Schema) *openapi3.HeaderRef {
		return &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{Description: desc, Schema: &openapi3.SchemaRef{Value: s}}}}
	}
	str := &openapi3.Schema{Type: &openapi3.Types{"string"}}
	count := &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: openapi3.Ptr(0.0)}
	b.doc.Components.Headers = openapi3.Headers{
		hdrRequestID:    h("the request's id: the caller's X-Request-ID when it is 1-64 of [A-Za-z0-9._-], else a new one; errors carry it as requestId", str),
		hdrRetryAfter:   h("seconds to wait before trying again", count),
		hdrUploadOffset: h("bytes of the upload stored so far: where the next chunk starts", count),
		hdrUploadLength: h("the upload's announced size in bytes", count),
		hdrTusResumable: h("the tus protocol version (1.0.0)", str),
		hdrUploadDone:   h("1 when the last chunk completed and verified the upload", str),
		hdrLocation:     h("where to send the upload's chunks", str),
	}
}

func headerRef(name string) *openapi3.HeaderRef {
	return &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
}

// routeHeaders are the headers of a route's success answer, beside
// X-Request-ID.
var routeHeaders = map[string][]string{
	"POST /v1/attachments":              {hdrUploadOffset, hdrTusResumable, hdrLocation},
	"HEAD /v1/attachments/:sha/upload":  {hdrUploadOffset, hdrUploadLength, hdrTusResumable},
	"PATCH /v1/attachments/:sha/upload": {hdrUploadOffset, hdrTusResumable, hdrUploadDone},
}

func (b *docBuilder) responseHeaders(key string) openapi3.Headers {
	hs := openapi3.Headers{hdrRequestID: headerRef(hdrRequestID)}
	for _, n := range routeHeaders[key] {
		hs[n] = headerRef(n)
	}
	return hs
}

// requestHeaders are the header parameters of a route.
var requestHeaders = map[string][]*openapi3.Parameter{
	"PATCH /v1/attachments/:sha/upload": {{
		Name: hdrUploadOffset, In: "header", Required: true, Description: "where this chunk starts: the upload's current offset",
		Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: openapi3.Ptr(0.0)}},
	}},
}

// optionalBodies are routes whose JSON body may be left out.
var optionalBodies = map[string]bool{"POST /v1/alerts/:id/acknowledge": true, "POST /v1/alerts/:id/resolve": true}

// otherSuccess are success statuses of a route beside its own.
var otherSuccess = map[string]int{"POST /v1/attachments": http.StatusOK} // the upload was announced before

// extraContent are the non-JSON answers of a route.
var extraContent = map[string]map[string]*openapi3.Schema{
	"GET /v1/attachments/:sha": func() map[string]*openapi3.Schema {
		m := map[string]*openapi3.Schema{}
		for _, t := range fsync.AttachmentTypes {
			m[t] = &openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "binary"}
		}
		return m
	}(),
	"GET /v1/reports/monthly":   {"text/csv": {Type: &openapi3.Types{"string"}, Description: "with ?format=csv: one row per worker and team"}},
	"GET /v1/reports/quarterly": {"text/csv": {Type: &openapi3.Types{"string"}, Description: "with ?format=csv: one row per worker"}},
}

// Error answers: one component per status, each naming its codes.
var errorResponseName = map[int]string{
	http.StatusBadRequest:            "ErrorBadRequest",
	http.StatusUnauthorized:          "ErrorUnauthorized",
	http.StatusForbidden:             "ErrorForbidden",
	http.StatusNotFound:              "ErrorNotFound",
	http.StatusConflict:              "ErrorConflict",
	http.StatusRequestEntityTooLarge: "ErrorTooLarge",
	http.StatusUnsupportedMediaType:  "ErrorUnsupportedMedia",
	http.StatusUpgradeRequired:       "ErrorUpgradeRequired",
	http.StatusTooManyRequests:       "ErrorRateLimited",
	http.StatusServiceUnavailable:    "ErrorUnavailable",
	http.StatusInternalServerError:   "ErrorInternal",
}

func (b *docBuilder) errorResponses() {
	errSchema := b.schema(ErrorBody{})
	desc := map[int]string{
		http.StatusBadRequest:            "invalid: the request is malformed or fails a rule; a field error names the field in details.field (and details.reason for the free-text rule)",
		http.StatusUnauthorized:          "unauthorized: no valid access token (or, signing in, wrong credentials)",
		http.StatusForbidden:             "forbidden: the caller's role may not do this",
		http.StatusNotFound:              "not_found: no such record, or not one the caller may see",
		http.StatusConflict:              "conflict: the change clashes with the stored state (a PUT at an older version, a state that does not allow it)",
		http.StatusRequestEntityTooLarge: "too_large: the body or batch is over a limit",
		http.StatusUnsupportedMediaType:  "unsupported_media: the body is not application/json (or the route's own type)",
		http.StatusUpgradeRequired:       "upgrade_required: the app's schemaVersion is below the server's minSchemaVersion (details carry both)",
		http.StatusTooManyRequests:       "rate_limited: over the caller's budget; retry after Retry-After seconds",
		http.StatusServiceUnavailable:    "unavailable: the store is not answering, or the instance is shutting down; retry after Retry-After seconds",
		http.StatusInternalServerError:   "internal: anything else; the cause is logged with the request id, never sent",
	}
	for status, name := range errorResponseName {
		code, _, _ := strings.Cut(desc[status], ":")
		hs := openapi3.Headers{hdrRequestID: headerRef(hdrRequestID)}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			hs[hdrRetryAfter] = headerRef(hdrRetryAfter)
		}
		ex := map[string]any{"error": map[string]any{"code": code, "message": http.StatusText(status), "requestId": "0192d6a4-3c5e-7c1a-9b8e-5f1d2a3b4c5d"}}
		b.doc.Components.Responses[name] = &openapi3.ResponseRef{Value: &openapi3.Response{
			Description: openapi3.Ptr(desc[status]),
			Headers:     hs,
			Content: openapi3.Content{"application/json": {Schema: errSchema,
				Examples: openapi3.Examples{code: {Value: openapi3.NewExample(ex)}}}},
		}}
	}
}

// Operation kinds of a push: each its own schema, its payload its own
// schema, under a discriminator on kind. The fields are those of
// schemas.SyncPayload the kind uses (sync/op.go, decodePayload, checks
// them); the payload admits other fields, which a server ignores (a newer
// app's fields reach an older server).
type opKind struct {
	kind        string
	summary     string
	fields      []string
	required    []string
	noVisit     bool
	fieldRules  map[string][]rule
	payloadDesc string
}

var opKinds = []opKind{
	{kind: fsync.KindCheckIn, summary: "The worker arrived: gps (with a location) or manual (with a reason); presenceCode from the customer's app",
		fields: []string{"location", "method", "reason", "presenceCode", "photos"}, fieldRules: map[string][]rule{"reason": {maxLen(500)}, "presenceCode": {maxLen(12)}}},
	{kind: fsync.KindCheckOut, summary: "The worker left: gps (with a location) or manual (with a reason)",
		fields: []string{"location", "method", "reason", "presenceCode", "photos"}, fieldRules: map[string][]rule{"reason": {maxLen(500)}, "presenceCode": {maxLen(12)}}},
	{kind: fsync.KindRunningLate, summary: "The worker will be late: the new estimated arrival",
		fields: []string{"eta", "reason", "photos"}, required: []string{"eta"}, fieldRules: map[string][]rule{"reason": {maxLen(500)}}},
	{kind: fsync.KindProgress, summary: "A checklist item done or undone (itemId with done), or a progress text or photos",
		fields: []string{"itemId", "done", "text", "photos"}, fieldRules: map[string][]rule{"text": {maxLen(2000)}}},
	{kind: fsync.KindSignOff, summary: "The household's verdict on each checklist item, the signer, optionally a rating; the first sign-off stands",
		fields: []string{"items", "signatureRef", "signerName", "rating", "comment", "photos"}, required: []string{"items", "signerName"},
		fieldRules: map[string][]rule{"items": {minItems(1), maxItems(100)}, "signerName": {notOnly, maxLen(100)}, "comment": {maxLen(2000)}}},
	{kind: fsync.KindIncident, summary: "An incident on the visit: category, severity and what happened",
		fields: []string{"category", "severity", "text", "photos"}, required: []string{"category", "severity", "text"},
		fieldRules: map[string][]rule{"category": {enum(fsync.IncidentCategories...)}, "severity": {enum(fsync.Severities...)}, "text": {notOnly, maxLen(4000)}}},
	{kind: fsync.KindNote, summary: "A note on the visit",
		fields: []string{"text", "photos"}, required: []string{"text"}, fieldRules: map[string][]rule{"text": {notOnly, maxLen(4000)}}},
	{kind: kindRetire, summary: "Retires the seq of a queued operation the phone discarded before sending it (same seq, new opId): it occupies the seq and changes nothing, so the queue has no hole",
		noVisit: true, payloadDesc: "empty: a retire carries nothing"},
	{kind: fsync.KindAccept, summary: "The assignee accepts the visit's assignment (schemaVersion 3): the household then sees the worker",
		fields: []string{"text"}, fieldRules: map[string][]rule{"text": {maxLen(500)}}},
	{kind: fsync.KindDecline, summary: "The assignee declines the visit's assignment (schemaVersion 3), with a reason: the visit goes back to the supervisor (alert assignment_declined)",
		fields: []string{"reason", "text"}, required: []string{"reason"},
		fieldRules: map[string][]rule{"reason": {enum(fsync.DeclineReasons...)}, "text": {maxLen(500)}}},
	{kind: fsync.KindEscalate, summary: "The worker passes on what cannot be solved at the door (schemaVersion 4): topic, urgency and what it is. The server opens an escalation promised by its receipt plus ESCALATION_URGENT or ESCALATION_NORMAL, alerts the supervisor (escalation) and tells the household the promised time",
		fields: []string{"topic", "urgency", "text", "photos"}, required: []string{"topic", "urgency", "text"},
		fieldRules: map[string][]rule{"topic": {enum(fsync.EscalationTopics...)}, "urgency": {enum(fsync.EscalationUrgencies...)}, "text": {notOnly, maxLen(2000)}}},
	{kind: fsync.KindScope, summary: "A change of scope on site (schemaVersion 4): items added (title, minutes) and checklist items dropped, with the reason; with the household's presenceCode it is agreed at once, else the household is asked in its app (POST /v1/visits/{id}/scope/{changeId}, changeId the opId)",
		fields: []string{"add", "drop", "reason", "presenceCode"}, required: []string{"reason"},
		fieldRules: map[string][]rule{"add": {maxItems(fsync.MaxScopeAdd)}, "drop": {maxItems(fsync.MaxScopeDrop)}, "reason": {notOnly, maxLen(fsync.MaxScopeReason)}, "presenceCode": {maxLen(12)}}},
	{kind: fsync.KindCustomerAbsent, summary: "Nobody answered the door (schemaVersion 4): the phone's position, the minutes waited and the door's photo; alerts the supervisor (customer_not_home) and tells the household",
		fields: []string{"location", "waitedMinutes", "photos", "calledCustomer", "text"}, required: []string{"location", "waitedMinutes", "photos"},
		fieldRules: map[string][]rule{"waitedMinutes": {between(0, fsync.MaxWaitedMinutes)}, "photos": {minItems(1)}, "text": {maxLen(500)}}},
	{kind: fsync.KindMessage, summary: "A message to the household about the visit (schemaVersion 4), relayed with digit runs that look like phone numbers masked; only the current assignee, from MESSAGES_OPEN_BEFORE before the start to MESSAGES_CLOSE_AFTER after the end or check-out, judged at its time but never later than its receipt (else rejected thread_closed)",
		fields: []string{"text", "photos"}, required: []string{"text"},
		fieldRules: map[string][]rule{"text": {notOnly, maxLen(fsync.MaxMessageRunes)}, "photos": {maxItems(fsync.MaxMessagePhotos)}}},
}

// kindRetire is the protocol's retire kind (PROTOCOL.md, schemaVersion 2).
const kindRetire = "retire"

// kindComponent is the component name of a kind's operation: CheckInOp.
func kindComponent(kind, suffix string) string { return strings.ToUpper(kind[:1]) + kind[1:] + suffix }

func (b *docBuilder) operationKinds() {
	b.schema(schemas.SyncPayload{})
	all := b.doc.Components.Schemas["SyncPayload"].Value
	delete(b.doc.Components.Schemas, "SyncPayload")
	methods := []string{"gps", "manual"}
	disc := &openapi3.Discriminator{PropertyName: "kind", Mapping: map[string]openapi3.MappingRef{}}
	var alts openapi3.SchemaRefs
	str := func(s *openapi3.Schema) *openapi3.SchemaRef { return &openapi3.SchemaRef{Value: s} }
	for _, k := range opKinds {
		payload := &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{}, Required: k.required, Description: k.payloadDesc}
		for _, f := range k.fields {
			src := all.Properties[f]
			if src.Ref != "" {
				payload.Properties[f] = &openapi3.SchemaRef{Ref: src.Ref}
				continue
			}
			c := *src.Value
			c.Nullable = false // omitted when empty, never null
			if f == "method" {
				c.Enum = toAny(methods)
				c.Description = "gps (the default) needs a location; manual needs a reason"
			}
			applyFieldRules("SyncPayload", f, &c)
			for _, r := range k.fieldRules[f] {
				r(&c)
			}
			payload.Properties[f] = str(&c)
		}
		if k.kind == kindRetire {
			payload.MaxProps = openapi3.Ptr(uint64(0))
		}
		pname, oname := kindComponent(k.kind, "Payload"), kindComponent(k.kind, "Op")
		b.doc.Components.Schemas[pname] = str(payload)
		op := &openapi3.Schema{
			Type: &openapi3.Types{"object"}, Description: k.summary,
			AdditionalProperties: openapi3.AdditionalProperties{Has: openapi3.Ptr(false)},
			Properties: openapi3.Schemas{
				"seq":     str(&openapi3.Schema{Type: &openapi3.Types{"integer"}, Format: "int64", Min: openapi3.Ptr(1.0), Description: "1, 2, 3, ... per device: the queue's order"}),
				"opId":    str(&openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "uuid", Pattern: uuidPattern, Description: "the phone's id for the operation, kept when it is renumbered"}),
				"kind":    str(&openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: []any{k.kind}}),
				"at":      str(&openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "date-time", Description: "when it happened, by the phone's clock"}),
				"payload": {Ref: "#/components/schemas/" + pname},
			},
			Required: []string{"seq", "opId", "kind", "at"},
		}
		if !k.noVisit {
			op.Properties["visitId"] = str(&openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "uuid", Pattern: uuidPattern})
			op.Required = []string{"seq", "opId", "kind", "visitId", "at"}
		}
		b.doc.Components.Schemas[oname] = str(op)
		ref := "#/components/schemas/" + oname
		disc.Mapping[k.kind] = openapi3.MappingRef{Ref: ref}
		alts = append(alts, &openapi3.SchemaRef{Ref: ref})
	}
	b.doc.Components.Schemas["Op"] = str(&openapi3.Schema{OneOf: alts, Discriminator: disc, Description: "One operation, by kind. " +
		"A kind this server does not know is rejected with unknown_kind (its seq is used, the queue goes on). " +
		"Unknown payload fields are ignored by the server and kept with the operation."})
}

// structSchemas replace the generated schema of a type.
var structSchemas = map[reflect.Type]func(*docBuilder, *openapi3.Schema){
	reflect.TypeOf(fsync.Op{}): func(b *docBuilder, s *openapi3.Schema) { *s = *b.doc.Components.Schemas["Op"].Value },
}

// Examples, by operation id; each is checked against its schema.
var exampleTime = time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)

var requestExamples = map[string]any{
	"postV1AuthLogin":   map[string]any{"login": "wk.li", "password": "correct horse battery", "deviceId": "a1b2c3d4-phone"},
	"postV1AuthRefresh": map[string]any{"refreshToken": "c2Vzc2lvbi1pZC5zZWNyZXQ", "deviceId": "a1b2c3d4-phone"},
	"postV1SyncPush": map[string]any{
		"deviceId": "a1b2c3d4-phone", "schemaVersion": fsync.SchemaVersion, "appVersion": "2.4.0", "deviceClock": exampleTime.Add(2 * time.Hour).Format(time.RFC3339),
		"ops": []any{
			map[string]any{"seq": 41, "opId": "0192d6a4-0000-7000-8000-000000000041", "kind": "checkIn", "visitId": "0192d6a4-1111-7000-8000-000000000001",
				"at": exampleTime.Format(time.RFC3339), "payload": map[string]any{"location": map[string]any{"lat": 31.2304, "lng": 121.4737, "accuracyM": 8}}},
			map[string]any{"seq": 42, "opId": "0192d6a4-0000-7000-8000-000000000042", "kind": "progress", "visitId": "0192d6a4-1111-7000-8000-000000000001",
				"at": exampleTime.Add(30 * time.Minute).Format(time.RFC3339), "payload": map[string]any{"itemId": "kitchen", "done": true}},
			map[string]any{"seq": 43, "opId": "0192d6a4-0000-7000-8000-000000000043", "kind": "note", "visitId": "0192d6a4-1111-7000-8000-000000000001",
				"at": exampleTime.Add(40 * time.Minute).Format(time.RFC3339), "payload": map[string]any{"text": "The customer asked to skip the balcony."}},
		},
	},
	"postV1Devices":    map[string]any{"token": "fcm-registration-token-0123456789", "platform": "android", "appVersion": "2.4.0", "locale": "zh-CN", "timeZone": "Asia/Shanghai"},
	"postV1Complaints": map[string]any{"category": "quality", "text": "The kitchen floor was left wet and sticky.", "visitId": "0192d6a4-1111-7000-8000-000000000001"},
}

var responseExamples = map[string]any{
	"postV1AuthLogin": map[string]any{"accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.sig", "refreshToken": "c2Vzc2lvbi1pZC5zZWNyZXQ", "expiresIn": 900, "tokenType": "Bearer", "nextSeq": 42},
	"postV1SyncPush": map[string]any{
		"results": []any{
			map[string]any{"seq": 41, "opId": "0192d6a4-0000-7000-8000-000000000041", "status": "applied"},
			map[string]any{"seq": 42, "opId": "0192d6a4-0000-7000-8000-000000000042", "status": "conflict", "rule": fsync.RuleSameItem, "rules": []any{fsync.RuleSameItem}},
			map[string]any{"seq": 43, "opId": "0192d6a4-0000-7000-8000-000000000043", "status": "applied"},
		},
		"nextSeq": 44, "writeCheckpoint": "812", "serverTime": exampleTime.Add(2 * time.Hour).Format(time.RFC3339), "skewMs": 1200,
	},
	"getV1SyncPull": map[string]any{"cursor": "812", "hasMore": false, "visits": []any{}, "removed": []any{}, "incidents": []any{},
		"serverTime": exampleTime.Format(time.RFC3339)},
}

// Page limits (pageLimit) are documented from the same constants.
const (
	defaultPageLimit = 50
	maxPageLimit     = 200
)
