package api_test

import (
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/office"
	"fieldsync/store/storetest"
	fsync "fieldsync/sync"
)

// figuresMonth is November 2037 with every kind of record, for worker w1
// (team-1, customer c1) unless said otherwise, each visit 09:00-12:00
// Shanghai (180 minutes booked) unless said otherwise:
//
//	A 25th: in 09:05 (on time), out 12:00; signed off in the customer's app
//	        (trusted) 5/4/5/3
//	B 26th: in 09:20 (late), incident 10:00, out 12:00 (2h40 of 3h: an early
//	        leave); signed off on the phone with only a name (self-entered)
//	        3/2/4/4, kitchen disputed; a rework R planned for the 28th
//	F 26th 14:00-17:00: in 14:00 with the customer's presence code, out
//	        17:00; signed off on the phone with a name (trusted, by the code)
//	        4/4/4/5
//	C 27th: never checked in (missed)
//	D 27th 13:00: cancelled by the office (not due)
//	E 27th 10:00: nobody's (unassigned)
//	v1 25th 17:00 (the world's): never checked in (missed)
//	R 28th: the rework, never checked in (missed)
//	w2 (team-2): v2 25th 17:00, never checked in (missed)
//
// Complaints (received the 27th): quality about B and other about no
// visit, both acknowledged at once; safety about C, never acknowledged.
// September has three visits of w1 nobody checked in to (15th-17th).
// The clock ends at 2037-12-05 10:00 Shanghai, when every visit is past.
type figuresMonth struct {
	*world
	a, b, c, d, e, fv, r *office.VisitView
	g, h                 *office.VisitView // no-shows: the customer's, the worker's
	sh                   *time.Location
}

func newFiguresMonth(t *testing.T) *figuresMonth {
	t.Helper()
	w := newWorld(t)
	f := w.f
	ctx := t.Context()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(day, hour int) time.Time { return time.Date(2037, 11, day, hour, 0, 0, 0, sh) }
	mk := func(start time.Time, workerID string) *office.VisitView {
		t.Helper()
		v, err := f.office.CreateVisit(ctx, sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
			ScheduledStart: start, WorkerID: workerID})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := &figuresMonth{world: w, sh: sh}
	for day := 15; day <= 17; day++ {
		mk(time.Date(2037, 9, day, 9, 0, 0, 0, sh), w.w1.ID)
	}
	m.a, m.b, m.fv, m.c, m.d, m.e = mk(at(25, 9), w.w1.ID), mk(at(26, 9), w.w1.ID), mk(at(26, 14), w.w1.ID), mk(at(27, 9), w.w1.ID), mk(at(27, 13), w.w1.ID), mk(at(27, 10), "")
	f.do("POST", "/v1/visits/"+m.d.ID+"/cancel", map[string]any{"reason": "客户出差"}, w.s1).want(200)

	w = refreshTokensAfter(t, w, at(27, 18))
	p := w.phone("wk.one", "phone-1")
	sign := func(kitchenOK bool, r [4]int) map[string]any {
		return map[string]any{"signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": kitchenOK, "reason": "不干净"}, {"itemId": "floors", "accepted": true}},
			"rating": map[string]any{"attitude": r[0], "quality": r[1], "efficiency": r[2], "price": r[3]}}
	}
	code := f.presence.Code(m.fv.ID, m.fv.ScheduledStart)
	resp := p.mustPush(p.ops(
		opSpec{fsync.KindCheckIn, m.a.ID, m.a.ScheduledStart.Add(5 * time.Minute), map[string]any{"location": near}},
		opSpec{fsync.KindCheckOut, m.a.ID, m.a.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}},
		opSpec{fsync.KindCheckIn, m.b.ID, m.b.ScheduledStart.Add(20 * time.Minute), map[string]any{"location": near}},
		opSpec{fsync.KindIncident, m.b.ID, m.b.ScheduledStart.Add(time.Hour), map[string]any{"category": "other", "severity": "low", "text": "花瓶有裂"}},
		opSpec{fsync.KindCheckOut, m.b.ID, m.b.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}},
		opSpec{fsync.KindSignOff, m.b.ID, m.b.ScheduledStart.Add(3*time.Hour + time.Minute), sign(false, [4]int{3, 2, 4, 4})},
		opSpec{fsync.KindCheckIn, m.fv.ID, m.fv.ScheduledStart, map[string]any{"location": near, "presenceCode": code}},
		opSpec{fsync.KindCheckOut, m.fv.ID, m.fv.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}},
		opSpec{fsync.KindSignOff, m.fv.ID, m.fv.ScheduledStart.Add(3*time.Hour + time.Minute), sign(true, [4]int{4, 4, 4, 5})},
	))
	if s := statuses(resp); strings.Count(s, "applied")+strings.Count(s, "conflict") != 9 {
		t.Fatalf("pushes: %s", s)
	}
	app := sign(true, [4]int{5, 4, 5, 3})
	app["opId"] = f.newID()
	f.do("POST", "/v1/visits/"+m.a.ID+"/signoff", app, w.cu1).want(200)
	var rework office.VisitView
	f.do("POST", "/v1/visits/"+m.b.ID+"/rework", map[string]any{"scheduledStart": at(28, 9)}, w.s1).want(201).decode(&rework)
	m.r = &rework
	var quality, noVisit schemas.Complaint
	f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": "厨房不干净", "visitId": m.b.ID}, w.cu1).want(201).decode(&quality)
	f.do("POST", "/v1/complaints", map[string]any{"category": "other", "text": "客服电话打不通"}, w.cu1).want(201).decode(&noVisit)
	f.do("POST", "/v1/complaints", map[string]any{"category": "safety", "text": "约好的人没来，也没人通知", "visitId": m.c.ID}, w.cu1).want(201)
	for _, id := range []string{quality.ID, noVisit.ID} {
		f.do("POST", "/v1/complaints/"+id+"/actions", map[string]any{"action": "acknowledge", "note": "已联系客户"}, w.s1).want(200)
	}
	m.g, m.h = mk(at(29, 9), w.w1.ID), mk(at(30, 9), w.w1.ID)
	m.world = refreshTokensAfter(t, w, time.Date(2037, 12, 5, 10, 0, 0, 0, sh))
	door := w.phone("wk.one", "phone-2")
	door.mustPush(door.ops(opSpec{fsync.KindCustomerAbsent, m.g.ID, m.g.ScheduledStart.Add(20 * time.Minute),
		map[string]any{"location": near, "waitedMinutes": 20, "photos": []string{strings.Repeat("d", 64)}}}))
	f.do("POST", "/v1/visits/"+m.g.ID+"/no-show", map[string]any{"party": "customer", "reason": "敲门无人应答"}, m.s1).want(200)
	f.do("POST", "/v1/visits/"+m.h.ID+"/no-show", map[string]any{"party": "worker", "reason": "服务师未到"}, m.s1).want(200)
	return m
}

func (m *figuresMonth) monthly(month string) office.MonthlyFigures {
	var rep office.MonthlyFigures
	m.f.do("GET", "/v1/reports/monthly?month="+month, nil, m.admin).want(200).decode(&rep)
	return rep
}

func row(t *testing.T, rows []office.WorkerFigures, workerID, team string) office.WorkerFigures {
	t.Helper()
	for _, r := range rows {
		if r.WorkerID == workerID && r.Team == team {
			return r
		}
	}
	t.Fatalf("no row %q/%q in %+v", workerID, team, rows)
	return office.WorkerFigures{}
}

// TestMonthlyFigures checks November against the month computed by hand
// (see figuresMonth). w1: due A B F C v1 R H = 7 (D was cancelled, G the
// customer's no-show), checked in A B F = 3, on time A F = 2, missed C v1
// R H = 4, on-time rate 2/7; no-shows G (customer) and H (worker);
// done 3; early leaves B = 1; trusted ratings A F = 2, averages 4.5 / 4 /
// 4.5 / 4, score 26/6; self-entered B = 1, score 3; disputes 1, reworks
// 1, complaints 2 (B, C), incidents 1. Team-1 adds the complaint about no
// visit; the SLA counts the same three complaints: two acknowledged in
// time, the safety one overdue.
func TestMonthlyFigures(t *testing.T) {
	m := newFiguresMonth(t)
	f := m.f
	rep := m.monthly("2037-11")
	w1 := office.WorkerFigures{WorkerID: m.w1.ID, Name: m.w1.Name, Team: "team-1", VisitsDue: 7, VisitsDone: 3, CheckIns: 3, OnTime: 2, Missed: 4, OnTimeRate: 0.286,
		EarlyLeaves: 1, Rated: 2, AvgAttitude: 4.5, AvgQuality: 4, AvgEfficiency: 4.5, AvgPrice: 4, AvgScore: 4.333, SelfEntered: 1, SelfEnteredAvgScore: 3,
		Disputes: 1, Reworks: 1, Complaints: 2, Incidents: 1, NoShowsCustomer: 1, NoShowsWorker: 1}
	if got := row(t, rep.Workers, m.w1.ID, "team-1"); got != w1 {
		t.Fatalf("w1\n got %+v\nwant %+v", got, w1)
	}
	w2 := office.WorkerFigures{WorkerID: m.w2.ID, Name: m.w2.Name, Team: "team-2", VisitsDue: 1, Missed: 1}
	if got := row(t, rep.Workers, m.w2.ID, "team-2"); got != w2 {
		t.Fatalf("w2\n got %+v\nwant %+v", got, w2)
	}
	team1 := w1
	team1.WorkerID, team1.Name, team1.Complaints, team1.ComplaintsNoWorker = "", "", 3, 1
	if got := row(t, rep.Teams, "", "team-1"); got != team1 {
		t.Fatalf("team-1\n got %+v\nwant %+v", got, team1)
	}
	if rep.Total.VisitsDue != 8 || rep.Total.Missed != 5 || rep.Total.OnTimeRate != 0.25 || rep.Total.NoShowsCustomer != 1 || rep.Total.NoShowsWorker != 1 || rep.Total.Complaints != 3 || len(rep.Workers) != 2 || len(rep.Teams) != 2 {
		t.Fatalf("total %+v", rep.Total)
	}
	if want := []office.EarlyLeave{{VisitID: m.b.ID, WorkerID: m.w1.ID, BookedMinutes: 180, WorkedMinutes: 160}}; !reflect.DeepEqual(rep.EarlyLeaves, want) {
		t.Fatalf("early leaves %+v", rep.EarlyLeaves)
	}
	if rep.ComplaintsDue != 3 || rep.ComplaintsOnTime != 2 || rep.ComplaintAttainment != 0.667 {
		t.Fatalf("SLA %d/%d %v", rep.ComplaintsOnTime, rep.ComplaintsDue, rep.ComplaintAttainment)
	}
	// A past month gives the same numbers whenever it is asked for.
	f.clock.Add(40 * 24 * time.Hour)
	m.admin = f.login("admin.o", "office").AccessToken
	if later := m.monthly("2037-11"); !reflect.DeepEqual(later, rep) {
		t.Fatalf("a past month changed:\n%+v\n%+v", later, rep)
	}
	sup := f.login("sup.one", "office").AccessToken
	var mine office.MonthlyFigures
	f.do("GET", "/v1/reports/monthly?month=2037-11&team=team-2", nil, sup).want(200).decode(&mine)
	if len(mine.Teams) != 1 || mine.Teams[0] != team1 {
		t.Fatalf("a supervisor sees only their team: %+v", mine.Teams)
	}
	if _, err := f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "sup.none", Role: schemas.RoleSupervisor, Password: testPassword, Name: "sup.none"}); err != nil {
		t.Fatal(err)
	}
	f.do("GET", "/v1/reports/monthly?month=2037-11", nil, f.login("sup.none", "office").AccessToken).wantError(403, schemas.EFORBIDDEN) // not every team's
	f.do("GET", "/v1/reports/monthly?month=11-2037", nil, sup).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/monthly?format=xml", nil, sup).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/monthly", nil, f.login("wk.one", "x").AccessToken).wantError(403, schemas.EFORBIDDEN)
}

// TestReportConsistency checks that every figure of a report, and of the
// breakdowns, trends and review of the same period, counts the same
// records: rows sum to their team, teams to the total, every complaint
// figure counts the same complaints, every rating figure the same
// ratings, and the CSV says what the JSON says.
func TestReportConsistency(t *testing.T) {
	m := newFiguresMonth(t)
	f := m.f
	rep := m.monthly("2037-11")
	ints := func(r office.WorkerFigures) map[string]int {
		b, _ := json.Marshal(r)
		var all map[string]any
		_ = json.Unmarshal(b, &all)
		out := map[string]int{}
		for k, v := range all {
			if x, ok := v.(float64); ok && x == float64(int(x)) && !strings.HasPrefix(k, "avg") && !strings.HasSuffix(k, "Rate") && !strings.HasSuffix(k, "Score") {
				out[k] = int(x)
			}
		}
		return out
	}
	sum := func(rows []office.WorkerFigures) map[string]int {
		out := map[string]int{}
		for _, r := range rows {
			for k, v := range ints(r) {
				out[k] += v
			}
		}
		return out
	}
	for _, team := range rep.Teams {
		var mine []office.WorkerFigures
		for _, w := range rep.Workers {
			if w.Team == team.Team {
				mine = append(mine, w)
			}
		}
		want := sum(mine)
		want["complaints"] += team.ComplaintsNoWorker
		want["complaintsNoWorker"] += team.ComplaintsNoWorker
		if got := ints(team); !reflect.DeepEqual(got, want) {
			t.Errorf("team %s is not the sum of its workers:\n got %v\nwant %v", team.Team, got, want)
		}
	}
	if got, want := ints(rep.Total), sum(rep.Teams); !reflect.DeepEqual(got, want) {
		t.Errorf("the total is not the sum of the teams:\n got %v\nwant %v", got, want)
	}
	for _, r := range append(append([]office.WorkerFigures{rep.Total}, rep.Teams...), rep.Workers...) {
		if r.OnTime > r.CheckIns || r.CheckIns > r.VisitsDue || r.Missed != r.VisitsDue-r.CheckIns || r.EarlyLeaves > r.VisitsDone || r.ComplaintsNoWorker > r.Complaints ||
			r.NoShowsWorker > r.Missed {
			t.Errorf("row does not add up: %+v", r)
		}
	}
	if rep.Total.NoShowsCustomer != 1 || rep.Total.NoShowsWorker != 1 {
		t.Errorf("no-shows: %d the customer's, %d the worker's; want 1 and 1", rep.Total.NoShowsCustomer, rep.Total.NoShowsWorker)
	}
	if len(rep.EarlyLeaves) != rep.Total.EarlyLeaves {
		t.Errorf("%d early leaves listed, %d counted", len(rep.EarlyLeaves), rep.Total.EarlyLeaves)
	}
	if rep.ComplaintsDue > rep.Total.Complaints || rep.ComplaintsOnTime > rep.ComplaintsDue {
		t.Errorf("the SLA counts other complaints than the rows: %d/%d of %d", rep.ComplaintsOnTime, rep.ComplaintsDue, rep.Total.Complaints)
	}

	var bd office.Breakdowns
	f.do("GET", "/v1/reports/breakdowns?month=2037-11", nil, m.admin).want(200).decode(&bd)
	total := func(cs []office.Count) (n int) {
		for _, c := range cs {
			n += c.Count
		}
		return n
	}
	if bd.Complaints != rep.Total.Complaints || total(bd.ComplaintsByCategory) != bd.Complaints || total(bd.ComplaintsByServiceType) != bd.Complaints || total(bd.ComplaintsByWorker) != bd.Complaints {
		t.Errorf("breakdowns count other complaints: %+v vs %d", bd, rep.Total.Complaints)
	}
	rated, self := 0, 0
	for _, g := range bd.RatingsByServiceType {
		rated, self = rated+g.Rated, self+g.SelfEntered
	}
	if rated != rep.Total.Rated || self != rep.Total.SelfEntered {
		t.Errorf("ratings by service type %d+%d, report %d+%d", rated, self, rep.Total.Rated, rep.Total.SelfEntered)
	}

	var tr office.Trends
	f.do("GET", "/v1/reports/trends?from=2037-11&to=2037-11", nil, m.admin).want(200).decode(&tr)
	if len(tr.Months) != 1 || tr.Months[0].Total != rep.Total || tr.Months[0].ComplaintAttainment != rep.ComplaintAttainment {
		t.Errorf("trend of the month %+v, report %+v", tr.Months, rep.Total)
	}
	// October and December are empty, so the quarter's figures are
	// November's.
	var q office.QuarterlyReview
	f.do("GET", "/v1/reports/quarterly?quarter=2037-Q4", nil, m.admin).want(200).decode(&q)
	for _, wr := range q.Workers {
		if got := row(t, rep.Workers, wr.WorkerID, wr.Team); wr.Figures != got {
			t.Errorf("quarter of %s\n got %+v\nwant %+v", wr.Name, wr.Figures, got)
		}
	}

	body := f.do("GET", "/v1/reports/monthly?month=2037-11&format=csv", nil, m.admin).want(200).body
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(rep.Workers)+len(rep.Teams)+1 || strings.Join(recs[0][:4], ",") != "month,scope,team,workerId" {
		t.Fatalf("csv:\n%s", body)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	last := recs[len(recs)-1]
	for k, v := range ints(rep.Total) {
		if last[col["scope"]] != "total" || last[col[k]] != strconv.Itoa(v) {
			t.Errorf("csv total %s = %s, json %d", k, last[col[k]], v)
		}
	}
}

// TestBreakdowns checks November's breakdowns by hand: complaints
// quality (B), safety (C), other (no visit); by service type: the
// cleaning service 2, none 1; by worker: w1 2, none 1; ratings of the
// cleaning service: trusted A and F (score 26/6), self-entered B (3).
// September to November trends: three missed visits, an empty month,
// then November.
func TestBreakdowns(t *testing.T) {
	m := newFiguresMonth(t)
	f := m.f
	var bd office.Breakdowns
	f.do("GET", "/v1/reports/breakdowns?month=2037-11", nil, m.s1).want(200).decode(&bd)
	want := office.Breakdowns{Month: "2037-11", Complaints: 3,
		ComplaintsByCategory:    []office.Count{{Key: "other", Count: 1}, {Key: "quality", Count: 1}, {Key: "safety", Count: 1}},
		ComplaintsByServiceType: []office.Count{{Key: m.st.ID, Name: m.st.Name, Count: 2}, {Key: office.None, Count: 1}},
		ComplaintsByWorker:      []office.Count{{Key: m.w1.ID, Name: m.w1.Name, Count: 2}, {Key: office.None, Count: 1}},
		RatingsByServiceType:    []office.RatingGroup{{ServiceTypeID: m.st.ID, Name: m.st.Name, Rated: 2, AvgScore: 4.333, SelfEntered: 1, SelfEnteredAvgScore: 3}},
	}
	if !reflect.DeepEqual(bd, want) {
		t.Fatalf("breakdowns\n got %+v\nwant %+v", bd, want)
	}
	var tr office.Trends
	f.do("GET", "/v1/reports/trends?from=2037-09&to=2037-11", nil, m.s1).want(200).decode(&tr)
	if len(tr.Months) != 3 {
		t.Fatalf("trends %+v", tr)
	}
	sep, oct, nov := tr.Months[0], tr.Months[1], tr.Months[2]
	if sep.Month != "2037-09" || sep.Total.VisitsDue != 3 || sep.Total.Missed != 3 || sep.Total.OnTimeRate != 0 ||
		oct.Total.VisitsDue != 0 || oct.ComplaintsChange != 0 ||
		nov.Total.VisitsDue != 7 || nov.Total.OnTimeRate != 0.286 || nov.OnTimeRateChange != 0.286 || nov.AvgScoreChange != 4.333 || nov.ComplaintsChange != 3 {
		t.Fatalf("trends %+v", tr.Months)
	}
	f.do("GET", "/v1/reports/trends?from=2037-11&to=2037-09", nil, m.s1).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/trends?from=2035-01&to=2037-09", nil, m.s1).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/breakdowns?month=2037-13", nil, m.s1).wantError(400, schemas.EINVALID)
}

// TestQuarterlyReview checks 2037-Q4 against the default thresholds by
// hand. w1: quality 1 - (1 dispute + 2 complaints) / 3 done = 0 (fail);
// efficiency on time 2/7 (fail), early leaves 1/3 (fail); satisfaction 2
// trusted ratings, fewer than the sample of 3 (no data): failed. Q3: three
// missed visits, on time 0/3: failed, so this is the second failure in a
// row. w2: one visit, no data anywhere. With a sample of 2, w1's
// satisfaction (26/6 >= 4.0) passes. A past quarter asked again later is
// the same.
func TestQuarterlyReview(t *testing.T) {
	m := newFiguresMonth(t)
	f := m.f
	var q office.QuarterlyReview
	f.do("GET", "/v1/reports/quarterly?quarter=2037-Q4", nil, m.admin).want(200).decode(&q)
	if q.Thresholds != office.DefaultReviewThresholds || len(q.Workers) != 2 || !q.From.Equal(time.Date(2037, 10, 1, 0, 0, 0, 0, m.sh)) || !q.To.Equal(time.Date(2038, 1, 1, 0, 0, 0, 0, m.sh)) {
		t.Fatalf("review %+v", q)
	}
	type res struct{ dims, result, prev string }
	got := func(wr office.WorkerReview) res {
		var ds []string
		for _, d := range wr.Dimensions {
			var cs []string
			for _, c := range d.Checks {
				cs = append(cs, c.Metric+"="+strconv.FormatFloat(c.Value, 'f', 3, 64)+"/"+strconv.Itoa(c.Basis)+":"+c.Result)
			}
			ds = append(ds, d.Dimension+"("+strings.Join(cs, " ")+"):"+d.Result)
		}
		return res{strings.Join(ds, " "), wr.Result, wr.PreviousResult}
	}
	w1, w2 := q.Workers[0], q.Workers[1]
	if w1.WorkerID != m.w1.ID {
		w1, w2 = w2, w1
	}
	want1 := res{"quality(quality=0.000/3:fail):fail efficiency(onTimeRate=0.286/7:fail earlyLeaveRate=0.333/3:fail):fail satisfaction(avgScore=4.333/2:no_data):no_data", "fail", "fail"}
	if g := got(w1); g != want1 || !w1.SecondFailureInRow || w1.PreviousQuarter != "2037-Q3" {
		t.Fatalf("w1\n got %+v %v\nwant %+v", g, w1.SecondFailureInRow, want1)
	}
	want2 := res{"quality(quality=0.000/0:no_data):no_data efficiency(onTimeRate=0.000/1:no_data earlyLeaveRate=0.000/0:no_data):no_data satisfaction(avgScore=0.000/0:no_data):no_data", "no_data", "no_data"}
	if g := got(w2); g != want2 || w2.SecondFailureInRow {
		t.Fatalf("w2\n got %+v\nwant %+v", g, want2)
	}

	csvBody := string(f.do("GET", "/v1/reports/quarterly?quarter=2037-Q4&format=csv", nil, m.admin).want(200).body)
	recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "quarter" || recs[0][len(recs[0])-1] != "secondFailureInRow" {
		t.Fatalf("csv %v:\n%s", err, csvBody)
	}
	if !strings.Contains(csvBody, "2037-Q4,team-1,"+m.w1.ID+","+m.w1.Name+",0.000,0.900,fail,fail,0.286,0.900,fail,0.333,0.100,fail,fail,4.333,4.000,no_data,no_data,fail,2037-Q3,fail,true") {
		t.Fatalf("csv:\n%s", csvBody)
	}

	// Reproducible: the past quarter asked again in 2038 is the same.
	f.clock.Add(60 * 24 * time.Hour)
	admin := f.login("admin.o", "office").AccessToken
	var later office.QuarterlyReview
	f.do("GET", "/v1/reports/quarterly?quarter=2037-Q4", nil, admin).want(200).decode(&later)
	if !reflect.DeepEqual(later, q) {
		t.Fatalf("a past quarter changed:\n%+v\n%+v", later, q)
	}

	// The thresholds are the company's to set.
	th := office.DefaultReviewThresholds
	th.MinSample = 2
	f.office.SetFiguresConfig(office.FiguresConfig{EarlyLeaveSlack: 15 * time.Minute, Review: th})
	f.do("GET", "/v1/reports/quarterly?quarter=2037-Q4", nil, admin).want(200).decode(&later)
	for _, wr := range later.Workers {
		if wr.WorkerID == m.w1.ID && (wr.Dimensions[2].Result != office.ResultPass || wr.Result != office.ResultFail) {
			t.Fatalf("with a sample of 2: %+v", wr)
		}
	}
	f.do("GET", "/v1/reports/quarterly?quarter=2037-Q5", nil, admin).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/quarterly?quarter=2037-4", nil, admin).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/quarterly?format=pdf", nil, admin).wantError(400, schemas.EINVALID)
	f.do("GET", "/v1/reports/quarterly", nil, f.login("cu.one", "x").AccessToken).wantError(403, schemas.EFORBIDDEN)
}

// TestWorkerRatingFromSignOffs: w1's rating counts the trusted ratings of
// A (app, score 14/3, at the 27th 18:00) and F (presence code, score 4,
// the 26th 17:01), not B's self-entered one. As of A's sign-off, F weighs
// 2^(-1499 min / 90 days) = 0.99201, and the prior is 3 ratings of 4.0:
// (12 + 14/3 + 0.99201*4) / (3 + 1 + 0.99201) = 4.1336 -> 4.13. (Counting
// B would give 3.94.) Customers see it on their visits, and computing it
// again, later, changes nothing.
func TestWorkerRatingFromSignOffs(t *testing.T) {
	m := newFiguresMonth(t)
	f := m.f
	var w schemas.Worker
	f.do("GET", "/v1/workers/"+m.w1.ID, nil, m.admin).want(200).decode(&w)
	if w.Rating != 4.13 || w.RatingCount != 2 {
		t.Fatalf("rating %v of %d", w.Rating, w.RatingCount)
	}
	var cv struct {
		Worker struct {
			Rating float64 `json:"rating"`
		} `json:"worker"`
	}
	f.accept(m.w1.ID, m.r.ID)
	f.do("GET", "/v1/visits/"+m.r.ID, nil, m.cu1).want(200).decode(&cv)
	if cv.Worker.Rating != 4.13 {
		t.Fatalf("customer sees %v", cv.Worker.Rating)
	}
	f.clock.Add(300 * 24 * time.Hour)
	if err := f.office.RefreshRating(t.Context(), m.w1.ID); err != nil {
		t.Fatal(err)
	}
	var again schemas.Worker
	f.do("GET", "/v1/workers/"+m.w1.ID, nil, f.login("admin.o", "office").AccessToken).want(200).decode(&again)
	if again.Rating != 4.13 || again.Version != w.Version {
		t.Fatalf("recomputed later: %v (version %d, was %d)", again.Rating, again.Version, w.Version)
	}
}

// TestRatingConcurrentSignOffs: the customer signs off four visits of one
// worker at once in the app. Each sign-off recomputes the worker's rating;
// whatever the interleaving, the stored rating counts all four.
func TestRatingConcurrentSignOffs(t *testing.T) {
	storetest.NeedsIsolation(t)
	w := newWorld(t)
	f := w.f
	sh, _ := time.LoadLocation("Asia/Shanghai")
	var vs []*office.VisitView
	for day := 25; day <= 28; day++ {
		v, err := f.office.CreateVisit(t.Context(), sysAdmin, schemas.NewVisit{CustomerID: w.c1.ID, AddressID: w.c1.Addresses[0].ID, ServiceTypeID: w.st.ID,
			ScheduledStart: time.Date(2037, 11, day, 9, 0, 0, 0, sh), WorkerID: w.w1.ID})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	w = refreshTokensAfter(t, w, time.Date(2037, 11, 28, 18, 0, 0, 0, sh))
	p := w.phone("wk.one", "phone-1")
	var ops []opSpec
	for _, v := range vs {
		ops = append(ops, opSpec{fsync.KindCheckIn, v.ID, v.ScheduledStart, map[string]any{"location": near}},
			opSpec{fsync.KindCheckOut, v.ID, v.ScheduledStart.Add(3 * time.Hour), map[string]any{"location": near}})
	}
	p.mustPush(p.ops(ops...))
	done := make(chan int, len(vs))
	for i, v := range vs {
		body := map[string]any{"opId": f.newID(), "signerName": "林先生", "items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}},
			"rating": map[string]any{"attitude": 5 - i, "quality": 5 - i, "efficiency": 5 - i, "price": 3}}
		go func() { done <- f.do("POST", "/v1/visits/"+v.ID+"/signoff", body, w.cu1).status }()
	}
	for range vs {
		if s := <-done; s != 200 {
			t.Fatalf("sign-off: %d", s)
		}
	}
	// All four at the same instant: (12 + 5 + 4 + 3 + 2) / 7 = 3.71.
	var got schemas.Worker
	f.do("GET", "/v1/workers/"+w.w1.ID, nil, w.admin).want(200).decode(&got)
	if got.Rating != 3.71 || got.RatingCount != 4 {
		t.Fatalf("rating %v of %d", got.Rating, got.RatingCount)
	}
}
