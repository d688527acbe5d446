package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

func TestIncidentHandlingAndEscalation(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	at := f.clock.Now().Add(-time.Minute)
	p.mustPush(p.ops(
		opSpec{fsync.KindIncident, w.v1.ID, at, map[string]any{"category": "injury", "severity": "high", "text": "切菜时割伤手指"}},
		opSpec{fsync.KindIncident, w.v1.ID, at, map[string]any{"category": "other", "severity": "low", "text": "客户家门铃坏了"}},
	))
	var list struct {
		Items []schemas.Incident `json:"items"`
	}
	f.do("GET", "/v1/incidents", nil, w.s1).want(200).decode(&list)
	if len(list.Items) != 2 {
		t.Fatalf("supervisor sees %d incidents", len(list.Items))
	}
	var critical, minor schemas.Incident
	for _, i := range list.Items {
		if i.Category == "injury" {
			critical = i
		} else {
			minor = i
		}
	}
	f.do("GET", "/v1/incidents", nil, p.token).want(200).decode(&list)
	if len(list.Items) != 2 {
		t.Fatalf("the worker sees %d of their incidents", len(list.Items))
	}
	f.do("POST", "/v1/incidents/"+critical.ID+"/actions", map[string]any{"action": "acknowledge"}, p.token).wantError(403, schemas.EFORBIDDEN)

	// Sixteen minutes without acknowledgement: the critical one escalates to admins, once.
	f.clock.Add(16 * time.Minute)
	if n, err := f.office.EscalateIncidents(t.Context()); err != nil || n != 1 {
		t.Fatalf("escalated %d, %v", n, err)
	}
	if n, _ := f.office.EscalateIncidents(t.Context()); n != 0 {
		t.Fatal("escalated twice")
	}
	admin := f.login("admin.o", "office").AccessToken
	sup := f.login("sup.one", "office").AccessToken
	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, admin).want(200).decode(&feed)
	found := false
	for _, a := range feed.Items {
		found = found || (a.Kind == "incident_escalated" && a.Team == "" && a.Priority == "high")
	}
	if !found {
		t.Fatalf("no escalation in the admins' feed: %+v", feed.Items)
	}

	do := func(id, action string, extra map[string]any, status int) {
		body := map[string]any{"action": action}
		for k, v := range extra {
			body[k] = v
		}
		f.do("POST", "/v1/incidents/"+id+"/actions", body, sup).want(status)
	}
	do(critical.ID, "acknowledge", nil, 200)
	do(critical.ID, "acknowledge", nil, 409)
	do(critical.ID, "investigate", map[string]any{"note": "已送医，伤口轻微"}, 200)
	do(critical.ID, "note", map[string]any{"note": "客户表示理解"}, 200)
	do(critical.ID, "resolve", nil, 400) // an outcome is required
	do(critical.ID, "resolve", map[string]any{"outcome": "工伤登记，休息两天"}, 200)
	do(critical.ID, "note", map[string]any{"note": "x"}, 409)
	var got schemas.Incident
	f.do("GET", "/v1/incidents/"+critical.ID, nil, sup).want(200).decode(&got)
	if got.Status != schemas.IncidentResolved || len(got.Events) != 4 || got.Description != "切菜时割伤手指" || !got.Escalated {
		t.Fatalf("incident %+v", got)
	}
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/incident/"+critical.ID, nil, admin).want(200).decode(&trail)
	if len(trail.Items) != 4 {
		t.Fatalf("%d audit entries", len(trail.Items))
	}
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.two", Password: testPassword, Name: "s2", Role: schemas.RoleSupervisor, Team: "team-2"}); err != nil {
		t.Fatal(err)
	}
	f.do("GET", "/v1/incidents/"+minor.ID, nil, f.login("sup.two", "office").AccessToken).wantError(404, schemas.ENOTFOUND)
}
