package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
)

// world is a small company with two teams, so every access rule has an
// "own" and an "other" side.
type world struct {
	f                   *fixture
	admin, s1, wk1, cu1 string // access tokens
	st                  *schemas.ServiceType
	w1, w2              *schemas.Worker
	c1, c2              *schemas.Customer
	v1, v2              *office.VisitView
}

var sysAdmin = &schemas.Actor{UserID: "test-admin", Role: schemas.RoleAdmin}

func workerInput(name, team, phone string) schemas.WorkerInput {
	return schemas.WorkerInput{Name: name, Phone: phone, Gender: schemas.GenderFemale, Languages: []string{"zh"},
		Skills:          []schemas.Skill{schemas.SkillDailyCleaning},
		Certificates:    []schemas.Certificate{{Type: "health", Number: "H1", Issued: "2036-01-01", Expires: "2039-01-01"}},
		BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed}, ExperienceYears: 5, Team: team,
		WorkingHours: schemas.WorkingHours{Days: []int{0, 1, 2, 3, 4, 5, 6}, Start: "07:00", End: "21:00"},
		Home:         schemas.LatLng{Lat: 31.2, Lng: 121.45}}
}

func customerInput(name, team, phone, addr string) schemas.CustomerInput {
	return schemas.CustomerInput{Name: name, Phone: phone, Team: team,
		Addresses: []schemas.Address{{Text: addr, Location: schemas.LatLng{Lat: 31.21, Lng: 121.46}, AccessNotes: "门禁 4321#"}},
		Household: schemas.Household{Elderly: true, Allergies: []string{"花生"}}}
}

func serviceInput(code string) schemas.ServiceTypeInput {
	return schemas.ServiceTypeInput{Code: code, Name: "日常保洁", DefaultMinutes: 180, Active: true,
		RequiredSkills: []schemas.Skill{schemas.SkillDailyCleaning}, RequiredCertificates: []string{"health"},
		Checklist: []schemas.ChecklistItem{{ID: "kitchen", Text: "厨房"}, {ID: "floors", Text: "地面"}}}
}

func newWorld(t *testing.T) *world {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := &world{f: f}
	var err error
	w.st, err = f.office.CreateServiceType(ctx, sysAdmin, serviceInput("daily_cleaning"))
	must(err)
	w.w1, err = f.office.CreateWorker(ctx, sysAdmin, workerInput("张桂兰", "team-1", "+8613800000001"))
	must(err)
	w.w2, err = f.office.CreateWorker(ctx, sysAdmin, workerInput("刘美华", "team-2", "+8613800000002"))
	must(err)
	w.c1, err = f.office.CreateCustomer(ctx, sysAdmin, customerInput("林先生", "team-1", "+8613900000001", "上海市徐汇区示范路1号101室"))
	must(err)
	w.c2, err = f.office.CreateCustomer(ctx, sysAdmin, customerInput("徐女士", "team-2", "+8613900000002", "上海市静安区示范路2号202室"))
	must(err)
	tomorrow := f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
	w.v1, err = f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID, ScheduledStart: tomorrow, WorkerID: w.w1.ID})
	must(err)
	w.v2, err = f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c2.ID, AddressID: w.c2.Addresses[0].ID, ServiceTypeID: w.st.ID, ScheduledStart: tomorrow, WorkerID: w.w2.ID})
	must(err)

	f.user("admin.o", schemas.RoleAdmin)
	for _, u := range []schemas.NewUser{
		{Login: "sup.one", Role: schemas.RoleSupervisor, Team: "team-1"},
		{Login: "wk.one", Role: schemas.RoleWorker, WorkerID: w.w1.ID, Team: "team-1"},
		{Login: "cu.one", Role: schemas.RoleCustomer, CustomerID: w.c1.ID},
	} {
		u.Password, u.Name = testPassword, u.Login
		_, err := f.auth.CreateUser(ctx, u)
		must(err)
	}
	w.admin = f.login("admin.o", "office").AccessToken
	w.s1 = f.login("sup.one", "office").AccessToken
	w.wk1 = f.login("wk.one", "phone").AccessToken
	w.cu1 = f.login("cu.one", "phone").AccessToken
	return w
}

// TestAccessRules tries every role against every office endpoint with its
// own and someone else's ids: what a caller may not see is 404, what its
// role may never do is 403, and nothing leaks either way.
func TestAccessRules(t *testing.T) {
	w := newWorld(t)
	f := w.f
	later := f.clock.Now().Add(72 * time.Hour)
	resched := map[string]any{"scheduledStart": later, "scheduledEnd": later.Add(time.Hour)}
	type req struct {
		method, path string
		body         any
		want         int
	}
	cases := map[string]struct {
		token string
		reqs  []req
	}{
		"supervisor of team-1": {w.s1, []req{
			{"GET", "/v1/workers/" + w.w1.ID, nil, 200},
			{"GET", "/v1/workers/" + w.w2.ID, nil, 404},
			{"PUT", "/v1/workers/" + w.w2.ID, map[string]any{"version": 1}, 400},
			{"GET", "/v1/customers/" + w.c1.ID, nil, 200},
			{"GET", "/v1/customers/" + w.c2.ID, nil, 404},
			{"GET", "/v1/visits/" + w.v1.ID, nil, 200},
			{"GET", "/v1/visits/" + w.v2.ID, nil, 404},
			{"POST", "/v1/visits/" + w.v2.ID + "/cancel", map[string]any{"reason": "x"}, 404},
			{"POST", "/v1/visits/" + w.v2.ID + "/reschedule", resched, 404},
			{"POST", "/v1/visits/" + w.v2.ID + "/unassign", map[string]any{"reason": "x"}, 404},
			{"GET", "/v1/visits/" + w.v2.ID + "/candidates", nil, 404},
			{"POST", "/v1/visits/" + w.v1.ID + "/reassign", map[string]any{"workerId": w.w2.ID}, 400}, // another team's worker
			{"POST", "/v1/visits", map[string]any{"customerId": w.c2.ID, "addressId": w.c2.Addresses[0].ID, "serviceTypeId": w.st.ID, "scheduledStart": later}, 400},
			{"GET", "/v1/audit/visit/" + w.v1.ID, nil, 403},
			{"POST", "/v1/service-types", serviceInput("other"), 403},
			{"GET", "/v1/visits/" + w.v1.ID + "/candidates", nil, 200},
		}},
		"worker w1": {w.wk1, []req{
			{"GET", "/v1/workers/" + w.w1.ID, nil, 200},
			{"GET", "/v1/workers/" + w.w2.ID, nil, 404},
			{"PUT", "/v1/workers/" + w.w1.ID, map[string]any{"version": 1}, 403},
			{"GET", "/v1/workers", nil, 403},
			{"GET", "/v1/customers/" + w.c1.ID, nil, 403},
			{"GET", "/v1/customers", nil, 403},
			{"GET", "/v1/visits/" + w.v1.ID, nil, 200},
			{"GET", "/v1/visits/" + w.v2.ID, nil, 404},
			{"POST", "/v1/visits/" + w.v1.ID + "/cancel", map[string]any{"reason": "x"}, 403},
			{"GET", "/v1/visits/" + w.v1.ID + "/candidates", nil, 403},
			{"GET", "/v1/schedules", nil, 403},
			{"GET", "/v1/audit/worker/" + w.w1.ID, nil, 403},
			{"GET", "/v1/service-types/" + w.st.ID, nil, 200},
		}},
		"customer c1": {w.cu1, []req{
			{"GET", "/v1/customers/" + w.c1.ID, nil, 200},
			{"GET", "/v1/customers/" + w.c2.ID, nil, 404},
			{"PUT", "/v1/customers/" + w.c1.ID, map[string]any{"version": 1}, 403},
			{"GET", "/v1/visits/" + w.v1.ID, nil, 200},
			{"GET", "/v1/visits/" + w.v2.ID, nil, 404},
			{"GET", "/v1/workers/" + w.w1.ID, nil, 403},
			{"POST", "/v1/visits", map[string]any{}, 403},
			{"POST", "/v1/visits/" + w.v1.ID + "/reschedule", resched, 403},
		}},
		"admin": {w.admin, []req{
			{"GET", "/v1/workers/" + w.w2.ID, nil, 200},
			{"GET", "/v1/customers/" + w.c2.ID, nil, 200},
			{"GET", "/v1/visits/" + w.v2.ID, nil, 200},
			{"GET", "/v1/visits/" + w.v2.ID + "/candidates", nil, 200},
			{"GET", "/v1/audit/visit/" + w.v2.ID, nil, 200},
			{"GET", "/v1/visits/" + schemas.NewID(), nil, 404},
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f.t = t
			for _, r := range c.reqs {
				res := f.do(r.method, r.path, r.body, c.token)
				if res.status != r.want {
					t.Errorf("%s %s = %d, want %d: %s", r.method, r.path, res.status, r.want, res.body)
					continue
				}
				if r.want >= 400 {
					var eb struct {
						Error struct{ Code string } `json:"error"`
					}
					if json.Unmarshal(res.body, &eb) != nil || eb.Error.Code == "" {
						t.Errorf("%s %s: not the error shape: %s", r.method, r.path, res.body)
					}
					for _, secret := range []string{w.c2.Phone, w.c2.Addresses[0].Text, w.w2.Phone} {
						if strings.Contains(string(res.body), secret) {
							t.Errorf("%s %s leaks %q", r.method, r.path, secret)
						}
					}
				}
			}
		})
	}
	f.t = t

	// Lists are scoped the same way.
	ids := func(token, path string) []string {
		var p struct {
			Items []struct{ ID string } `json:"items"`
		}
		f.do("GET", path, nil, token).want(200).decode(&p)
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return out
	}
	for _, c := range []struct {
		token, path string
		want        []string
	}{
		{w.s1, "/v1/workers", []string{w.w1.ID}},
		{w.s1, "/v1/workers?team=team-2", nil},
		{w.s1, "/v1/customers", []string{w.c1.ID}},
		{w.s1, "/v1/visits", []string{w.v1.ID}},
		{w.wk1, "/v1/visits", []string{w.v1.ID}},
		{w.wk1, "/v1/visits?workerId=" + w.w2.ID, nil},
		{w.cu1, "/v1/visits", []string{w.v1.ID}},
		{w.cu1, "/v1/visits?customerId=" + w.c2.ID, nil},
	} {
		if got := ids(c.token, c.path); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("GET %s = %v, want %v", c.path, got, c.want)
		}
	}

	// The worker sees the household for tomorrow's visit, never its phone
	// (they talk through the visit's messages); the customer sees the
	// worker's public profile but never the worker's phone.
	var wv office.WorkerVisit
	wr := f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.wk1).want(200)
	wr.decode(&wv)
	if wv.AddressHidden || wv.Address.Text == "" || wv.Customer == nil || wv.Customer.Household == nil {
		t.Errorf("worker's view inside the window lacks the household: %+v", wv)
	}
	if strings.Contains(string(wr.body), w.c1.Phone[3:]) {
		t.Errorf("worker's view shows the household's phone: %s", wr.body)
	}
	f.accept(w.w1.ID, w.v1.ID)
	cr := f.do("GET", "/v1/visits/"+w.v1.ID, nil, w.cu1).want(200)
	var cv office.CustomerVisit
	cr.decode(&cv)
	if cv.Worker == nil || cv.Worker.Name != w.w1.Name || strings.Contains(string(cr.body), w.w1.Phone) {
		t.Errorf("customer's view: worker %+v, body %s", cv.Worker, cr.body)
	}
	// Three days later the worker no longer sees the address or phone.
	f.clock.Add(3 * 24 * time.Hour)
	r := f.do("GET", "/v1/visits/"+w.v1.ID, nil, f.login("wk.one", "phone").AccessToken).want(200)
	for _, secret := range []string{w.c1.Phone, w.c1.Addresses[0].Text, "4321"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("worker still sees %q outside the window: %s", secret, r.body)
		}
	}
}

// TestPIIEncryptedAtRest reads the raw documents: no phone, address or
// access note in clear; lookups by phone still work.
func TestPIIEncryptedAtRest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for name, get := range map[string]func() (any, error){
		"customer": func() (any, error) { return rawOfficeDoc(ctx, w.f.db, "customers", w.c1.ID) },
		"visit":    func() (any, error) { return w.f.db.Visits.Raw(ctx, w.v1.ID) },
	} {
		raw, err := get()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(raw)
		for _, secret := range []string{w.c1.Phone, "13900000001", "示范路1号", "4321"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("raw %s document holds %q in clear: %s", name, secret, b)
			}
		}
		if !strings.Contains(string(b), "enc1.") {
			t.Errorf("raw %s document has no sealed values: %s", name, b)
		}
	}
	var p struct {
		Items []schemas.Customer `json:"items"`
	}
	w.f.do("GET", "/v1/customers?phone=%2B86%20139-0000-0001", nil, w.admin).want(200).decode(&p)
	if len(p.Items) != 1 || p.Items[0].ID != w.c1.ID || p.Items[0].Phone != w.c1.Phone {
		t.Fatalf("phone lookup = %+v", p.Items)
	}
}

// TestAuditTrail: each write leaves an entry with who, what changed from
// what to what, and personal values masked.
func TestAuditTrail(t *testing.T) {
	w := newWorld(t)
	f := w.f
	later := f.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)

	wu := map[string]any{}
	b, _ := json.Marshal(w.w1.WorkerInput)
	_ = json.Unmarshal(b, &wu)
	wu["version"] = 1
	wu["experienceYears"] = 9
	wu["phone"] = "+8613800009999"
	f.do("PUT", "/v1/workers/"+w.w1.ID, wu, w.admin).want(200)
	f.do("PUT", "/v1/workers/"+w.w1.ID, wu, w.admin).wantError(409, schemas.ECONFLICT) // stale version

	cu := map[string]any{}
	b, _ = json.Marshal(w.c1.CustomerInput)
	_ = json.Unmarshal(b, &cu)
	cu["version"] = 1
	cu["phone"] = "+8613900008888"
	f.do("PUT", "/v1/customers/"+w.c1.ID, cu, w.admin).want(200)

	f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"version": 1, "scheduledStart": later, "scheduledEnd": later.Add(2 * time.Hour), "reason": "customer asked"}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"version": 1, "scheduledStart": later, "scheduledEnd": later.Add(2 * time.Hour)}, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/unassign", map[string]any{"reason": "worker sick"}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reassign", map[string]any{"workerId": w.w1.ID}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/cancel", map[string]any{"reason": "customer travelling"}, w.s1).want(200)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/cancel", map[string]any{"reason": "again"}, w.s1).wantError(409, schemas.ECONFLICT)
	f.do("POST", "/v1/visits/"+w.v1.ID+"/reschedule", map[string]any{"scheduledStart": later, "scheduledEnd": later.Add(time.Hour)}, w.s1).wantError(409, schemas.ECONFLICT)

	trail := func(entity, id string) []schemas.AuditEntry {
		var p struct {
			Items []schemas.AuditEntry `json:"items"`
		}
		r := f.do("GET", "/v1/audit/"+entity+"/"+id, nil, w.admin).want(200)
		r.decode(&p)
		for _, secret := range []string{"13800009999", "13900008888", w.c1.Phone, w.c1.Addresses[0].Text, "4321"} {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("audit of %s %s shows %q", entity, id, secret)
			}
		}
		return p.Items
	}
	actions := func(es []schemas.AuditEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s@%d", e.Action, e.Version))
		}
		return strings.Join(out, ",")
	}
	if got := actions(trail("visit", w.v1.ID)); got != "create@1,reschedule@2,unassign@3,reassign@4,cancel@5" {
		t.Errorf("visit trail = %s", got)
	}
	vt := trail("visit", w.v1.ID)
	var sawStart bool
	for _, c := range vt[1].Changes {
		if c.Field == "scheduledStart" && c.To != nil && c.From != nil {
			sawStart = true
		}
	}
	if !sawStart || vt[4].Note != "customer travelling" || vt[1].Role != schemas.RoleSupervisor || vt[1].DeviceID != "office" {
		t.Errorf("reschedule entry = %+v, cancel = %+v", vt[1], vt[4])
	}
	wt := trail("worker", w.w1.ID)
	if actions(wt) != "create@1,update@2" {
		t.Fatalf("worker trail = %s", actions(wt))
	}
	fields := map[string]schemas.FieldChange{}
	for _, c := range wt[1].Changes {
		fields[c.Field] = c
	}
	if fields["experienceYears"].From != float64(5) || fields["experienceYears"].To != float64(9) {
		t.Errorf("experienceYears change = %+v", fields["experienceYears"])
	}
	if fields["phone"].From != schemas.Masked || fields["phone"].To != schemas.Masked {
		t.Errorf("phone change not masked: %+v", fields["phone"])
	}
	if got := actions(trail("customer", w.c1.ID)); got != "create@1,update@2" {
		t.Errorf("customer trail = %s", got)
	}
	if got := actions(trail("serviceType", w.st.ID)); got != "create@1" {
		t.Errorf("service trail = %s", got)
	}
	f.do("GET", "/v1/audit/nothing/"+w.v1.ID, nil, w.admin).wantError(400, schemas.EINVALID)
}

// TestSchedules: generation is idempotent; an edit moves future visits
// nobody touched and leaves hand-edited ones; ending cancels what follows.
func TestSchedules(t *testing.T) {
	w := newWorld(t)
	f := w.f
	// The fixture clock is Tuesday 2037-11-24 17:00 in Shanghai.
	in := map[string]any{"customerId": w.c1.ID, "addressId": w.c1.Addresses[0].ID, "serviceTypeId": w.st.ID, "workerId": w.w1.ID,
		"weekdays": []int{2, 5}, "startTime": "09:00", "endTime": "12:00", "startsOn": "2037-11-24", "endsOn": "", "notes": ""}
	var sch schemas.Schedule
	f.do("POST", "/v1/schedules", in, w.s1).want(201).decode(&sch)

	visits := func(statuses string) []office.VisitView {
		var p struct {
			Items []office.VisitView `json:"items"`
		}
		f.do("GET", "/v1/visits?limit=200&customerId="+w.c1.ID+"&status="+statuses, nil, w.admin).want(200).decode(&p)
		var out []office.VisitView
		for _, v := range p.Items {
			if v.ScheduleID == sch.ID {
				out = append(out, v)
			}
		}
		return out
	}
	// Tue/Fri for 4 weeks from Tuesday evening: Fri 27 .. Tue 22 Dec = 8.
	gen := visits("scheduled")
	if len(gen) != 8 {
		t.Fatalf("generated %d visits, want 8", len(gen))
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	for _, v := range gen {
		if l := v.ScheduledStart.In(loc); l.Format("15:04") != "09:00" || (l.Weekday() != time.Tuesday && l.Weekday() != time.Friday) {
			t.Fatalf("visit at %s local", l)
		}
		if v.WorkerID != w.w1.ID || len(v.Checklist) != 2 || v.Team != "team-1" {
			t.Fatalf("generated visit %+v", v)
		}
	}
	var r office.ReflowResult
	f.do("POST", "/v1/schedules/generate", nil, w.admin).want(200).decode(&r)
	if r.Created != 0 || r.Cancelled != 0 {
		t.Fatalf("second run = %+v, want nothing new", r)
	}

	// The office moves one visit by hand; then the schedule changes to
	// Mondays 10:00-13:00.
	edited := gen[1]
	f.do("POST", "/v1/visits/"+edited.ID+"/reschedule", map[string]any{"scheduledStart": edited.ScheduledStart.Add(time.Hour), "scheduledEnd": edited.ScheduledEnd.Add(time.Hour)}, w.s1).want(200)
	in["version"] = 1
	in["weekdays"] = []int{1}
	in["startTime"], in["endTime"] = "10:00", "13:00"
	f.do("PUT", "/v1/schedules/"+sch.ID, in, w.s1).want(200)

	mondays := visits("scheduled")
	var monday, kept int
	for _, v := range mondays {
		l := v.ScheduledStart.In(loc)
		switch {
		case v.ID == edited.ID:
			kept++
		case l.Weekday() == time.Monday && l.Format("15:04") == "10:00":
			monday++
		default:
			t.Errorf("stray visit %s at %s", v.ID, l)
		}
	}
	if monday != 4 || kept != 1 {
		t.Fatalf("after edit: %d Monday visits (want 4), hand-edited kept %d (want 1)", monday, kept)
	}
	cancelled := visits("cancelled")
	if len(cancelled) != 7 {
		t.Fatalf("cancelled %d old visits, want 7", len(cancelled))
	}
	for _, v := range cancelled {
		if v.CancelReason != office.ReasonScheduleChanged {
			t.Fatalf("cancel reason %q", v.CancelReason)
		}
	}

	// Back to Tue/Fri: the cancelled ones come back rather than new ids.
	in["version"] = 2
	in["weekdays"] = []int{2, 5}
	in["startTime"], in["endTime"] = "09:00", "12:00"
	f.do("PUT", "/v1/schedules/"+sch.ID, in, w.s1).want(200)
	if n := len(visits("scheduled")); n != 8 { // 7 revived + the hand-edited one
		t.Fatalf("after revert: %d scheduled, want 8", n)
	}

	// End after next Friday: later generated visits are cancelled.
	f.do("POST", "/v1/schedules/"+sch.ID+"/end", map[string]any{"version": 3, "endsOn": "2037-12-04"}, w.s1).want(200)
	left := visits("scheduled")
	for _, v := range left {
		if v.ID != edited.ID && v.ScheduledStart.In(loc).Format(schemas.DateLayout) > "2037-12-04" {
			t.Errorf("visit after the end: %s", v.ScheduledStart.In(loc))
		}
	}
	f.do("POST", "/v1/schedules/"+sch.ID+"/end", map[string]any{"version": 4, "endsOn": "2037-01-01"}, w.s1).wantError(400, schemas.EINVALID)
}

// TestBadInputEveryEndpoint walks the OpenAPI document: every operation
// with a body gets malformed, hostile and wrongly typed bodies, and every
// list gets bad query values. Each answer is a 4xx in the error shape.
func TestBadInputEveryEndpoint(t *testing.T) {
	w := newWorld(t)
	f := w.f
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]struct {
							Type string `json:"type"`
						} `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Parameters []struct {
				Name, In string
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(inlinedDocument(t), &doc); err != nil {
		t.Fatal(err)
	}
	wrong := map[string]any{"string": 12345, "integer": "many", "number": "x", "boolean": "yes", "array": map[string]any{}, "object": []int{1}}
	tried := 0
	for path, ops := range doc.Paths {
		concrete := strings.NewReplacer("{id}", schemas.NewID(), "{entity}", "visit").Replace(path)
		for method, op := range ops {
			method = strings.ToUpper(method)
			if op.RequestBody != nil {
				bodies := []struct{ ctype, body string }{
					{"application/json", `{"$set":{"role":"admin"}}`},
					{"application/json", `{"a":{"$gt":""}}`},
					{"application/json", `[]`},
					{"application/json", `{"noSuchField":1}`},
					{"application/json", `{`},
					{"application/json", ``},
					{"text/plain", `{}`},
				}
				for prop, s := range op.RequestBody.Content["application/json"].Schema.Properties {
					if v, ok := wrong[s.Type]; ok {
						b, _ := json.Marshal(map[string]any{prop: v})
						bodies = append(bodies, struct{ ctype, body string }{"application/json", string(b)})
					}
				}
				for _, b := range bodies {
					tried++
					r := f.do(method, concrete, b.body, w.admin, "Content-Type", b.ctype)
					if r.status < 400 || r.status >= 500 || r.status == 404 && !strings.Contains(path, "{") {
						t.Errorf("%s %s with %s %s = %d %s", method, path, b.ctype, b.body, r.status, r.body)
					}
					if r.status == 400 || r.status == 415 {
						f.t = t
						r.t = t
						r.wantError(r.status, map[int]string{400: schemas.EINVALID, 415: schemas.EMEDIATYPE}[r.status])
					}
				}
			}
			for _, p := range op.Parameters {
				if p.In != "query" {
					continue
				}
				for _, v := range []string{"-1", "%24gt", "x%00y", strings.Repeat("9", 30)} {
					tried++
					r := f.do(method, concrete+"?"+p.Name+"="+v, nil, w.admin)
					if r.status >= 500 {
						t.Errorf("%s %s?%s=%s = %d %s", method, path, p.Name, v, r.status, r.body)
					}
				}
			}
		}
	}
	if tried < 200 {
		t.Fatalf("only %d bad requests tried", tried)
	}
}
