package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestTeamlessSupervisorSeesNothing: a supervisor account of no team ("" is
// no team, not a team of its own) reaches no team's records, and not the
// records of no team either: every list is empty or refused, and a record
// of no team is not found.
func TestTeamlessSupervisorSeesNothing(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	c3, err := f.office.CreateCustomer(ctx, sysAdmin, customerInput("周女士", "", "+8613900000003", "上海市长宁区示范路3号303室"))
	if err != nil {
		t.Fatal(err)
	}
	v3, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: c3.ID, AddressID: c3.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: f.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.CreateUser(ctx, schemas.NewUser{Login: "sup.none", Role: schemas.RoleSupervisor, Password: testPassword, Name: "sup.none"}); err != nil {
		t.Fatal(err)
	}
	sup := f.login("sup.none", "office").AccessToken
	for _, path := range []string{"/v1/visits", "/v1/customers", "/v1/workers", "/v1/schedules", "/v1/alerts", "/v1/complaints",
		"/v1/incidents", "/v1/reviews", "/v1/followups", "/v1/escalations", "/v1/notifications?visitId=" + v3.ID} {
		r := f.do("GET", path, nil, sup)
		if r.status == 403 || r.status == 404 {
			continue
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		r.want(200).decode(&page)
		if len(page.Items) != 0 {
			t.Errorf("GET %s: a teamless supervisor sees %d records, first %v", path, len(page.Items), page.Items[0]["id"])
		}
	}
	for _, path := range []string{"/v1/visits/" + v3.ID, "/v1/customers/" + c3.ID, "/v1/visits/" + v3.ID + "/candidates"} {
		if r := f.do("GET", path, nil, sup); r.status != 404 && r.status != 403 {
			t.Errorf("GET %s: %d, want 404 or 403", path, r.status)
		}
	}
}

// TestTeamlessSupervisorAddsNoCustomer: a supervisor of no team adds no
// customer of no team (both teams empty compared equal): it could not see
// the customer it made, and no team would own it.
func TestTeamlessSupervisorAddsNoCustomer(t *testing.T) {
	w := newWorld(t)
	f := w.f
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.none", Role: schemas.RoleSupervisor, Password: testPassword, Name: "sup.none"}); err != nil {
		t.Fatal(err)
	}
	sup := f.login("sup.none", "office").AccessToken
	f.do("POST", "/v1/customers", customerInput("吴先生", "", "+8613900000311", "上海市长宁区示范路5号"), sup).wantError(403, schemas.EFORBIDDEN)
}
