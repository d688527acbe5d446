package api_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/api"
	"fieldsync/server/auth"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// The actors of the matrices, in column order: every rule has an own and
// an other side. The team-2 supervisor sees customer c1 because a team-2
// visit goes there, which must not let them edit c1.
const (
	aAdmin = iota
	aSup1
	aSup2
	aWk1
	aWk2
	aCu1
	aCu2
	nActors
)

var actorNames = [nActors]string{"admin", "supervisor team-1", "supervisor team-2", "worker w1", "worker w2", "customer c1", "customer c2"}

var actorRoles = [nActors]schemas.Role{schemas.RoleAdmin, schemas.RoleSupervisor, schemas.RoleSupervisor,
	schemas.RoleWorker, schemas.RoleWorker, schemas.RoleCustomer, schemas.RoleCustomer}

// mx is a world with every actor signed in and helpers that make a fresh
// team-1 record (customer c1, worker w1) for each request, so each actor
// meets the record in the same state.
type mx struct {
	*world
	t      *testing.T
	logins [nActors]string
	tokens [nActors]string
	acts   [nActors]*schemas.Actor
	w3     *schemas.Worker // another team-1 worker, to reassign to
	v3     *office.VisitView
	n      int
}

func newMX(t *testing.T) *mx {
	t.Helper()
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	m := &mx{world: w, t: t}
	var err error
	if m.w3, err = f.office.CreateWorker(ctx, sysAdmin, workerInput("王秀英", "team-1", "+8613800000003")); err != nil {
		t.Fatal(err)
	}
	// A team-2 visit to the team-1 customer.
	if m.v3, err = f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: f.clock.Now().Add(30 * time.Hour).Truncate(time.Hour), WorkerID: w.w2.ID}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []schemas.NewUser{
		{Login: "sup.team2", Role: schemas.RoleSupervisor, Team: "team-2"},
		{Login: "wk.team2", Role: schemas.RoleWorker, WorkerID: w.w2.ID, Team: "team-2"},
		{Login: "cu.team2", Role: schemas.RoleCustomer, CustomerID: w.c2.ID},
	} {
		u.Password, u.Name = testPassword, u.Login
		if _, err := f.auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	m.logins = [nActors]string{"admin.o", "sup.one", "sup.team2", "wk.one", "wk.team2", "cu.one", "cu.team2"}
	m.tokens = [nActors]string{w.admin, w.s1, f.login("sup.team2", "office").AccessToken, w.wk1, f.login("wk.team2", "phone").AccessToken,
		w.cu1, f.login("cu.team2", "phone").AccessToken}
	for i, tok := range m.tokens {
		var u schemas.User
		f.do("GET", "/v1/me", nil, tok).want(200).decode(&u)
		m.acts[i] = &schemas.Actor{UserID: u.ID, Role: u.Role, Team: u.Team, WorkerID: u.WorkerID, CustomerID: u.CustomerID, DeviceID: "setup"}
	}
	return m
}

func (m *mx) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

func (m *mx) next() int { m.n++; return m.n }

// visit plans a team-1 visit of c1 with w1 starting at start.
func (m *mx) visit(start time.Time) *schemas.Visit {
	m.t.Helper()
	vv, err := m.f.office.CreateVisit(m.t.Context(), sysAdmin, schemas.NewVisit{CustomerID: m.c1.ID, AddressID: m.c1.Addresses[0].ID,
		ServiceTypeID: m.st.ID, ScheduledStart: start, WorkerID: m.w1.ID, OverrideReason: "fixture: w1's visits may overlap"})
	m.must(err)
	return &vv.Visit
}

// upcoming is a visit tomorrow.
func (m *mx) upcoming() *schemas.Visit {
	return m.visit(m.f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour).Add(time.Duration(m.next()) * time.Minute))
}

// push records w1's phone's operations on visit id, from a phone of its own.
func (m *mx) push(id string, ops ...map[string]any) *fsync.PushResponse {
	m.t.Helper()
	act := *m.acts[aWk1]
	act.DeviceID = fmt.Sprintf("setup-%d", m.next())
	now := m.f.clock.Now()
	for i, o := range ops {
		o["seq"], o["opId"], o["visitId"] = i+1, m.f.newID(), id
	}
	raw, _ := json.Marshal(map[string]any{"deviceId": act.DeviceID, "schemaVersion": 1, "appVersion": "1.4.2", "deviceClock": now, "ops": ops})
	var b fsync.Batch
	m.must(json.Unmarshal(raw, &b))
	resp, err := m.f.sync.Push(m.t.Context(), &act, &b)
	m.must(err)
	return resp
}

func mxOp(kind string, at time.Time, payload map[string]any) map[string]any {
	return map[string]any{"kind": kind, "at": at, "payload": payload}
}

// started is a visit that began two hours ago, with w1 checked in.
func (m *mx) started() *schemas.Visit {
	now := m.f.clock.Now()
	v := m.visit(now.Add(-2 * time.Hour))
	m.push(v.ID, mxOp(fsync.KindCheckIn, now.Add(-110*time.Minute), map[string]any{"location": near}))
	return v
}

func (m *mx) checkedOut() *schemas.Visit {
	v := m.started()
	m.push(v.ID, mxOp(fsync.KindCheckOut, m.f.clock.Now().Add(-10*time.Minute), map[string]any{"location": near}))
	return v
}

func (m *mx) signedOff(kitchenOK bool) *schemas.Visit {
	v := m.checkedOut()
	m.push(v.ID, mxOp(fsync.KindSignOff, m.f.clock.Now().Add(-5*time.Minute), map[string]any{"signerName": "林先生",
		"items": []map[string]any{{"itemId": "kitchen", "accepted": kitchenOK, "reason": "灶台还有油渍"}, {"itemId": "floors", "accepted": true}}}))
	return v
}

func (m *mx) complaint(state string) *schemas.Complaint {
	ctx := m.t.Context()
	c, err := m.f.office.FileComplaint(ctx, m.acts[aCu1], schemas.NewComplaint{Category: "quality", Text: "厨房没有打扫干净", VisitID: m.upcoming().ID})
	m.must(err)
	if state == schemas.ComplaintRemedyProposed {
		for _, act := range []office.ComplaintAction{{Action: "acknowledge"}, {Action: "investigate"},
			{Action: "propose", Remedy: &schemas.Remedy{Kind: "voucher", Detail: "下次服务九折"}}} {
			c, err = m.f.office.ActOnComplaint(ctx, sysAdmin, c.ID, act)
			m.must(err)
		}
	}
	return c
}

func (m *mx) incident() *schemas.Incident {
	v := m.started()
	m.push(v.ID, mxOp(fsync.KindIncident, m.f.clock.Now().Add(-time.Hour), map[string]any{"category": "property_damage", "severity": "low", "text": "打碎一个杯子"}))
	is, err := m.f.office.Incidents(m.t.Context(), sysAdmin, office.Page{})
	m.must(err)
	for i := range is.Items {
		if is.Items[i].VisitID == v.ID {
			return &is.Items[i]
		}
	}
	m.t.Fatal("no incident recorded")
	return nil
}

func (m *mx) escalation() *schemas.Escalation {
	v := m.started()
	m.push(v.ID, mxOp(fsync.KindEscalate, m.f.clock.Now().Add(-time.Hour), map[string]any{"topic": "customer_request", "urgency": "normal", "text": "客户要求加擦阳台窗户"}))
	es, err := m.f.office.Escalations(m.t.Context(), sysAdmin, office.Page{Filter: office.Filter{VisitID: v.ID}})
	m.must(err)
	if len(es.Items) == 0 {
		m.t.Fatal("no escalation recorded")
	}
	return &es.Items[0]
}

func (m *mx) followUp() *schemas.FollowUp {
	v := m.signedOff(true)
	fs, err := m.f.office.FollowUps(m.t.Context(), sysAdmin, office.Page{})
	m.must(err)
	for i := range fs.Items {
		if fs.Items[i].VisitID == v.ID {
			return &fs.Items[i]
		}
	}
	m.t.Fatal("no follow-up")
	return nil
}

func (m *mx) alert() string {
	a := &schemas.Alert{Kind: "late", Team: "team-1", Priority: "normal", CreatedAt: m.f.clock.Now().UTC()}
	cause := m.f.newID()
	_, err := m.f.db.Cases.RaiseAlert(m.t.Context(), a, "test/"+cause, cause, 0)
	m.must(err)
	return a.ID
}

func (m *mx) scheduleInput() schemas.ScheduleInput {
	return schemas.ScheduleInput{CustomerID: m.c1.ID, AddressID: m.c1.Addresses[0].ID, ServiceTypeID: m.st.ID, WorkerID: m.w1.ID,
		Weekdays: []int{3}, StartTime: "09:00", EndTime: "11:00", StartsOn: m.f.clock.Now().In(mxZone).AddDate(0, 0, 21).Format(schemas.DateLayout)}
}

func (m *mx) schedule() *schemas.Schedule {
	s, err := m.f.office.CreateSchedule(m.t.Context(), sysAdmin, m.scheduleInput())
	m.must(err)
	return &s.Schedule
}

func (m *mx) phone() string { return fmt.Sprintf("+86137%08d", m.next()) }

// customer is a team-1 customer whom a team-2 visit goes to.
func (m *mx) customer() *schemas.Customer {
	ctx := m.t.Context()
	c, err := m.f.office.CreateCustomer(ctx, sysAdmin, customerInput("赵女士", "team-1", m.phone(), "上海市长宁区示范路9号"))
	m.must(err)
	_, err = m.f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: c.ID, AddressID: c.Addresses[0].ID, ServiceTypeID: m.st.ID,
		ScheduledStart: m.f.clock.Now().Add(48 * time.Hour).Truncate(time.Hour), WorkerID: m.w2.ID, OverrideReason: "fixture: w2's visits may overlap"})
	m.must(err)
	return c
}

// putBody is a PUT body: the record's editable fields as loaded, the
// version, and the changes.
func putBody(in any, version int64, changes map[string]any) map[string]any {
	out := map[string]any{}
	b, _ := json.Marshal(in)
	_ = json.Unmarshal(b, &out)
	out["version"] = version
	for k, v := range changes {
		out[k] = v
	}
	return out
}

var mxZone, _ = time.LoadLocation("Asia/Shanghai")

// mxExpect is the status each actor gets, in column order; okay is the
// route's documented success status.
type mxExpect [nActors]int

const okay = 0

var (
	// columns: admin, supervisor team-1, supervisor team-2, worker w1, worker w2, customer c1, customer c2
	ruleAnyone       = mxExpect{okay, okay, okay, okay, okay, okay, okay}
	ruleAdminOnly    = mxExpect{okay, 403, 403, 403, 403, 403, 403}
	ruleOfficeLists  = mxExpect{okay, okay, okay, 403, 403, 403, 403} // lists: each sees its own scope
	ruleOwnTeam      = mxExpect{okay, okay, 404, 403, 403, 403, 403}
	ruleVisitReaders = mxExpect{okay, okay, 404, okay, 404, okay, 404} // a visit's readers
	ruleHousehold    = mxExpect{403, 403, 403, 403, 403, okay, 404}
	// The household's own visit, or the office's (own team) for it.
	ruleHouseholdOrOffice = mxExpect{okay, okay, 404, 403, 403, okay, 404}
	rulePhones            = mxExpect{403, 403, 403, okay, okay, 403, 403}
)

// mxReq is one request of a matrix cell; token "" means the actor's own,
// "-" none.
type mxReq struct {
	path  string
	body  any
	token string
}

// mxRow is one endpoint: what its answer holds (for the views), who gets
// which status, and how to make a fresh request for an actor.
type mxRow struct {
	kind  string // "" for no JSON body to check
	want  mxExpect
	make  func(m *mx, who int) mxReq
	check func(t *testing.T, who int, body []byte) // more about a success answer
	skip  string                                   // why another test covers it
}

func mxFixed(path string, body any) func(*mx, int) mxReq {
	return func(*mx, int) mxReq { return mxReq{path: path, body: body} }
}

func (m *mx) rows() map[string]mxRow {
	now := m.f.clock.Now()
	noteBody := map[string]any{"note": "已处理"}
	return map[string]mxRow{
		"GET /healthz":      {kind: "status", want: ruleAnyone, make: mxFixed("/healthz", nil)},
		"GET /readyz":       {kind: "status", want: ruleAnyone, make: mxFixed("/readyz", nil)},
		"GET /openapi.json": {want: ruleAnyone, make: mxFixed("/openapi.json", nil)},

		"POST /v1/auth/login": {kind: "tokens", want: ruleAnyone, make: func(m *mx, who int) mxReq {
			return mxReq{path: "/v1/auth/login", body: map[string]any{"login": m.logins[who], "password": testPassword, "deviceId": "matrix"}, token: "-"}
		}},
		"POST /v1/auth/refresh": {kind: "tokens", want: ruleAnyone, make: func(m *mx, who int) mxReq {
			return mxReq{path: "/v1/auth/refresh", body: map[string]any{"refreshToken": m.f.login(m.logins[who], "matrix").RefreshToken, "deviceId": "matrix"}, token: "-"}
		}},
		"POST /v1/auth/logout": {want: ruleAnyone, make: func(m *mx, who int) mxReq {
			return mxReq{path: "/v1/auth/logout", token: m.f.login(m.logins[who], "matrix").AccessToken}
		}},
		"GET /v1/me": {kind: "user", want: ruleAnyone, make: mxFixed("/v1/me", nil)},

		"GET /v1/users": {kind: "page:user", want: ruleAdminOnly, make: mxFixed("/v1/users", nil)},
		"POST /v1/users": {kind: "user", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/users", body: map[string]any{"login": fmt.Sprintf("new.user%d", m.next()), "password": testPassword, "name": "N", "role": "worker"}}
		}},
		"GET /v1/users/{id}": {kind: "user", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/users/" + m.acts[aWk1].UserID} }},
		"PATCH /v1/users/{id}": {kind: "user", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/users/" + m.acts[aCu2].UserID, body: map[string]any{"name": "徐女士"}}
		}},

		"GET /v1/workers": {kind: "page:worker", want: ruleOfficeLists, make: mxFixed("/v1/workers", nil)},
		"POST /v1/workers": {kind: "worker", want: mxExpect{okay, okay, 403, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/workers", body: workerInput("周阿姨", "team-1", m.phone())}
		}},
		"GET /v1/workers/{id}": {kind: "worker", want: mxExpect{okay, okay, 404, okay, 404, 403, 403}, make: mxFixed("/v1/workers/"+m.w1.ID, nil)},
		"PUT /v1/workers/{id}": {kind: "worker", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			w, err := m.f.office.CreateWorker(m.t.Context(), sysAdmin, workerInput("吴阿姨", "team-1", m.phone()))
			m.must(err)
			return mxReq{path: "/v1/workers/" + w.ID, body: putBody(w.WorkerInput, w.Version, map[string]any{"experienceYears": 7})}
		}},

		"GET /v1/customers": {kind: "page:customer", want: ruleOfficeLists, make: mxFixed("/v1/customers", nil)},
		"POST /v1/customers": {kind: "customer", want: mxExpect{okay, okay, 403, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/customers", body: customerInput("钱先生", "team-1", m.phone(), "上海市黄浦区示范路3号")}
		}},
		"GET /v1/customers/{id}": {kind: "customer", want: mxExpect{okay, okay, okay, 403, 403, okay, 404}, make: mxFixed("/v1/customers/"+m.c1.ID, nil)},
		"PUT /v1/customers/{id}": {kind: "customer", want: mxExpect{okay, okay, 403, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			c := m.customer()
			return mxReq{path: "/v1/customers/" + c.ID, body: putBody(c.CustomerInput, c.Version, map[string]any{"phone": m.phone()})}
		}},

		// A household's channel is its team's to read and set: a supervisor who only visits it gets 403.
		"GET /v1/customers/{id}/notification-channel": {want: mxExpect{okay, okay, 403, 403, 403, okay, 404}, make: mxFixed("/v1/customers/"+m.c1.ID+"/notification-channel", nil)},
		"PUT /v1/customers/{id}/notification-channel": {want: mxExpect{okay, okay, 403, 403, 403, okay, 404}, make: mxFixed("/v1/customers/"+m.c1.ID+"/notification-channel", map[string]any{"channel": "sms"})},

		"GET /v1/service-types": {kind: "page:serviceType", want: ruleAnyone, make: mxFixed("/v1/service-types", nil)},
		"POST /v1/service-types": {kind: "serviceType", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/service-types", body: serviceInput(fmt.Sprintf("svc_%d", m.next()))}
		}},
		"GET /v1/service-types/{id}": {kind: "serviceType", want: ruleAnyone, make: mxFixed("/v1/service-types/"+m.st.ID, nil)},
		"PUT /v1/service-types/{id}": {kind: "serviceType", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq {
			st, err := m.f.office.CreateServiceType(m.t.Context(), sysAdmin, serviceInput(fmt.Sprintf("svc_%d", m.next())))
			m.must(err)
			return mxReq{path: "/v1/service-types/" + st.ID, body: putBody(st.ServiceTypeInput, st.Version, map[string]any{"defaultMinutes": 120})}
		}},

		"GET /v1/visits": {kind: "page:visit", want: ruleAnyone, make: mxFixed("/v1/visits", nil)},
		"POST /v1/visits": {kind: "visit", want: mxExpect{okay, okay, 400, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits", body: map[string]any{"customerId": m.c1.ID, "addressId": m.c1.Addresses[0].ID, "serviceTypeId": m.st.ID,
				"scheduledStart": now.Add(50 * time.Hour).Truncate(time.Hour), "workerId": m.w1.ID, "overrideReason": "the matrix books w1 many times at once"}}
		}},
		"GET /v1/visits/{id}": {kind: "visit", want: ruleVisitReaders, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/visits/" + m.upcoming().ID} }},
		"POST /v1/visits/{id}/reschedule": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			later := now.Add(72 * time.Hour).Truncate(time.Hour)
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/reschedule", body: map[string]any{"scheduledStart": later, "scheduledEnd": later.Add(2 * time.Hour), "overrideReason": "the matrix books w1 many times at once"}}
		}},
		"POST /v1/visits/{id}/reassign": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/reassign", body: map[string]any{"workerId": m.w3.ID, "overrideReason": "the matrix books w3 many times at once"}}
		}},
		"POST /v1/visits/{id}/unassign": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/unassign", body: map[string]any{"reason": "服务师请假"}}
		}},
		"POST /v1/visits/{id}/cancel": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/cancel", body: map[string]any{"reason": "客户出差"}}
		}},
		"POST /v1/visits/{id}/no-show": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			v := m.visit(now.Add(-time.Duration(90+m.next()) * time.Minute).Truncate(time.Minute))
			return mxReq{path: "/v1/visits/" + v.ID + "/no-show", body: map[string]any{"party": "worker", "reason": "服务师未到"}}
		}},
		"GET /v1/visits/{id}/candidates": {kind: "page:candidate", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/candidates"}
		}},

		"GET /v1/schedules": {kind: "page:schedule", want: ruleOfficeLists, make: mxFixed("/v1/schedules", nil)},
		"POST /v1/schedules": {kind: "schedule", want: mxExpect{okay, okay, 400, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/schedules", body: m.scheduleInput()}
		}},
		// Reading follows the customer (the team-2 supervisor sees c1); editing follows the team.
		"GET /v1/schedules/{id}": {kind: "schedule", want: mxExpect{okay, okay, okay, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/schedules/" + m.schedule().ID}
		}},
		"PUT /v1/schedules/{id}": {kind: "schedule", want: mxExpect{okay, okay, 403, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			s := m.schedule()
			return mxReq{path: "/v1/schedules/" + s.ID, body: putBody(s.ScheduleInput, s.Version, map[string]any{"notes": "带吸尘器"})}
		}},
		"POST /v1/schedules/{id}/end": {kind: "schedule", want: mxExpect{okay, okay, 403, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			s := m.schedule()
			return mxReq{path: "/v1/schedules/" + s.ID + "/end", body: map[string]any{"version": s.Version, "endsOn": now.In(mxZone).AddDate(0, 0, 7).Format(schemas.DateLayout)}}
		}},
		"POST /v1/schedules/generate": {kind: "reflow", want: ruleAdminOnly, make: mxFixed("/v1/schedules/generate", nil)},

		"POST /v1/sync/push": {kind: "push", want: rulePhones, make: func(m *mx, _ int) mxReq {
			o := mxOp(fsync.KindNote, now.Add(-time.Minute), map[string]any{"text": "到了"})
			o["seq"], o["opId"], o["visitId"] = 1, m.f.newID(), m.upcoming().ID
			return mxReq{path: "/v1/sync/push", body: map[string]any{"deviceId": "phone", "schemaVersion": 1, "appVersion": "1.4.2", "deviceClock": now, "ops": []any{o}}}
		}, check: func(t *testing.T, who int, body []byte) {
			// Pushing is the workers'; each operation is checked against the visit as it is.
			var resp fsync.PushResponse
			_ = json.Unmarshal(body, &resp)
			if got, want := statuses(&resp), map[int]string{aWk1: "applied", aWk2: "rejected:" + fsync.RejectNotYours}[who]; got != want {
				t.Errorf("push as %s: %s, want %s", actorNames[who], got, want)
			}
		}},
		"GET /v1/sync/pull":    {kind: "pull", want: rulePhones, make: mxFixed("/v1/sync/pull", nil)},
		"GET /v1/sync/device":  {kind: "syncDevice", want: rulePhones, make: mxFixed("/v1/sync/device", nil)},
		"GET /v1/sync/devices": {kind: "page:device", want: ruleOfficeLists, make: mxFixed("/v1/sync/devices", nil)},
		"GET /v1/visits/{id}/presence": {kind: "presence", want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/presence"}
		}},
		"POST /v1/attachments": {kind: "attachment", want: ruleAnyone, make: func(m *mx, _ int) mxReq {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			sum := sha256.Sum256(b)
			return mxReq{path: "/v1/attachments", body: map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": 1000, "contentType": "image/jpeg"}}
		}},
		"HEAD /v1/attachments/{sha}/upload":  {skip: "per-uploader rules: attachments_test.go (issue 11 item 1)"},
		"PATCH /v1/attachments/{sha}/upload": {skip: "per-uploader rules: attachments_test.go (issue 11 item 1)"},
		"GET /v1/attachments/{sha}":          {skip: "binary content; who may fetch it: attachments_test.go (issue 11 item 1)"},
		"GET /v1/reviews":                    {kind: "page:visit", want: ruleOfficeLists, make: mxFixed("/v1/reviews", nil)},
		"POST /v1/visits/{id}/review": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			v := m.visit(now.Add(-2 * time.Hour))
			m.push(v.ID, mxOp(fsync.KindCheckIn, now.Add(-110*time.Minute), map[string]any{"location": map[string]any{"lat": 31.30, "lng": 121.46, "accuracyM": 8}}))
			return mxReq{path: "/v1/visits/" + v.ID + "/review", body: map[string]any{"note": "电梯坏了，在楼下签到"}}
		}},

		"POST /v1/devices": {want: ruleAnyone, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/devices", body: map[string]any{"token": fmt.Sprintf("fcm-token-%020d", m.next()), "platform": "android"}}
		}},
		"GET /v1/notifications": {kind: "page:notification", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/notifications?visitId=" + m.upcoming().ID}
		}},
		"GET /v1/push/metrics": {kind: "metrics", want: ruleAdminOnly, make: mxFixed("/v1/push/metrics", nil)},

		"POST /v1/visits/{id}/confirm": {kind: "visit", want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/confirm"}
		}},
		"POST /v1/visits/{id}/requests": {want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.upcoming().ID + "/requests", body: map[string]any{"kind": "cancel", "reason": "家里有事"}}
		}},
		"POST /v1/visits/{id}/signoff": {kind: "signoff", want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.checkedOut().ID + "/signoff", body: map[string]any{"opId": m.f.newID(), "signerName": "林先生",
				"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}}
		}},
		"POST /v1/visits/{id}/scope/{changeId}": {kind: "visit", want: ruleHouseholdOrOffice, make: func(m *mx, _ int) mxReq {
			v := m.started()
			op := mxOp(fsync.KindScope, m.f.clock.Now().Add(-time.Hour), map[string]any{"add": []map[string]any{{"title": "擦窗户"}}, "reason": "客户要求"})
			m.push(v.ID, op)
			return mxReq{path: "/v1/visits/" + v.ID + "/scope/" + op["opId"].(string), body: map[string]any{"decision": "agree", "note": "林先生电话同意"}}
		}},
		"POST /v1/visits/{id}/messages": {kind: "thread", want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.started().ID + "/messages", body: map[string]any{"messageId": m.f.newID(), "text": "门铃坏了，到了请敲门"}}
		}},
		"GET /v1/visits/{id}/messages": {kind: "thread", want: ruleHousehold, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.started().ID + "/messages"}
		}},
		"POST /v1/visits/{id}/rework": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.signedOff(false).ID + "/rework", body: map[string]any{"scheduledStart": now.Add(48 * time.Hour).Truncate(time.Hour), "overrideReason": "the matrix books w1 many times at once"}}
		}},
		"GET /v1/reports/monthly":    {kind: "figures", want: ruleOfficeLists, make: mxFixed("/v1/reports/monthly", nil)},
		"GET /v1/reports/quarterly":  {kind: "review", want: ruleOfficeLists, make: mxFixed("/v1/reports/quarterly", nil)},
		"GET /v1/reports/breakdowns": {kind: "breakdowns", want: ruleOfficeLists, make: mxFixed("/v1/reports/breakdowns", nil)},
		"GET /v1/reports/trends":     {kind: "trends", want: ruleOfficeLists, make: mxFixed("/v1/reports/trends", nil)},
		"GET /v1/followups":          {kind: "page:followup", want: ruleOfficeLists, make: mxFixed("/v1/followups", nil)},
		"POST /v1/followups/{id}/complete": {kind: "followup", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/followups/" + m.followUp().ID + "/complete", body: map[string]any{"outcome": "客户满意"}}
		}},
		"POST /v1/visits/{id}/corrections": {kind: "visit", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/visits/" + m.started().ID + "/corrections", body: map[string]any{"field": "checkIn", "at": now.Add(-2 * time.Hour), "reasonCode": "device_clock"}}
		}},
		"POST /v1/visits/{id}/corrections/{n}/dispute": {kind: "visit", want: mxExpect{403, 403, 403, okay, 404, 403, 403}, make: func(m *mx, _ int) mxReq {
			v := m.started()
			_, err := m.f.office.CorrectTime(m.t.Context(), sysAdmin, v.ID, schemas.NewCorrection{Field: "checkIn", At: now.Add(-2 * time.Hour), ReasonCode: "device_clock"})
			m.must(err)
			return mxReq{path: "/v1/visits/" + v.ID + "/corrections/1/dispute", body: map[string]any{"note": "我是准时到的"}}
		}},
		"GET /v1/alerts": {kind: "page:alert", want: ruleOfficeLists, make: mxFixed("/v1/alerts", nil)},
		"POST /v1/alerts/{id}/acknowledge": {kind: "alert", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/alerts/" + m.alert() + "/acknowledge", body: noteBody}
		}},
		"POST /v1/alerts/{id}/resolve": {kind: "alert", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/alerts/" + m.alert() + "/resolve", body: noteBody} }},

		// Another household naming c1's visit is a bad request, not a complaint about it.
		"POST /v1/complaints": {kind: "complaint", want: mxExpect{403, 403, 403, 403, 403, okay, 400}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/complaints", body: map[string]any{"category": "quality", "text": "没有打扫干净", "visitId": m.upcoming().ID}}
		}},
		// The office files what a customer phoned in; another team's supervisor files only their own team's.
		"POST /v1/customers/{id}/complaints": {kind: "complaint", want: mxExpect{okay, okay, 400, 403, 403, 403, 403}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/customers/" + m.customer().ID + "/complaints", body: map[string]any{"category": "quality", "text": "电话投诉：迟到一小时", "channel": "hotline"}}
		}},
		"GET /v1/complaints": {kind: "page:complaint", want: mxExpect{okay, okay, okay, 403, 403, okay, okay}, make: mxFixed("/v1/complaints", nil)},
		"GET /v1/complaints/{id}": {kind: "complaint", want: mxExpect{okay, okay, 404, 403, 403, okay, 404}, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/complaints/" + m.complaint(schemas.ComplaintReceived).ID}
		}},
		// The office's steps for the office, accepting the remedy for the household.
		"POST /v1/complaints/{id}/actions": {kind: "complaint", want: mxExpect{okay, okay, 404, 403, 403, okay, 404}, make: func(m *mx, who int) mxReq {
			if actorRoles[who] == schemas.RoleCustomer {
				return mxReq{path: "/v1/complaints/" + m.complaint(schemas.ComplaintRemedyProposed).ID + "/actions", body: map[string]any{"action": "accept"}}
			}
			return mxReq{path: "/v1/complaints/" + m.complaint(schemas.ComplaintReceived).ID + "/actions", body: map[string]any{"action": "acknowledge", "note": "已联系客户"}}
		}},

		"GET /v1/incidents":      {kind: "page:incident", want: mxExpect{okay, okay, okay, okay, okay, 403, 403}, make: mxFixed("/v1/incidents", nil)},
		"GET /v1/incidents/{id}": {kind: "incident", want: mxExpect{okay, okay, 404, okay, 404, 403, 403}, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/incidents/" + m.incident().ID} }},
		"POST /v1/incidents/{id}/actions": {kind: "incident", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/incidents/" + m.incident().ID + "/actions", body: map[string]any{"action": "acknowledge"}}
		}},

		"GET /v1/escalations":      {kind: "page:escalation", want: mxExpect{okay, okay, okay, okay, okay, 403, 403}, make: mxFixed("/v1/escalations", nil)},
		"GET /v1/escalations/{id}": {kind: "escalation", want: mxExpect{okay, okay, 404, okay, 404, 403, 403}, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/escalations/" + m.escalation().ID} }},
		"POST /v1/escalations/{id}/actions": {kind: "escalation", want: ruleOwnTeam, make: func(m *mx, _ int) mxReq {
			return mxReq{path: "/v1/escalations/" + m.escalation().ID + "/actions", body: map[string]any{"action": "acknowledge"}}
		}},

		"GET /v1/audit/{entity}/{id}": {kind: "page:audit", want: ruleAdminOnly, make: func(m *mx, _ int) mxReq { return mxReq{path: "/v1/audit/visit/" + m.upcoming().ID} }},
	}
}

// documentedRoutes reads every operation and its success status from
// the OpenAPI document, which a test keeps equal to what Fiber serves.
func documentedRoutes(f *fixture) map[string]int {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	f.do("GET", "/openapi.json", nil, "").want(200).decode(&doc)
	out := map[string]int{}
	for p, ops := range doc.Paths {
		for method, op := range ops {
			for code := range op.Responses {
				// The route's own status; a second success status (200 for
				// an upload announced before) is below it.
				if n, err := strconv.Atoi(code); err == nil && n < 400 && n > out[strings.ToUpper(method)+" "+p] {
					out[strings.ToUpper(method)+" "+p] = n
				}
			}
		}
	}
	return out
}

// TestEveryEndpointEveryRole is the read and write rules as one matrix,
// driven by the route table: every endpoint, every role, own and other
// side, each against a fresh record. Each success answer, of a write as
// much as of a read, is walked against the caller's view (roleViews).
func TestEveryEndpointEveryRole(t *testing.T) {
	m := newMX(t)
	f := m.f
	rows := m.rows()
	routes := documentedRoutes(f)
	for r := range routes {
		if _, ok := rows[r]; !ok {
			t.Errorf("%s has no row in the rules matrix: say who may call it and what it answers", r)
		}
	}
	for r := range rows {
		if _, ok := routes[r]; !ok {
			t.Errorf("the matrix has a row for %s, which is not served", r)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(rows)) {
		r := rows[key]
		if r.skip != "" {
			continue
		}
		method, _, _ := strings.Cut(key, " ")
		for who := range nActors {
			f.t = t
			q := r.make(m, who)
			tok := q.token
			switch tok {
			case "":
				tok = m.tokens[who]
			case "-":
				tok = ""
			}
			res := f.do(method, q.path, q.body, tok)
			want := r.want[who]
			if want == okay {
				want = routes[key]
			}
			if res.status != want {
				t.Errorf("%s as %s = %d, want %d: %s", key, actorNames[who], res.status, want, res.body)
				continue
			}
			if res.status >= 300 {
				continue
			}
			if r.check != nil {
				r.check(t, who, res.body)
			}
			if r.kind == "" {
				continue
			}
			for _, p := range outsideView(t, actorRoles[who], r.kind, res.body) {
				t.Errorf("%s as %s: %s is not in the %s's view of %s", key, actorNames[who], p, actorRoles[who], r.kind)
			}
		}
	}
	f.t = t
}

// Views as allowlists of JSON paths ("field.checkIn.at"; arrays are
// transparent, "x.*" allows anything under x). The office sees whole
// records: every field of the Go type. Workers and customers see the
// paths listed here, which README's "Who sees and edits what" states.

type pathSet map[string]bool

// add allows each space-separated path under prefix, and its parents.
func (a pathSet) add(prefix string, paths string) pathSet {
	for _, p := range strings.Fields(paths) {
		if prefix != "" {
			p = prefix + "." + p
		}
		parts := strings.Split(p, ".")
		for i := range parts {
			a[strings.Join(parts[:i+1], ".")] = true
		}
	}
	return a
}

func (a pathSet) under(prefix string, b pathSet) pathSet {
	a[prefix] = true
	for p := range b {
		a[prefix+"."+p] = true
	}
	return a
}

// wholeOf allows every JSON path of a Go type.
func wholeOf(v any) pathSet {
	a := pathSet{}
	typePaths(reflect.TypeOf(v), "", a, map[reflect.Type]bool{})
	return a
}

var (
	mxTimeType = reflect.TypeOf(time.Time{})
	mxRawType  = reflect.TypeOf(json.RawMessage{})
)

func typePaths(t reflect.Type, prefix string, a pathSet, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	switch {
	case t == mxTimeType:
	case t == mxRawType || t.Kind() == reflect.Map || t.Kind() == reflect.Interface:
		a[join("*")] = true
	case t.Kind() == reflect.Struct:
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := 0; i < t.NumField(); i++ {
			fl := t.Field(i)
			tag := fl.Tag.Get("json")
			if tag == "-" || !fl.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if fl.Anonymous && name == "" {
				typePaths(fl.Type, prefix, a, seen)
				continue
			}
			if name == "" {
				name = fl.Name
			}
			a[join(name)] = true
			typePaths(fl.Type, join(name), a, seen)
		}
	}
}

const (
	signOffPaths   = "at items.itemId items.accepted items.reason signatureRef signerName rating.attitude rating.quality rating.efficiency rating.price comment source opId"
	householdPaths = "elderly infants pets allergies taboos specialNeeds"
	prefsPaths     = "workerGender language minExperienceYears"
	attendPaths    = "at deviceAt location.lat location.lng location.accuracyM method reason opId"
)

var (
	allowWorkerVisit = pathSet{}.
				add("", "id customerId address.addressId address.text address.location.lat address.location.lng address.accessNotes addressHidden").
				add("", "serviceTypeId scheduledStart scheduledEnd timeZone workerId checklist.id checklist.text checklist.done notes status cancelReason reworkOf version updatedAt").
				add("field", "enRouteAt eta progress.itemId progress.done progress.at progress.photos progress.opId incidents notes.at notes.text notes.itemId notes.photos notes.opId customerConfirmed escalations").
				add("field.messages", "id from at text photos").
				add("field.customerAbsent", "at location.lat location.lng location.accuracyM waitedMinutes photos calledCustomer text opId").
				add("field.assignment", "answer workerId at reason text opId").
				add("field.scopeChanges", "changeId add.itemId add.title add.minutes drop reason state how workerId at answeredBy answeredAt note").
				add("field.checkIn", attendPaths).add("field.checkOut", attendPaths).add("field.signOff", signOffPaths).
				add("corrections", "n field at recorded reasonCode note by createdAt dispute.note dispute.at").
				add("customer", "name preferences").add("customer.household", householdPaths).add("customer.preferences", prefsPaths)
	allowCustomerVisit = pathSet{}.
				add("", "id customerId address.addressId address.text address.location.lat address.location.lng address.accessNotes").
				add("", "serviceTypeId scheduledStart scheduledEnd timeZone checklist.id checklist.text checklist.done status reworkId reworkOf version updatedAt").
				add("field", "enRouteAt eta checkIn.at checkOut.at customerConfirmed").add("field.signOff", signOffPaths).
				add("field.scopeChanges", "changeId add.itemId add.title add.minutes drop reason state how at answeredAt").
				add("worker", "id name photoRef gender languages skills certificates.type certificates.issued certificates.expires experienceYears rating")
	allowWorkerSelf = pathSet{}.add("", "id name phone photoRef gender languages skills certificates.type certificates.number certificates.issued certificates.expires").
			add("", "backgroundCheck.status backgroundCheck.date experienceYears team workingHours.days workingHours.start workingHours.end daysOff timeZone home.lat home.lng status rating")
	allowCustomerSelf = pathSet{}.add("", "id name phone addresses.id addresses.label addresses.text addresses.location.lat addresses.location.lng addresses.accessNotes timeZone locale").
				add("household", householdPaths).add("preferences", prefsPaths)
	allowCustomerComplaint = pathSet{}.add("", "id visitId category text state receivedAt ackDueAt ackedAt remedy.kind remedy.detail closedAt history.at history.action history.note")
	allowWorkerIncident    = pathSet{}.add("", "id visitId category severity description photos at reportedAt opId status")
	allowWorkerEscalation  = pathSet{}.add("", "id visitId topic urgency text photos at receivedAt opId status promisedBy resolvedAt")
)

func pullAllow() pathSet {
	a := pathSet{}
	for p := range wholeOf(fsync.PullResponse{}) {
		if !strings.HasPrefix(p, "incidents.") && !strings.HasPrefix(p, "visits.") {
			a[p] = true
		}
	}
	return a.under("visits", allowWorkerVisit).under("incidents", allowWorkerIncident)
}

// roleViews is each role's view of each kind of answer; a kind a role has no
// view of fails the test when that role gets it.
func roleViews(role schemas.Role) map[string]pathSet {
	shared := map[string]pathSet{
		"status": wholeOf(api.Status{}), "tokens": wholeOf(auth.TokenPair{}), "user": wholeOf(schemas.User{}),
		"serviceType": wholeOf(schemas.ServiceType{}), "attachment": wholeOf(fsync.Attachment{}),
	}
	var own map[string]pathSet
	switch role {
	case schemas.RoleAdmin, schemas.RoleSupervisor:
		own = map[string]pathSet{
			"visit": wholeOf(office.VisitView{}), "customer": wholeOf(schemas.Customer{}), "worker": wholeOf(schemas.Worker{}),
			"complaint": wholeOf(schemas.Complaint{}), "incident": wholeOf(schemas.Incident{}), "alert": wholeOf(schemas.Alert{}),
			"escalation": wholeOf(schemas.Escalation{}),
			"followup":   wholeOf(schemas.FollowUp{}), "schedule": wholeOf(office.ScheduleView{}), "candidate": wholeOf(office.Candidate{}),
			"audit": wholeOf(schemas.AuditEntry{}), "device": wholeOf(fsync.Device{}), "notification": wholeOf(push.Notification{}),
			"figures": wholeOf(office.MonthlyFigures{}), "review": wholeOf(office.QuarterlyReview{}), "breakdowns": wholeOf(office.Breakdowns{}),
			"trends": wholeOf(office.Trends{}), "reflow": wholeOf(office.ReflowResult{}), "metrics": wholeOf(map[string]int64{}),
		}
	case schemas.RoleWorker:
		own = map[string]pathSet{"visit": allowWorkerVisit, "worker": allowWorkerSelf, "incident": allowWorkerIncident, "escalation": allowWorkerEscalation, "pull": pullAllow(), "push": wholeOf(fsync.PushResponse{}),
			"syncDevice": wholeOf(fsync.DeviceState{})}
	case schemas.RoleCustomer:
		own = map[string]pathSet{"visit": allowCustomerVisit, "customer": allowCustomerSelf, "complaint": allowCustomerComplaint,
			"signoff": pathSet{}.add("", "status rule message").under("visit", allowCustomerVisit), "presence": wholeOf(api.PresenceSecret{}),
			"thread": wholeOf(schemas.MessageThread{})}
	}
	for k, v := range shared {
		own[k] = v
	}
	return own
}

// outsideView lists the paths of a JSON answer that the role's view of
// kind does not allow, at any depth.
func outsideView(t *testing.T, role schemas.Role, kind string, body []byte) []string {
	t.Helper()
	vs := roleViews(role)
	item, page := strings.CutPrefix(kind, "page:")
	al, found := vs[item]
	if !found {
		return []string{"(the putBody answer: this role has no view of " + item + ")"}
	}
	if page {
		al = pathSet{"nextCursor": true}.under("items", al)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	var out []string
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, prefix)
			}
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if wild(al, p) {
					continue
				}
				if !al[p] {
					out = append(out, p)
					continue
				}
				walk(e, p)
			}
		}
	}
	walk(v, "")
	sort.Strings(out)
	return slices.Compact(out)
}

// wild reports whether an ancestor of p allows anything under it.
func wild(al pathSet, p string) bool {
	for i := len(p); i > 0; i = strings.LastIndex(p[:i], ".") {
		if al[p[:i]+".*"] {
			return true
		}
	}
	return al["*"]
}

// TestCorrectionDisputeAnswersThroughTheWorkersView (issue 11, item 3):
// disputing a correction answers with the visit as the worker may see it
// (8 days out: no address, no door code), and a worker the visit was
// taken from may no longer dispute anything on it.
func TestCorrectionDisputeAnswersThroughTheWorkersView(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	start := f.clock.Now().Add(8 * 24 * time.Hour).Truncate(time.Hour)
	vv, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: start, WorkerID: w.w1.ID})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.office.CorrectTime(ctx, sysAdmin, vv.ID, schemas.NewCorrection{Field: "checkIn", At: start, ReasonCode: "forgot_to_check_in"}); err != nil {
			t.Fatal(err)
		}
	}
	get := f.do("GET", "/v1/visits/"+vv.ID, nil, w.wk1).want(200)
	r := f.do("POST", "/v1/visits/"+vv.ID+"/corrections/1/dispute", map[string]any{"note": "我那天没有这个预约"}, w.wk1).want(200)
	var got office.WorkerVisit
	r.decode(&got)
	if !got.AddressHidden || got.Address.Text != "" || got.Address.AccessNotes != "" || got.Customer == nil {
		t.Errorf("dispute answer shows what GET hides: %s", r.body)
	}
	for _, secret := range []string{w.c1.Addresses[0].Text, "4321", w.c1.Phone, "pastWorkerIds", "review"} {
		if strings.Contains(string(r.body), secret) || strings.Contains(string(get.body), secret) {
			t.Errorf("worker's answers show %q: dispute %s", secret, r.body)
		}
	}
	for _, p := range outsideView(t, schemas.RoleWorker, "visit", r.body) {
		t.Errorf("dispute answer: %s is not in the worker's view", p)
	}

	// The visit goes to another worker: the first one may not dispute the
	// second correction, and sees nothing of the visit.
	f.do("POST", "/v1/visits/"+vv.ID+"/reassign", map[string]any{"workerId": w.w2.ID}, w.admin).want(200)
	f.do("POST", "/v1/visits/"+vv.ID+"/corrections/2/dispute", map[string]any{"note": "不对"}, w.wk1).wantError(404, schemas.ENOTFOUND)
	if v := w.visit(vv.ID); v.Corrections[1].Dispute != nil {
		t.Fatalf("a former assignee's dispute was recorded: %+v", v.Corrections[1])
	}
}

// TestSupervisorsEditOnlyTheirTeamsCustomers (issue 11, item 4): the
// team-2 supervisor sees a team-1 customer their team visits but may not
// change them; a PUT that leaves out a field is refused rather than
// clearing it (the team above all); a supervisor may not move a customer
// out of their team.
func TestSupervisorsEditOnlyTheirTeamsCustomers(t *testing.T) {
	m := newMX(t)
	f := m.f
	sup2, sup1, admin := m.tokens[aSup2], m.tokens[aSup1], m.tokens[aAdmin]
	f.do("GET", "/v1/customers/"+m.c1.ID, nil, sup2).want(200) // seeing: their team visits c1
	put := func(token string, changes map[string]any, drop ...string) *result {
		body := putBody(m.c1.CustomerInput, m.c1.Version, changes)
		for _, k := range drop {
			delete(body, k)
		}
		return f.do("PUT", "/v1/customers/"+m.c1.ID, body, token)
	}
	put(sup2, map[string]any{"phone": "+8613911112222"}).wantError(403, schemas.EFORBIDDEN)
	put(sup1, map[string]any{"team": "team-2"}).wantError(403, schemas.EFORBIDDEN)
	put(sup1, map[string]any{"team": ""}).wantError(403, schemas.EFORBIDDEN)
	e := put(sup1, map[string]any{"phone": "+8613911113333"}, "team").wantError(400, schemas.EINVALID)
	if e.Details["field"] != "team" {
		t.Errorf("missing team: details %v", e.Details)
	}
	put(admin, nil, "household", "locale").wantError(400, schemas.EINVALID)
	c, err := f.db.Office.Customer(t.Context(), m.c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Phone != m.c1.Phone || c.Team != "team-1" || c.Version != 1 || !c.Household.Elderly {
		t.Fatalf("refused PUTs changed the customer: %+v", c)
	}
	// The whole record, as loaded, with a change: the owning team may.
	var loaded map[string]any
	f.do("GET", "/v1/customers/"+m.c1.ID, nil, sup1).want(200).decode(&loaded)
	for _, k := range []string{"id", "createdAt", "updatedAt"} {
		delete(loaded, k)
	}
	loaded["phone"] = "+8613911114444"
	f.do("PUT", "/v1/customers/"+m.c1.ID, loaded, sup1).want(200)
	if c, _ := f.db.Office.Customer(t.Context(), m.c1.ID); c.Phone != "+8613911114444" || c.Team != "team-1" || !c.Household.Elderly {
		t.Fatalf("after the owning supervisor's PUT: %+v", c)
	}
	// Workers the same way: leaving out the team is refused, not a move.
	wb := putBody(m.w1.WorkerInput, m.w1.Version, nil)
	delete(wb, "team")
	f.do("PUT", "/v1/workers/"+m.w1.ID, wb, admin).wantError(400, schemas.EINVALID)
}

// TestViewsHideInternalRecords (issue 11, item 5): on a visit with every
// internal record filled in, the household sees none of the office's
// notes, reviews, corrections, exceptions, nor the worker's device, notes
// or positions; the worker sees their visit, incident and pull without
// the supervisors' review and notes.
func TestViewsHideInternalRecords(t *testing.T) {
	m := newMX(t)
	f := m.f
	ctx := t.Context()
	now := f.clock.Now()
	v := m.visit(now.Add(-3 * time.Hour))
	far := map[string]any{"lat": 31.2987, "lng": 121.4612, "accuracyM": 8}
	m.push(v.ID,
		mxOp(fsync.KindAccept, now.Add(-24*time.Hour), map[string]any{}),
		mxOp(fsync.KindCheckIn, now.Add(-170*time.Minute), map[string]any{"location": far}),
		mxOp(fsync.KindProgress, now.Add(-150*time.Minute), map[string]any{"itemId": "kitchen", "done": true, "text": "INTERNAL-progress-text"}),
		mxOp(fsync.KindNote, now.Add(-140*time.Minute), map[string]any{"text": "INTERNAL-worker-note"}),
		mxOp(fsync.KindIncident, now.Add(-130*time.Minute), map[string]any{"category": "property_damage", "severity": "low", "text": "打碎一个杯子"}),
		mxOp(fsync.KindCheckOut, now.Add(-20*time.Minute), map[string]any{"location": far}),
		mxOp(fsync.KindSignOff, now.Add(-10*time.Minute), map[string]any{"signerName": "林先生", "rating": map[string]any{"attitude": 2, "quality": 2, "efficiency": 2, "price": 2},
			"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}),
	)
	_, err := f.office.CorrectTime(ctx, sysAdmin, v.ID, schemas.NewCorrection{Field: "checkIn", At: now.Add(-3 * time.Hour), ReasonCode: "other", Note: "INTERNAL-correction-note"})
	m.must(err)
	_, err = f.office.ResolveReview(ctx, sysAdmin, v.ID, "INTERNAL-review-note")
	m.must(err)
	cp, err := f.office.FileComplaint(ctx, m.acts[aCu1], schemas.NewComplaint{Category: "quality", Text: "地面没拖", VisitID: v.ID})
	m.must(err)
	for _, act := range []office.ComplaintAction{{Action: "acknowledge", Note: "INTERNAL-ack-note"}, {Action: "investigate", Note: "INTERNAL-investigation-note"},
		{Action: "propose", Note: "INTERNAL-propose-note", Remedy: &schemas.Remedy{Kind: "voucher", Detail: "下次服务九折"}}} {
		_, err = f.office.ActOnComplaint(ctx, sysAdmin, cp.ID, act)
		m.must(err)
	}
	inc := m.world.visit(v.ID).Field.Incidents[0]
	_, err = f.office.ActOnIncident(ctx, sysAdmin, inc, office.IncidentAction{Action: "note", Note: "INTERNAL-incident-note"})
	m.must(err)
	raw := m.world.visit(v.ID)
	if len(raw.Field.Exceptions) == 0 || raw.Field.CheckIn.DeviceID == "" {
		t.Fatalf("the visit lacks the internal records the test needs: %+v", raw.Field)
	}
	device := raw.Field.CheckIn.DeviceID

	check := func(who int, kind string, res *result, secrets ...string) {
		t.Helper()
		res.want(200)
		for _, s := range secrets {
			if strings.Contains(string(res.body), s) {
				t.Errorf("%s sees %q in %s", actorNames[who], s, res.body)
			}
		}
		for _, p := range outsideView(t, actorRoles[who], kind, res.body) {
			t.Errorf("%s: %s is not in the %s's view of %s", actorNames[who], p, actorRoles[who], kind)
		}
	}
	// The household: nothing internal anywhere, and not the GPS fix.
	hidden := []string{"INTERNAL", device, "31.2987", m.w1.Phone, "pastWorkerIds", "exceptions", "conflicts", "review"}
	cu := m.tokens[aCu1]
	check(aCu1, "visit", f.do("GET", "/v1/visits/"+v.ID, nil, cu), hidden...)
	check(aCu1, "page:visit", f.do("GET", "/v1/visits", nil, cu), hidden...)
	check(aCu1, "complaint", f.do("GET", "/v1/complaints/"+cp.ID, nil, cu), hidden...)
	check(aCu1, "page:complaint", f.do("GET", "/v1/complaints", nil, cu), hidden...)
	check(aCu1, "complaint", f.do("POST", "/v1/complaints/"+cp.ID+"/actions", map[string]any{"action": "reject", "note": "希望换人"}, cu), hidden...)
	var cv office.CustomerVisit
	f.do("GET", "/v1/visits/"+v.ID, nil, cu).decode(&cv)
	if cv.Field.CheckIn == nil || !cv.Field.CheckIn.At.Equal(now.Add(-3*time.Hour)) || cv.Field.SignOff == nil || cv.Worker == nil {
		t.Errorf("the ruleHousehold's view lacks what it may see (corrected arrival, sign-off, worker): %+v", cv)
	}

	// The worker: their facts and the correction (to dispute it), not the
	// supervisors' review, the exceptions, or the incident's handling.
	wk := m.tokens[aWk1]
	wr := f.do("GET", "/v1/visits/"+v.ID, nil, wk)
	check(aWk1, "visit", wr, "INTERNAL-review-note", device, "exceptions", "conflicts", "pastWorkerIds")
	if !strings.Contains(string(wr.body), "INTERNAL-correction-note") || !strings.Contains(string(wr.body), "INTERNAL-worker-note") {
		t.Errorf("the worker's view lacks the correction or their own note: %s", wr.body)
	}
	check(aWk1, "incident", f.do("GET", "/v1/incidents/"+inc, nil, wk), "INTERNAL-incident-note", "events")
	check(aWk1, "page:incident", f.do("GET", "/v1/incidents", nil, wk), "INTERNAL-incident-note", "events")

	// The pull shows the worker's view of the visits in the window
	// (yesterday to 14 days ahead) and of their incidents.
	pull := f.do("GET", "/v1/sync/pull", nil, wk)
	check(aWk1, "pull", pull, "INTERNAL-review-note", "INTERNAL-incident-note", device, "exceptions", "pastWorkerIds")
	var pv struct {
		Visits    []map[string]any `json:"visits"`
		Incidents []map[string]any `json:"incidents"`
	}
	pull.decode(&pv)
	if len(pv.Visits) == 0 || len(pv.Incidents) == 0 {
		t.Fatalf("the pull has no visits or incidents to check: %s", pull.body)
	}

	// The office sees it all.
	off := f.do("GET", "/v1/visits/"+v.ID, nil, m.tokens[aSup1]).want(200)
	for _, s := range []string{"INTERNAL-review-note", "INTERNAL-correction-note", device, "exceptions"} {
		if !strings.Contains(string(off.body), s) {
			t.Errorf("the supervisor's view lacks %q", s)
		}
	}
}
