package api_test

import (
	"testing"
	"time"

	"fieldsync/schemas"
)

func TestComplaintLifecycleAndSLA(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	// Tuesday 2037-11-24 17:00 Shanghai: a quality complaint is due by
	// Wednesday 17:00 (nine working hours); a safety one in 30 minutes.
	var q, safety schemas.Complaint
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "厨房没有打扫干净", "visitId": w.v1.ID}, w.cu1).want(201).decode(&q)
	f.do("POST", "/v1/complaints", map[string]any{"category": "safety", "text": "服务师使用了危险的清洁剂"}, w.cu1).want(201).decode(&safety)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	if !q.AckDueAt.Equal(time.Date(2037, 11, 25, 17, 0, 0, 0, sh)) {
		t.Fatalf("quality complaint SLA %s", q.AckDueAt.In(sh))
	}
	if !safety.AckDueAt.Equal(f.clock.Now().Add(30 * time.Minute)) {
		t.Fatalf("safety complaint SLA %s", safety.AckDueAt)
	}
	// The office's view has what the customer's leaves out.
	var qo, so schemas.Complaint
	f.do("GET", "/v1/complaints/"+q.ID, nil, w.s1).want(200).decode(&qo)
	f.do("GET", "/v1/complaints/"+safety.ID, nil, w.s1).want(200).decode(&so)
	if qo.Urgent || qo.Team != "team-1" || !so.Urgent {
		t.Fatalf("office view: quality urgent %v team %q, safety urgent %v", qo.Urgent, qo.Team, so.Urgent)
	}
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "x", "visitId": w.v2.ID}, w.cu1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/complaints", map[string]any{"category": "weather", "text": "x"}, w.cu1).wantError(400, schemas.EINVALID)
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "x"}, w.wk1).wantError(403, schemas.EFORBIDDEN)

	// 31 minutes on, nobody acknowledged the safety complaint: breached and escalated, once.
	f.clock.Add(31 * time.Minute)
	if n, err := f.office.EscalateBreaches(ctx); err != nil || n != 1 {
		t.Fatalf("escalated %d, %v", n, err)
	}
	if n, _ := f.office.EscalateBreaches(ctx); n != 0 {
		t.Fatal("escalated twice")
	}
	admin := f.login("admin.o", "office").AccessToken
	sup := f.login("sup.one", "office").AccessToken
	cu := f.login("cu.one", "phone").AccessToken
	var feed struct {
		Items []schemas.Alert `json:"items"`
	}
	f.do("GET", "/v1/alerts", nil, admin).want(200).decode(&feed)
	breaches := 0
	for _, a := range feed.Items {
		if a.Kind == "complaint_sla_breach" && a.Team == "" && a.Priority == "high" {
			breaches++
		}
	}
	if breaches != 1 {
		t.Fatalf("admin feed has %d breach alerts: %+v", breaches, feed.Items)
	}
	var s schemas.Complaint
	f.do("GET", "/v1/complaints/"+safety.ID, nil, sup).want(200).decode(&s)
	if !s.Breached {
		t.Fatal("complaint not marked breached")
	}

	// The quality complaint runs the whole course.
	act := func(token, action string, extra map[string]any, status int) *schemas.Complaint {
		body := map[string]any{"action": action}
		for k, v := range extra {
			body[k] = v
		}
		r := f.do("POST", "/v1/complaints/"+q.ID+"/actions", body, token)
		if status != 200 {
			r.want(status)
			return nil
		}
		var c schemas.Complaint
		r.want(200).decode(&c)
		return &c
	}
	act(cu, "acknowledge", nil, 403)  // the customer does not acknowledge
	act(sup, "investigate", nil, 409) // not acknowledged yet
	if c := act(sup, "acknowledge", nil, 200); c.Breached || c.AckedAt == nil {
		t.Fatalf("acknowledged in time: %+v", c)
	}
	act(sup, "investigate", map[string]any{"note": "联系服务师了解情况"}, 200)
	act(sup, "propose", nil, 400) // a remedy is required
	act(sup, "propose", map[string]any{"remedy": map[string]any{"kind": "revisit", "detail": "明天由资深服务师免费返工"}}, 200)
	act(sup, "accept", nil, 403) // the customer's to accept
	act(cu, "reject", map[string]any{"note": "希望换一位服务师"}, 200)
	act(sup, "propose", map[string]any{"remedy": map[string]any{"kind": "fee_reduction", "detail": "本次服务费减半"}}, 200)
	act(cu, "accept", nil, 200)
	act(sup, "close", nil, 400) // with its root cause
	closed := act(sup, "close", map[string]any{"rootCause": "worker_skill"}, 200)
	if closed.State != schemas.ComplaintClosed || closed.FollowUpDue == nil || len(closed.History) != 8 {
		t.Fatalf("closed: %+v", closed)
	}
	if closed.RootCause != "worker_skill" {
		t.Fatalf("closed without its root cause: %+v", closed)
	}
	act(sup, "close", map[string]any{"rootCause": "worker_skill"}, 409)
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/complaint/"+q.ID, nil, admin).want(200).decode(&trail)
	if len(trail.Items) != 8 {
		t.Fatalf("%d audit entries, want 8", len(trail.Items))
	}

	// Another customer sees none of it; another team's supervisor neither.
	other := otherCustomer(t, w)
	f.do("GET", "/v1/complaints/"+q.ID, nil, other).wantError(404, schemas.ENOTFOUND)
	var list struct {
		Items []schemas.Complaint `json:"items"`
	}
	f.do("GET", "/v1/complaints", nil, other).want(200).decode(&list)
	if len(list.Items) != 0 {
		t.Fatalf("another customer lists %d complaints", len(list.Items))
	}
	f.do("POST", "/v1/complaints/"+q.ID+"/actions", map[string]any{"action": "accept"}, other).wantError(404, schemas.ENOTFOUND)
}
