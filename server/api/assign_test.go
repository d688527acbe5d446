package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store"
	"fieldsync/store/storetest"
)

// unsafeBody is the 409 of a refused assignment.
type unsafeBody struct {
	Error struct {
		Code    string `json:"code"`
		Details struct {
			Reason     string              `json:"reason"`
			Violations []schemas.Violation `json:"violations"`
		} `json:"details"`
	} `json:"error"`
}

func violationCodes(t *testing.T, body []byte) []string {
	t.Helper()
	var b unsafeBody
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Error.Code != schemas.ECONFLICT || b.Error.Details.Reason != "assignment_unsafe" {
		t.Fatalf("not an unsafe-assignment refusal: %s", body)
	}
	var codes []string
	for _, v := range b.Error.Details.Violations {
		codes = append(codes, v.Code)
	}
	return codes
}

// TestAssignmentHardConstraints reassigns an open visit to a team-1 worker
// who breaks one hard constraint each time: the office is refused with a
// 409 naming it, the visit keeps no worker, and the candidates list shows
// the worker as not eligible for the same reason.
func TestAssignmentHardConstraints(t *testing.T) {
	// Tomorrow 17:00-20:00 in Shanghai, a Wednesday (2037-11-25).
	cases := []struct {
		name     string
		worker   func(*schemas.WorkerInput)
		customer func(*schemas.CustomerInput, *schemas.Worker)
		busy     bool // the worker has a visit ending 15 minutes before
		want     string
	}{
		{name: "certificate expired the day before", worker: func(w *schemas.WorkerInput) { w.Certificates[0].Expires = "2037-11-24" }, want: schemas.ConstraintCertificates},
		{name: "background check failed", worker: func(w *schemas.WorkerInput) { w.BackgroundCheck.Status = schemas.CheckFailed }, want: schemas.ConstraintBackground},
		{name: "date off", worker: func(w *schemas.WorkerInput) { w.DaysOff = []string{"2037-11-25"} }, want: schemas.ConstraintDayOff},
		{name: "weekly day off", worker: func(w *schemas.WorkerInput) { w.WorkingHours.Days = []int{0, 1, 2, 4, 5, 6} }, want: schemas.ConstraintDayOff},
		{name: "booked within the travel buffer", busy: true, want: schemas.ConstraintFree},
		{name: "do not send again", customer: func(c *schemas.CustomerInput, w *schemas.Worker) { c.DoNotSend = []string{w.ID} }, want: schemas.ConstraintDoNotSend},
		{name: "required gender", customer: func(c *schemas.CustomerInput, _ *schemas.Worker) {
			c.Preferences = schemas.Preferences{WorkerGender: schemas.GenderMale, WorkerGenderRequired: true}
		}, want: schemas.ConstraintRequiredGender},
	}
	w := newWorld(t) // one world: each case has a worker and a household of its own
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			in := workerInput("王芳", "team-1", fmt.Sprintf("+86138000001%02d", i))
			if tc.worker != nil {
				tc.worker(&in)
			}
			w3, err := w.f.office.CreateWorker(ctx, sysAdmin, in)
			if err != nil {
				t.Fatal(err)
			}
			cin := customerInput("陈女士", "team-1", fmt.Sprintf("+86139000001%02d", i), "上海市徐汇区示范路3号")
			if tc.customer != nil {
				tc.customer(&cin, w3)
			}
			c3, err := w.f.office.CreateCustomer(ctx, sysAdmin, cin)
			if err != nil {
				t.Fatal(err)
			}
			start := w.f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
			if tc.busy {
				if _, err := w.f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID,
					ServiceTypeID: w.st.ID, ScheduledStart: start.Add(-3*time.Hour - 15*time.Minute), WorkerID: w3.ID}); err != nil {
					t.Fatal(err)
				}
			}
			v, err := w.f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: c3.ID, AddressID: c3.Addresses[0].ID, ServiceTypeID: w.st.ID, ScheduledStart: start})
			if err != nil {
				t.Fatal(err)
			}

			res := w.f.do("POST", "/v1/visits/"+v.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(409)
			if got := violationCodes(t, res.body); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("violations %v, want [%s]", got, tc.want)
			}
			if after, _ := w.f.db.Visits.Get(ctx, v.ID); after.WorkerID != "" || after.Version != v.Version {
				t.Fatalf("a refused assignment changed the visit: worker %q version %d", after.WorkerID, after.Version)
			}
			// Planning a visit with the worker is refused alike.
			res = w.f.do("POST", "/v1/visits", map[string]any{"customerId": c3.ID, "addressId": c3.Addresses[0].ID, "serviceTypeId": w.st.ID,
				"scheduledStart": start, "workerId": w3.ID}, w.s1).want(409)
			if got := violationCodes(t, res.body); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("create: violations %v, want [%s]", got, tc.want)
			}

			var page schemas.Page[office.Candidate]
			w.f.do("GET", "/v1/visits/"+v.ID+"/candidates", nil, w.s1).want(200).decode(&page)
			found := false
			for _, c := range page.Items {
				if c.Worker.ID != w3.ID {
					continue
				}
				found = true
				if c.Eligible {
					t.Fatalf("candidate %s eligible despite %s: %+v", w3.ID, tc.want, c.Reasons)
				}
				for _, r := range c.Reasons {
					if r.Code == tc.want && (r.OK || r.Detail == "") {
						t.Fatalf("reason %s: %+v", tc.want, r)
					}
				}
			}
			if !found {
				t.Fatal("the worker is not among the candidates at all")
			}

			// Without the broken constraint, the same worker is booked.
			ok, err := w.f.office.CreateWorker(ctx, sysAdmin, workerInput("李娟", "team-1", fmt.Sprintf("+86138000002%02d", i)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == schemas.ConstraintRequiredGender {
				return
			}
			w.f.do("POST", "/v1/visits/"+v.ID+"/reassign", map[string]any{"workerId": ok.ID}, w.s1).want(200)
		})
	}
}

// TestAssignmentOverride: a supervisor books a worker despite a broken
// constraint only with a reason, which the audit trail keeps; a blank
// reason, a number or a worker's token is refused.
func TestAssignmentOverride(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	in := workerInput("王芳", "team-1", "+8613800000003")
	in.BackgroundCheck.Status = schemas.CheckFailed
	w3, err := w.f.office.CreateWorker(ctx, sysAdmin, in)
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/visits/" + w.v1.ID + "/reassign"
	w.f.do("POST", path, map[string]any{"workerId": w3.ID}, w.s1).want(409)
	w.f.do("POST", path, map[string]any{"workerId": w3.ID, "overrideReason": "   "}, w.s1).want(409) // a blank reason is none
	w.f.do("POST", path, map[string]any{"workerId": w3.ID, "overrideReason": 7}, w.s1).wantError(400, schemas.EINVALID)
	w.f.do("POST", path, map[string]any{"workerId": w3.ID, "overrideReason": "x", "$set": 1}, w.s1).wantError(400, schemas.EINVALID)
	w.f.do("POST", path, map[string]any{"workerId": w3.ID, "overrideReason": "the household asked for her"}, w.wk1).wantError(403, schemas.EFORBIDDEN)
	w.f.do("POST", path, map[string]any{"workerId": w.w2.ID, "overrideReason": "another team's worker"}, w.s1).wantError(400, schemas.EINVALID)

	var vv office.VisitView
	w.f.do("POST", path, map[string]any{"workerId": w3.ID, "overrideReason": "re-check booked for Monday; the household asked for her"}, w.s1).want(200).decode(&vv)
	if vv.WorkerID != w3.ID {
		t.Fatalf("worker %q after the override", vv.WorkerID)
	}
	trail, err := w.f.db.Audit.Trail(ctx, schemas.EntityVisit, w.v1.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if last.Action != "reassign" || last.Role != schemas.RoleSupervisor || last.Note != "override background_check: re-check booked for Monday; the household asked for her" {
		t.Fatalf("audit entry of the override: %+v", last)
	}

	// The server's own runs never override.
	if _, err := w.f.office.CreateVisit(ctx, office.System, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: w.f.clock.Now().Add(72 * time.Hour).Truncate(time.Hour), WorkerID: w3.ID, OverrideReason: "system"}); schemas.ErrorCode(err) != schemas.EFORBIDDEN {
		t.Fatalf("system override: %v", err)
	}
}

// TestDoNotSendInput: the list takes ids of workers the office can see,
// and it is sealed at rest.
func TestDoNotSendInput(t *testing.T) {
	w := newWorld(t)
	in := customerInput("陈女士", "team-1", "+8613900000003", "上海市徐汇区示范路3号")
	body := func(list any) map[string]any {
		raw, _ := json.Marshal(in)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		m["doNotSend"] = list
		return m
	}
	w.f.do("POST", "/v1/customers", body([]string{w.w2.ID}), w.s1).wantError(400, schemas.EINVALID) // another team's worker
	w.f.do("POST", "/v1/customers", body([]string{"nope"}), w.s1).wantError(400, schemas.EINVALID)
	w.f.do("POST", "/v1/customers", body("x"), w.s1).wantError(400, schemas.EINVALID)
	w.f.do("POST", "/v1/customers", body([]string{w.w1.ID, w.w1.ID}), w.s1).wantError(400, schemas.EINVALID)
	var c schemas.Customer
	w.f.do("POST", "/v1/customers", body([]string{w.w1.ID}), w.s1).want(201).decode(&c)
	if len(c.DoNotSend) != 1 || c.DoNotSend[0] != w.w1.ID {
		t.Fatalf("doNotSend %v", c.DoNotSend)
	}
	seen := false
	err := w.f.db.Each(t.Context(), func(coll string, d bson.Raw) error {
		if coll == "customers" && strings.Contains(string(d), c.ID) {
			seen = true
			if strings.Contains(string(d), w.w1.ID) {
				t.Errorf("the do-not-send list is stored in clear: %s", d)
			}
		}
		return nil
	})
	if err != nil || !seen {
		t.Fatalf("customer not found at rest: %v", err)
	}
}

// TestConcurrentAssignments: two offices, on two store instances, give
// one worker two overlapping visits at the same moment, many times over;
// exactly one of each pair lands, the other is refused as not free.
func TestConcurrentAssignments(t *testing.T) {
	storetest.NeedsIsolation(t)
	w := newWorld(t)
	ctx := t.Context()
	other := office.New(storetest.Another(t, w.f.db), w.f.clock.Now, slog.New(slog.DiscardHandler), 28*24*time.Hour)
	offices := []*office.Service{w.f.office, other}
	s1 := &schemas.Actor{UserID: "sup", Role: schemas.RoleSupervisor, Team: "team-1"}
	w3, err := w.f.office.CreateWorker(ctx, sysAdmin, workerInput("王芳", "team-1", "+8613800000003"))
	if err != nil {
		t.Fatal(err)
	}
	base := w.f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
	for round := range 8 {
		start := base.Add(time.Duration(round) * 24 * time.Hour)
		var ids [2]string
		for i := range ids {
			v, err := w.f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
				ScheduledStart: start.Add(time.Duration(i) * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = v.ID
		}
		var errs [2]error
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i := range ids {
			wg.Go(func() {
				<-ready
				_, errs[i] = offices[i].ActOnVisit(ctx, s1, ids[i], office.VisitAction{Kind: office.ActReassign, WorkerID: w3.ID})
			})
		}
		close(ready)
		wg.Wait()
		booked := 0
		for i, err := range errs {
			switch {
			case err == nil:
				booked++
			case schemas.ErrorCode(err) == schemas.ECONFLICT && strings.Contains(err.Error(), "free"):
			default:
				t.Fatalf("round %d, office %d: %v", round, i, err)
			}
		}
		if booked != 1 {
			t.Fatalf("round %d: %d of two overlapping assignments landed (%v)", round, booked, errs)
		}
		held := 0
		for _, id := range ids {
			if v, _ := w.f.db.Visits.Get(ctx, id); v.WorkerID == w3.ID {
				held++
			}
		}
		if held != 1 {
			t.Fatalf("round %d: the worker holds %d of the two visits", round, held)
		}
	}
}

// TestScheduleSkipsUnsafeOccurrences: a schedule whose worker's
// certificate expires within the horizon is generated with the worker up
// to the expiry and without after it, and the response lists those
// occurrences with the reason.
func TestScheduleSkipsUnsafeOccurrences(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	in := workerInput("王芳", "team-1", "+8613800000003")
	in.Certificates[0].Expires = "2037-12-05"
	w3, err := w.f.office.CreateWorker(ctx, sysAdmin, in)
	if err != nil {
		t.Fatal(err)
	}
	var sv office.ScheduleView
	w.f.do("POST", "/v1/schedules", schemas.ScheduleInput{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID, WorkerID: w3.ID,
		Weekdays: []int{1, 4}, StartTime: "09:00", EndTime: "11:00", StartsOn: "2037-11-25"}, w.s1).want(201).decode(&sv)
	if len(sv.Unbooked) == 0 {
		t.Fatal("no occurrence reported unbooked")
	}
	for _, u := range sv.Unbooked {
		if u.WorkerID != w3.ID || len(u.Violations) != 1 || u.Violations[0].Code != schemas.ConstraintCertificates || u.Start.Before(time.Date(2037, 12, 5, 16, 0, 0, 0, time.UTC)) {
			t.Fatalf("unbooked %+v", u)
		}
	}
	vs, err := w.f.db.Visits.List(ctx, store.VisitFilter{ScheduleID: sv.ID})
	if err != nil {
		t.Fatal(err)
	}
	assigned, open := 0, 0
	for _, v := range vs {
		switch {
		case v.WorkerID == w3.ID && v.LocalDate() <= "2037-12-05":
			assigned++
		case v.WorkerID == "" && v.LocalDate() > "2037-12-05":
			open++
		default:
			t.Fatalf("visit on %s has worker %q", v.LocalDate(), v.WorkerID)
		}
	}
	if assigned == 0 || open != len(sv.Unbooked) {
		t.Fatalf("%d assigned, %d open, %d unbooked", assigned, open, len(sv.Unbooked))
	}
	// A second run books nothing new and reports the same occurrences.
	r, err := w.f.office.GenerateAll(context.WithoutCancel(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 0 || len(r.Unbooked) != len(sv.Unbooked) {
		t.Fatalf("second run: %+v", r)
	}
}

// TestBookingsFollowTheVisits: rescheduling an assigned visit onto the
// worker's day off is refused like an assignment; a cancelled visit frees
// its time; a claim whose visit never came (a writer that died between
// its two writes) holds for a minute, then is stale.
func TestBookingsFollowTheVisits(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	in := workerInput("王芳", "team-1", "+8613800000003")
	in.DaysOff = []string{"2037-11-27"}
	w3, err := w.f.office.CreateWorker(ctx, sysAdmin, in)
	if err != nil {
		t.Fatal(err)
	}
	start := w.f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour) // 2037-11-25 17:00 in Shanghai
	plan := func(at time.Time, worker string) *office.VisitView {
		t.Helper()
		v, err := w.f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
			ScheduledStart: at, WorkerID: worker})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := plan(start, w3.ID)
	res := w.f.do("POST", "/v1/visits/"+a.ID+"/reschedule", map[string]any{"scheduledStart": start.Add(48 * time.Hour), "scheduledEnd": start.Add(50 * time.Hour)}, w.s1).want(409)
	if got := violationCodes(t, res.body); len(got) != 1 || got[0] != schemas.ConstraintDayOff {
		t.Fatalf("reschedule onto a day off: %v", got)
	}
	w.f.do("POST", "/v1/visits/"+a.ID+"/reschedule", map[string]any{"scheduledStart": start.Add(24 * time.Hour), "scheduledEnd": start.Add(27 * time.Hour)}, w.s1).want(200)

	// Cancelled, its time is free again.
	b := plan(start.Add(24*time.Hour+time.Hour), "")
	w.f.do("POST", "/v1/visits/"+b.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(409)
	w.f.do("POST", "/v1/visits/"+a.ID+"/cancel", map[string]any{"reason": "the household is away"}, w.s1).want(200)
	w.f.do("POST", "/v1/visits/"+b.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(200)

	// A claim for a visit that was never written.
	c := plan(start.Add(5*time.Hour), "")
	ghost := w.f.newID()
	if err := w.f.db.Bookings.Update(ctx, w3.ID, func(wb *schemas.WorkerBookings) error {
		wb.Bookings = append(wb.Bookings, schemas.Booking{VisitID: ghost, Start: c.ScheduledStart, End: c.ScheduledEnd, Version: 1, At: w.f.clock.Now().UTC()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res = w.f.do("POST", "/v1/visits/"+c.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(409)
	if got := violationCodes(t, res.body); len(got) != 1 || got[0] != schemas.ConstraintFree {
		t.Fatalf("a fresh claim: %v", got)
	}
	w.f.clock.Add(2 * time.Minute)
	w.f.do("POST", "/v1/visits/"+c.ID+"/reassign", map[string]any{"workerId": w3.ID}, w.s1).want(200)
	wb, err := w.f.db.Bookings.Get(ctx, w3.ID)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, bk := range wb.Bookings {
		held = append(held, bk.VisitID)
	}
	if strings.Join(held, ",") != b.ID+","+c.ID {
		t.Fatalf("bookings %v, want %s,%s (the cancelled and the ghost gone)", held, b.ID, c.ID)
	}
}
