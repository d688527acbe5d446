package api_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
)

// queueItem is what the queue tests read of a listed record.
type queueItem struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Category    string `json:"category"`
	VisitID     string `json:"visitId"`
	WorkerID    string `json:"workerId"`
	CustomerID  string `json:"customerId"`
	ComplaintID string `json:"complaintId"`
	Priority    string `json:"priority"`
	Done        bool   `json:"done"`
}

type queuePage struct {
	Items      []queueItem `json:"items"`
	NextCursor *string     `json:"nextCursor"`
}

// listAll pages through path (which has a query already) by nextCursor,
// checking no page is larger than limit and no item comes twice.
func listAll(t *testing.T, f *fixture, path, token string, limit int) []queueItem {
	t.Helper()
	var out []queueItem
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		var p queuePage
		f.do("GET", fmt.Sprintf("%s&limit=%d&after=%s", path, limit, url.QueryEscape(after)), nil, token).want(200).decode(&p)
		if len(p.Items) > limit || pages > 100 {
			t.Fatalf("%s: a page of %d items, page %d", path, len(p.Items), pages)
		}
		for _, it := range p.Items {
			if seen[it.ID] {
				t.Fatalf("%s: %s twice", path, it.ID)
			}
			seen[it.ID] = true
			out = append(out, it)
		}
		if p.NextCursor == nil || *p.NextCursor == "" {
			return out
		}
		after = *p.NextCursor
	}
}

// relogin signs the world's users in again, after the clock moved past
// their tokens' life.
func (w *world) relogin() {
	w.admin = w.f.login("admin.o", "office").AccessToken
	w.s1 = w.f.login("sup.one", "office").AccessToken
	w.wk1 = w.f.login("wk.one", "phone").AccessToken
	w.cu1 = w.f.login("cu.one", "phone").AccessToken
}

func itemIDs(items []queueItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

// TestQueuesFilterAndPage: the complaints and alerts a supervisor works
// from, narrowed by what they work from (category, worker, customer,
// visit, owner, overdue, date range), page by cursor within their team;
// the second team's supervisor sees only theirs.
func TestQueuesFilterAndPage(t *testing.T) {
	w := newWorld(t)
	f := w.f
	s2 := w.account(schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"}, "office")
	file := func(token, path string, body map[string]any) schemas.Complaint {
		t.Helper()
		var c schemas.Complaint
		f.do("POST", path, body, token).want(201).decode(&c)
		f.clock.Add(time.Minute)
		return c
	}
	quality := file(w.cu1, "/v1/complaints", map[string]any{"category": "quality", "text": "厨房没擦", "visitId": w.v1.ID})
	fees := file(w.cu1, "/v1/complaints", map[string]any{"category": "fees", "text": "多收了钱"})
	safety := file(w.cu1, "/v1/complaints", map[string]any{"category": "safety", "text": "插座冒烟"})
	phoned := file(w.admin, "/v1/customers/"+w.c2.ID+"/complaints", map[string]any{"category": "attitude", "text": "电话投诉：态度差", "channel": "hotline"})
	f.clock.Add(30 * time.Minute) // the urgent one is overdue now (30 minutes)
	w.relogin()
	s2 = f.login("sup.two", "office").AccessToken

	for _, tc := range []struct {
		query, token string
		want         []string
	}{
		{"", w.s1, []string{safety.ID, fees.ID, quality.ID}},
		{"", s2, []string{phoned.ID}},
		{"", w.admin, []string{phoned.ID, safety.ID, fees.ID, quality.ID}},
		{"category=quality", w.s1, []string{quality.ID}},
		{"category=attitude", w.s1, []string{}},
		{"visitId=" + w.v1.ID, w.s1, []string{quality.ID}},
		{"workerId=" + w.w1.ID, w.s1, []string{quality.ID}},
		{"customerId=" + w.c1.ID, w.s1, []string{safety.ID, fees.ID, quality.ID}},
		{"customerId=" + w.c2.ID, w.s1, []string{}}, // another team's customer: nothing
		{"customerId=" + w.c1.ID, s2, []string{}},
		{"overdue=true", w.s1, []string{safety.ID}},
		{"open=true&state=received", w.s1, []string{safety.ID, fees.ID, quality.ID}},
		{"state=closed", w.s1, []string{}},
		{"from=" + url.QueryEscape(fees.ReceivedAt.Format(time.RFC3339Nano)), w.s1, []string{safety.ID, fees.ID}},
		{"to=" + url.QueryEscape(fees.ReceivedAt.Format(time.RFC3339Nano)), w.s1, []string{quality.ID}},
		{"customerId=" + w.c2.ID, w.cu1, []string{}}, // a customer sees only their own
		{"category=fees", w.cu1, []string{fees.ID}},
	} {
		for _, limit := range []int{1, 50} {
			got := itemIDs(listAll(t, f, "/v1/complaints?"+tc.query, tc.token, limit))
			if !slices.Equal(got, tc.want) {
				t.Errorf("complaints?%s (limit %d) = %v, want %v", tc.query, limit, got, tc.want)
			}
		}
	}

	// Another team's ids in a filter narrow to nothing, never widen the scope.
	for _, q := range []string{"/v1/alerts?workerId=" + w.w2.ID, "/v1/incidents?workerId=" + w.w2.ID, "/v1/incidents?visitId=" + w.v2.ID,
		"/v1/followups?customerId=" + w.c2.ID, "/v1/reviews?workerId=" + w.w2.ID, "/v1/complaints?visitId=" + w.v2.ID} {
		if got := listAll(t, f, q, w.s1, 10); len(got) != 0 {
			t.Errorf("%s as team-1: %v", q, got)
		}
	}
	if got := listAll(t, f, "/v1/incidents?workerId="+w.w2.ID, w.wk1, 10); len(got) != 0 {
		t.Errorf("worker w1 listing w2's incidents: %v", got)
	}

	// Alerts: each complaint raised one; the urgent one at high priority.
	alerts := listAll(t, f, "/v1/alerts?kind=complaint", w.s1, 1)
	if len(alerts) != 2 { // one customer's complaints coalesce into one alert per priority
		t.Errorf("complaint alerts of team-1: %+v", alerts)
	}
	if high := listAll(t, f, "/v1/alerts?priority=high", w.s1, 10); len(high) != 1 || high[0].Priority != "high" {
		t.Errorf("high alerts: %+v", high)
	}
	if got := listAll(t, f, "/v1/alerts?kind=late", w.s1, 10); len(got) != 0 {
		t.Errorf("late alerts: %+v", got)
	}
	if got := listAll(t, f, "/v1/alerts?open=true", s2, 10); len(got) != 1 {
		t.Errorf("team-2's open alerts: %+v", got)
	}
}

// TestQueuesRefuseBadInput: every queue answers a filter of the wrong
// kind, an operator, an unknown value or a cursor from elsewhere with a
// 400 naming the parameter.
func TestQueuesRefuseBadInput(t *testing.T) {
	w := newWorld(t)
	f := w.f
	common := map[string]string{
		"limit=0": "limit", "limit=201": "limit", "limit=abc": "limit", "after=bm90IGEgY3Vyc29y": "after", "after=" + url.QueryEscape("$gt"): "after",
	}
	perList := map[string]map[string]string{
		"/v1/alerts":     {"open=yes": "open", "priority=urgent": "priority", "kind=" + url.QueryEscape("$where"): "kind", "workerId=" + url.QueryEscape("$gt"): "workerId", "from=yesterday": "from"},
		"/v1/complaints": {"overdue=yes": "overdue", "category=noise": "category", "state=open": "state", "visitId=" + url.QueryEscape(`{"$ne":1}`): "visitId", "ownerId=x": "ownerId", "unanswered=maybe": "unanswered"},
		"/v1/incidents":  {"open=2": "open", "severity=huge": "severity", "status=closed": "status", "category=fire": "category", "visitId=1": "visitId"},
		"/v1/reviews":    {"customerId=" + url.QueryEscape("$ne"): "customerId", "to=2037-13-01T00:00:00Z": "to", "workerId=": ""},
		"/v1/followups":  {"done=true&open=true": "done", "done=true&overdue=true": "done", "overdue=no": "overdue", "customerId=a.b": "customerId"},
	}
	order := "from=2037-11-25T00:00:00Z&to=2037-11-24T00:00:00Z"
	for path, bad := range perList {
		bad[order] = "to"
		for q, field := range common {
			bad[q] = field
		}
		for q, field := range bad {
			if field == "" { // an empty filter is no filter
				f.do("GET", path+"?"+q, nil, w.s1).want(200)
				continue
			}
			e := f.do("GET", path+"?"+q, nil, w.s1).wantError(400, schemas.EINVALID)
			if field != "after" && e.Details["field"] != field {
				t.Errorf("%s?%s: field %v, want %s", path, q, e.Details["field"], field)
			}
		}
	}
	// A cursor of one list is not another's, nor another filter's.
	var p queuePage
	f.do("POST", "/v1/complaints", map[string]any{"category": "fees", "text": "多收了钱"}, w.cu1).want(201)
	f.do("POST", "/v1/complaints", map[string]any{"category": "fees", "text": "又多收了钱"}, w.cu1).want(201)
	f.do("GET", "/v1/complaints?limit=1", nil, w.s1).want(200).decode(&p)
	if p.NextCursor == nil || *p.NextCursor == "" {
		t.Fatal("no cursor")
	}
	f.do("GET", "/v1/followups?after="+url.QueryEscape(*p.NextCursor), nil, w.s1).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/complaints?category=fees&after="+url.QueryEscape(*p.NextCursor), nil, w.s1).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/complaints?overdue=true&after="+url.QueryEscape(*p.NextCursor), nil, w.s1).wantError(400, schemas.EINVALID)
}

// TestFollowUpsOpenFirst: the open follow-ups come before the done ones,
// so a new one is on the first page however many are finished, and the
// list still pages through all of them, each once.
func TestFollowUpsOpenFirst(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	start := f.clock.Now().Add(-30 * 24 * time.Hour)
	const done = 205
	for i := range done {
		due := start.Add(time.Duration(i) * time.Minute)
		at := due.Add(time.Hour)
		if _, err := f.db.Cases.RecordFollowUp(ctx, &schemas.FollowUp{ID: fmt.Sprintf("f-done-%03d", i), VisitID: fmt.Sprintf("01f2e0d8-0000-7000-8000-000000000%03d", i), CustomerID: w.c1.ID,
			Team: "team-1", DueAt: due, LatestAt: due.Add(6 * 24 * time.Hour), Done: true, DoneAt: &at, DoneBy: "sup", Outcome: "满意"}); err != nil {
			t.Fatal(err)
		}
	}
	due := f.clock.Now().Add(24 * time.Hour)
	for _, fu := range []schemas.FollowUp{
		{ID: "f-new", VisitID: w.v1.ID, CustomerID: w.c1.ID, WorkerID: w.w1.ID, Team: "team-1", DueAt: due, LatestAt: due.Add(6 * 24 * time.Hour)},
		{ID: "f-late", VisitID: "01f2e0d8-0000-7000-8000-00000000a7e0", CustomerID: w.c1.ID, Team: "team-1", DueAt: start.Add(-7 * 24 * time.Hour), LatestAt: start.Add(-24 * time.Hour)},
		{ID: "f-other-team", VisitID: w.v2.ID, CustomerID: w.c2.ID, Team: "team-2", DueAt: due, LatestAt: due.Add(6 * 24 * time.Hour)},
	} {
		if _, err := f.db.Cases.RecordFollowUp(ctx, &fu); err != nil {
			t.Fatal(err)
		}
	}
	var first queuePage
	f.do("GET", "/v1/followups?limit=200", nil, w.s1).want(200).decode(&first)
	if len(first.Items) != 200 || first.Items[0].ID != "f-late" || first.Items[1].ID != "f-new" || !first.Items[2].Done || first.NextCursor == nil {
		t.Fatalf("first page: %d items starting %v, next %v", len(first.Items), itemIDs(first.Items[:3]), first.NextCursor)
	}
	all := listAll(t, f, "/v1/followups?x=", w.s1, 200)
	if len(all) != done+2 {
		t.Fatalf("%d follow-ups paged, want %d", len(all), done+2)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"open=true", []string{"f-late", "f-new"}},
		{"overdue=true", []string{"f-late"}},
		{"workerId=" + w.w1.ID, []string{"f-new"}},
		{"visitId=" + w.v1.ID, []string{"f-new"}},
		{"open=true&from=" + url.QueryEscape(f.clock.Now().Format(time.RFC3339)), []string{"f-new"}},
	} {
		if got := itemIDs(listAll(t, f, "/v1/followups?"+tc.query, w.s1, 1)); !slices.Equal(got, tc.want) {
			t.Errorf("followups?%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	if got := listAll(t, f, "/v1/followups?done=true", w.s1, 200); len(got) != done || !got[0].Done {
		t.Errorf("%d done follow-ups", len(got))
	}
}

// TestReviewsPageByCursor: the review queue pages by cursor, the earliest
// visit first, filtered by worker or customer, within the team.
func TestReviewsPageByCursor(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	s2 := w.account(schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"}, "office")
	var want []string
	for i := range 5 {
		for _, base := range []schemas.Visit{w.v1.Visit, w.v2.Visit} {
			v := base
			v.ID = f.newID()
			v.ScheduledStart = base.ScheduledStart.Add(-time.Duration(5-i) * 24 * time.Hour)
			v.ScheduledEnd = v.ScheduledStart.Add(3 * time.Hour)
			v.NeedsReview, v.Version = true, 1
			if err := f.db.Visits.Insert(ctx, &v); err != nil {
				t.Fatal(err)
			}
			if v.Team == "team-1" {
				want = append(want, v.ID)
			}
		}
	}
	if got := itemIDs(listAll(t, f, "/v1/reviews?x=", w.s1, 2)); !slices.Equal(got, want) {
		t.Errorf("reviews of team-1: %v, want %v", got, want)
	}
	if got := listAll(t, f, "/v1/reviews?customerId="+w.c2.ID, w.s1, 2); len(got) != 0 {
		t.Errorf("team-1's reviews of team-2's customer: %v", got)
	}
	if got := listAll(t, f, "/v1/reviews?workerId="+w.w2.ID, s2, 2); len(got) != 5 {
		t.Errorf("team-2's reviews of w2: %d", len(got))
	}
	from := w.v1.ScheduledStart.Add(-2 * 24 * time.Hour)
	if got := itemIDs(listAll(t, f, "/v1/reviews?from="+url.QueryEscape(from.Format(time.RFC3339)), w.s1, 10)); !slices.Equal(got, want[3:]) {
		t.Errorf("reviews from %s: %v, want %v", from, got, want[3:])
	}
}

// TestComplaintFiledByOffice: staff file what a customer phoned in, with
// the channel; it is owned by whoever filed it until assigned to another
// office user of the team; bad bodies, other teams' customers and owners
// who may not own it are refused.
func TestComplaintFiledByOffice(t *testing.T) {
	w := newWorld(t)
	f := w.f
	s2 := w.account(schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"}, "office")
	var s1User, s2User, adminUser schemas.User
	f.do("GET", "/v1/me", nil, w.s1).want(200).decode(&s1User)
	f.do("GET", "/v1/me", nil, s2).want(200).decode(&s2User)
	f.do("GET", "/v1/me", nil, w.admin).want(200).decode(&adminUser)
	path := "/v1/customers/" + w.c1.ID + "/complaints"
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"category": "attitude", "text": "微信投诉：服务师态度不好", "channel": "wechat", "visitId": w.v1.ID}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	for name, tc := range map[string]struct {
		path  string
		body  any
		token string
		want  int
		field string
	}{
		"no channel":            {path, body(map[string]any{"channel": nil}), w.s1, 400, "channel"},
		"the app is no office":  {path, body(map[string]any{"channel": "app"}), w.s1, 400, "channel"},
		"channel of wrong type": {path, body(map[string]any{"channel": 3}), w.s1, 400, ""},
		"an operator key":       {path, body(map[string]any{"$set": map[string]any{"team": "team-2"}}), w.s1, 400, ""},
		"an operator value":     {path, body(map[string]any{"visitId": map[string]any{"$ne": ""}}), w.s1, 400, ""},
		"no text":               {path, body(map[string]any{"text": nil}), w.s1, 400, "text"},
		"unknown category":      {path, body(map[string]any{"category": "noise"}), w.s1, 400, "category"},
		"another's visit":       {path, body(map[string]any{"visitId": w.v2.ID}), w.s1, 400, "visitId"},
		"an owner of team-2":    {path, body(map[string]any{"ownerId": s2User.ID}), w.s1, 400, "ownerId"},
		"a worker as owner":     {path, body(map[string]any{"ownerId": w.w1.ID}), w.s1, 400, "ownerId"},
		"another team's":        {"/v1/customers/" + w.c2.ID + "/complaints", body(map[string]any{"visitId": nil}), w.s1, 404, ""},
		"team-1's for team-2":   {path, body(nil), s2, 404, ""},
		"no such customer":      {"/v1/customers/" + f.newID() + "/complaints", body(map[string]any{"visitId": nil}), w.s1, 404, ""},
		"a customer's own call": {path, body(nil), w.cu1, 403, ""},
		"a worker":              {path, body(nil), w.wk1, 403, ""},
	} {
		r := f.do("POST", tc.path, tc.body, tc.token)
		code := map[int]string{400: schemas.EINVALID, 403: schemas.EFORBIDDEN, 404: schemas.ENOTFOUND}[tc.want]
		if r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, tc.want)
			continue
		}
		if e := r.wantError(tc.want, code); tc.field != "" && e.Details["field"] != tc.field {
			t.Errorf("%s: field %v, want %s", name, e.Details["field"], tc.field)
		}
	}
	var list queuePage
	f.do("GET", "/v1/complaints", nil, w.admin).want(200).decode(&list)
	if len(list.Items) != 0 {
		t.Fatalf("refused filings stored: %+v", list.Items)
	}

	var c schemas.Complaint
	f.do("POST", path, body(nil), w.s1).want(201).decode(&c)
	if c.Channel != "wechat" || c.FiledBy != s1User.ID || c.OwnerID != s1User.ID || c.CustomerID != w.c1.ID || c.WorkerID != w.w1.ID ||
		c.Team != "team-1" || c.State != schemas.ComplaintReceived || c.History[0].Role != schemas.RoleSupervisor || c.AckDueAt.IsZero() {
		t.Fatalf("filed: %+v", c)
	}
	// The customer sees it as theirs; the other team's supervisor does not.
	f.do("GET", "/v1/complaints/"+c.ID, nil, w.cu1).want(200)
	f.do("GET", "/v1/complaints/"+c.ID, nil, s2).wantError(404, schemas.ENOTFOUND)

	act := func(token string, b map[string]any) *result {
		return f.do("POST", "/v1/complaints/"+c.ID+"/actions", b, token)
	}
	act(w.s1, map[string]any{"action": "assign"}).wantError(400, schemas.EINVALID)
	act(w.s1, map[string]any{"action": "assign", "ownerId": s2User.ID}).wantError(400, schemas.EINVALID)
	act(w.s1, map[string]any{"action": "assign", "ownerId": []string{adminUser.ID}}).wantError(400, schemas.EINVALID)
	act(w.s1, map[string]any{"action": "acknowledge", "ownerId": adminUser.ID}).wantError(400, schemas.EINVALID)
	act(s2, map[string]any{"action": "assign", "ownerId": s2User.ID}).wantError(404, schemas.ENOTFOUND)
	act(w.cu1, map[string]any{"action": "assign", "ownerId": adminUser.ID}).wantError(403, schemas.EFORBIDDEN)
	var assigned schemas.Complaint
	act(w.s1, map[string]any{"action": "assign", "ownerId": adminUser.ID, "note": "转交客服主管"}).want(200).decode(&assigned)
	if assigned.OwnerID != adminUser.ID || assigned.State != schemas.ComplaintReceived {
		t.Fatalf("assigned: %+v", assigned)
	}
	if got := itemIDs(listAll(t, f, "/v1/complaints?ownerId="+adminUser.ID, w.s1, 5)); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("owned by the admin: %v", got)
	}
	if got := listAll(t, f, "/v1/complaints?ownerId="+s1User.ID, w.s1, 5); len(got) != 0 {
		t.Errorf("still owned by s1: %v", got)
	}
}

// TestComplaintClosedWithoutAnswer: a remedy the customer leaves
// unanswered for the answer wait can be closed by a supervisor with a
// root cause and a reason; not sooner, not by another team. The customer
// is told through the push outbox, the follow-up is scheduled, and the
// step is in the history and the audit trail.
func TestComplaintClosedWithoutAnswer(t *testing.T) {
	w := newWorld(t)
	f := w.f
	f.office.SetCustomerTeller(push.NewRelay(f.db, push.NewOutbox(f.db.Push), f.clock.Now, slog.New(slog.DiscardHandler)))
	s2 := w.account(schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"}, "office")
	var c schemas.Complaint
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "窗户没擦", "visitId": w.v1.ID}, w.cu1).want(201).decode(&c)
	act := func(token string, b map[string]any) *result {
		return f.do("POST", "/v1/complaints/"+c.ID+"/actions", b, token)
	}
	act(w.s1, map[string]any{"action": "acknowledge"}).want(200)
	act(w.s1, map[string]any{"action": "investigate"}).want(200)
	// Not before a remedy waits for an answer.
	closeBody := map[string]any{"action": "close_unanswered", "rootCause": "worker_skill", "note": "三次电话未接通"}
	act(w.s1, closeBody).wantError(409, schemas.ECONFLICT)
	act(w.s1, map[string]any{"action": "propose", "remedy": map[string]any{"kind": "revisit", "detail": "免费返工"}}).want(200)
	proposed := f.clock.Now()
	f.clock.Add(71 * time.Hour)
	w.s1 = f.login("sup.one", "office").AccessToken
	e := act(w.s1, closeBody).wantError(409, schemas.ECONFLICT)
	if e.Details["answerDueAt"] != proposed.Add(72*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("answer due %v, want 72h after %s", e.Details["answerDueAt"], proposed)
	}
	if got := listAll(t, f, "/v1/complaints?unanswered=true", w.s1, 5); len(got) != 0 {
		t.Errorf("unanswered before the wait: %v", got)
	}
	f.clock.Add(time.Hour)
	w.relogin()
	s2 = f.login("sup.two", "office").AccessToken
	if got := itemIDs(listAll(t, f, "/v1/complaints?unanswered=true", w.s1, 5)); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("unanswered after the wait: %v", got)
	}
	for name, b := range map[string]map[string]any{
		"no reason":       {"action": "close_unanswered", "rootCause": "worker_skill"},
		"no root cause":   {"action": "close_unanswered", "note": "未接通"},
		"an unknown one":  {"action": "close_unanswered", "rootCause": "bad_luck", "note": "未接通"},
		"a root cause $":  {"action": "close_unanswered", "rootCause": map[string]any{"$in": []string{"other"}}, "note": "未接通"},
		"a remedy with":   {"action": "close_unanswered", "rootCause": "other", "note": "未接通", "remedy": map[string]any{"kind": "refund", "detail": "退款"}},
		"a reason of int": {"action": "close_unanswered", "rootCause": "other", "note": 5},
	} {
		if r := act(w.s1, b); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	act(s2, closeBody).wantError(404, schemas.ENOTFOUND)
	act(w.cu1, closeBody).wantError(403, schemas.EFORBIDDEN)
	var closed schemas.Complaint
	act(w.s1, closeBody).want(200).decode(&closed)
	last := closed.History[len(closed.History)-1]
	if closed.State != schemas.ComplaintClosed || closed.RootCause != "worker_skill" || closed.ClosedAt == nil || closed.FollowUpDue == nil ||
		last.Action != "close_unanswered" || last.Note != "三次电话未接通" {
		t.Fatalf("closed: %+v", closed)
	}
	act(w.s1, closeBody).wantError(409, schemas.ECONFLICT)
	act(w.cu1, map[string]any{"action": "accept"}).wantError(409, schemas.ECONFLICT) // too late to answer

	// The customer is told, once.
	var me schemas.User
	f.do("GET", "/v1/me", nil, w.cu1).want(200).decode(&me)
	var ns struct {
		Items []schemas.Notification `json:"items"`
	}
	f.do("GET", "/v1/notifications?userId="+me.ID, nil, w.admin).want(200).decode(&ns)
	told := 0
	for _, n := range ns.Items {
		if n.Kind == "complaint_closed_unanswered" && n.Data["complaintId"] == c.ID && n.Title != "" {
			told++
		}
	}
	if told != 1 {
		t.Errorf("customer told %d times: %+v", told, ns.Items)
	}
	// The follow-up is in the queue, due a day later.
	fus := listAll(t, f, "/v1/followups?customerId="+w.c1.ID, w.s1, 5)
	if len(fus) != 1 || fus[0].ComplaintID != c.ID || fus[0].VisitID != w.v1.ID || fus[0].Done {
		t.Errorf("follow-ups: %+v", fus)
	}
	// Audited.
	var trail struct {
		Items []schemas.AuditEntry `json:"items"`
	}
	f.do("GET", "/v1/audit/complaint/"+c.ID, nil, w.admin).want(200).decode(&trail)
	if a := trail.Items[len(trail.Items)-1]; !strings.Contains(a.Action, "close_unanswered") || a.Note != "三次电话未接通" {
		t.Errorf("last audit entry: %+v", a)
	}
}

// nullsWhereEmpty lists the paths where got has null and want has [].
func nullsWhereEmpty(path string, got, want any) []string {
	switch w := want.(type) {
	case []any:
		if got == nil {
			return []string{path}
		}
		g, _ := got.([]any)
		var out []string
		for i := range min(len(g), len(w)) {
			out = append(out, nullsWhereEmpty(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return out
	case map[string]any:
		g, _ := got.(map[string]any)
		var out []string
		for k, v := range w {
			gv, ok := g[k]
			if _, isArr := v.([]any); isArr && !ok {
				out = append(out, path+"."+k+" (missing)")
				continue
			}
			out = append(out, nullsWhereEmpty(path+"."+k, gv, v)...)
		}
		return out
	}
	return nil
}

// TestWritesAnswerArraysAsReadsDo: what a create or an update answers has
// [] wherever reading the record back has [], never null: a visit planned,
// rescheduled and cancelled, a worker and a customer added, a complaint
// filed by the office.
func TestWritesAnswerArraysAsReadsDo(t *testing.T) {
	w := newWorld(t)
	f := w.f
	later := f.clock.Now().Add(72 * time.Hour).Truncate(time.Hour)
	check := func(what string, r *result, get string, token string) map[string]any {
		t.Helper()
		var wrote, read map[string]any
		r.decode(&wrote)
		id, _ := wrote["id"].(string)
		f.do("GET", get+id, nil, token).want(200).decode(&read)
		if bad := nullsWhereEmpty(what, wrote, read); len(bad) > 0 {
			t.Errorf("%s answers null where reading it back gives []: %v", what, bad)
		}
		return wrote
	}
	v := check("POST /v1/visits", f.do("POST", "/v1/visits", map[string]any{"customerId": w.c1.ID, "addressId": w.c1.Addresses[0].ID,
		"serviceTypeId": w.st.ID, "scheduledStart": later}, w.s1).want(201), "/v1/visits/", w.s1)
	id := v["id"].(string)
	v = check("reschedule", f.do("POST", "/v1/visits/"+id+"/reschedule", map[string]any{"version": v["version"], "scheduledStart": later.Add(time.Hour),
		"scheduledEnd": later.Add(4 * time.Hour)}, w.s1).want(200), "/v1/visits/", w.s1)
	check("cancel", f.do("POST", "/v1/visits/"+id+"/cancel", map[string]any{"version": v["version"], "reason": "客户出差"}, w.s1).want(200), "/v1/visits/", w.s1)
	wk := workerInput("王芳", "team-1", "+8613800000099")
	wk.Languages, wk.Certificates, wk.Skills = nil, nil, []schemas.Skill{schemas.SkillDailyCleaning}
	check("POST /v1/workers", f.do("POST", "/v1/workers", wk, w.s1).want(201), "/v1/workers/", w.s1)
	cu := customerInput("周先生", "team-1", "+8613900000099", "上海市示范路9号")
	cu.Household = schemas.Household{}
	check("POST /v1/customers", f.do("POST", "/v1/customers", cu, w.s1).want(201), "/v1/customers/", w.s1)
	check("POST /v1/customers/{id}/complaints", f.do("POST", "/v1/customers/"+w.c1.ID+"/complaints", map[string]any{"category": "fees", "text": "电话投诉：多收费",
		"channel": "hotline"}, w.s1).want(201), "/v1/complaints/", w.s1)
}
