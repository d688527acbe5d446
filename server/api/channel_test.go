package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
)

// TestNotificationChannel: the household sets its own channel for the
// notices that may go by SMS, the office sets it for a household that
// phoned in (supervisors: their team's customers); the dispatcher's store
// holds it for the account the notices go to, each change is audited
// once, and bad input, others' ids and wrong roles change nothing.
func TestNotificationChannel(t *testing.T) {
	w := newWorld(t)
	f := w.f
	path := "/v1/customers/" + w.c1.ID + "/notification-channel"
	u, err := f.db.Accounts.UserOfCustomer(t.Context(), w.c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	channel := func() string {
		t.Helper()
		var out office.NotificationChannel
		f.do("GET", path, nil, w.cu1).want(200).decode(&out)
		stored, err := f.db.SMS.Channel(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored != "" && stored != out.Channel {
			t.Fatalf("answered %q, stored %q", out.Channel, stored)
		}
		return out.Channel
	}
	if got := channel(); got != "fcm" {
		t.Fatalf("default channel %q, want fcm", got)
	}
	f.do("PUT", path, map[string]any{"channel": "sms"}, w.cu1).want(200)
	if got := channel(); got != "sms" {
		t.Fatalf("after the household's choice: %q", got)
	}
	f.do("PUT", path, map[string]any{"channel": "both"}, w.s1).want(200)
	f.do("PUT", path, map[string]any{"channel": "both"}, w.admin).want(200) // no change: not audited again
	if got := channel(); got != "both" {
		t.Fatalf("after the office's: %q", got)
	}

	for name, c := range map[string]struct {
		token, path string
		body        any
		status      int
		code        string
	}{
		"not a channel":          {w.cu1, path, map[string]any{"channel": "app_then_sms"}, 400, schemas.EINVALID},
		"wrong type":             {w.cu1, path, map[string]any{"channel": 5}, 400, schemas.EINVALID},
		"missing":                {w.cu1, path, map[string]any{}, 400, schemas.EINVALID},
		"$ key":                  {w.cu1, path, map[string]any{"$set": map[string]any{"channel": "sms"}}, 400, schemas.EINVALID},
		"not an object":          {w.cu1, path, `["sms"]`, 400, schemas.EINVALID},
		"another customer":       {w.cu1, "/v1/customers/" + w.c2.ID + "/notification-channel", map[string]any{"channel": "sms"}, 404, schemas.ENOTFOUND},
		"another team's":         {w.s1, "/v1/customers/" + w.c2.ID + "/notification-channel", map[string]any{"channel": "sms"}, 404, schemas.ENOTFOUND},
		"a worker":               {w.wk1, path, map[string]any{"channel": "sms"}, 403, schemas.EFORBIDDEN},
		"no such customer":       {w.admin, "/v1/customers/" + f.newID() + "/notification-channel", map[string]any{"channel": "sms"}, 404, schemas.ENOTFOUND},
		"not an id":              {w.admin, "/v1/customers/x/notification-channel", map[string]any{"channel": "sms"}, 404, schemas.ENOTFOUND},
		"a customer, no account": {w.admin, "/v1/customers/" + w.c2.ID + "/notification-channel", map[string]any{"channel": "sms"}, 409, schemas.ECONFLICT},
	} {
		t.Log(name) // shown with the failure: the fixture fails the whole test
		f.do("PUT", c.path, c.body, c.token).wantError(c.status, c.code)
	}
	if got := channel(); got != "both" {
		t.Fatalf("after the bad requests: %q", got)
	}

	var trail schemas.Page[schemas.AuditEntry]
	f.do("GET", "/v1/audit/"+office.EntityNotificationChannel+"/"+u.ID, nil, w.admin).want(200).decode(&trail)
	if len(trail.Items) != 2 || trail.Items[0].Role != schemas.RoleCustomer || trail.Items[1].Role != schemas.RoleSupervisor {
		t.Fatalf("audit trail: %+v, want the household's change then the supervisor's", trail.Items)
	}
	if ch := trail.Items[1].Changes; len(ch) != 1 || ch[0].Field != "channel" || ch[0].From != "sms" || ch[0].To != "both" {
		t.Fatalf("the supervisor's change: %+v", ch)
	}
}

// TestNotificationChannelTeamlessSupervisor: a supervisor without a team
// has no team's customers: a household without a team, whose visits are
// without one too, is not theirs to read or set.
func TestNotificationChannelTeamlessSupervisor(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	c3, err := f.office.CreateCustomer(ctx, sysAdmin, customerInput("周女士", "", "+8613900000003", "上海市长宁区示范路3号303室"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: c3.ID, AddressID: c3.Addresses[0].ID, ServiceTypeID: w.st.ID,
		ScheduledStart: f.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []schemas.NewUser{{Login: "cu.three", Role: schemas.RoleCustomer, CustomerID: c3.ID}, {Login: "sup.none", Role: schemas.RoleSupervisor}} {
		u.Password, u.Name = testPassword, u.Login
		if _, err := f.auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	sup := f.login("sup.none", "office").AccessToken
	// Nor the customer itself, or the list: "" is no team.
	f.do("GET", "/v1/customers/"+c3.ID, nil, sup).wantError(404, schemas.ENOTFOUND)
	var list schemas.Page[schemas.Customer]
	f.do("GET", "/v1/customers", nil, sup).want(200).decode(&list)
	if len(list.Items) != 0 {
		t.Fatalf("a teamless supervisor lists %d customers", len(list.Items))
	}
	path := "/v1/customers/" + c3.ID + "/notification-channel"
	f.do("GET", path, nil, sup).wantError(404, schemas.ENOTFOUND)
	f.do("PUT", path, map[string]any{"channel": "sms"}, sup).wantError(404, schemas.ENOTFOUND)
	var out office.NotificationChannel
	f.do("GET", path, nil, w.admin).want(200).decode(&out)
	if out.Channel != "fcm" {
		t.Fatalf("after the teamless supervisor's PUT: %q", out.Channel)
	}
}
