package office

import (
	"context"
	"math"
	"sort"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// WorkerFigures are one worker's (or, with no worker, a team's) numbers
// for a month, computed from the recorded facts, so a past month gives the
// same numbers whenever it is asked for.
type WorkerFigures struct {
	WorkerID               string  `json:"workerId,omitempty"`
	Name                   string  `json:"name,omitempty"`
	Team                   string  `json:"team"`
	VisitsDone             int     `json:"visitsDone"`    // checked out
	CheckIns               int     `json:"checkIns"`      // with a check-in
	OnTime                 int     `json:"onTime"`        // checked in by start + 10 min
	OnTimeRate             float64 `json:"onTimeRate"`    // onTime / checkIns
	Rated                  int     `json:"rated"`         // sign-offs with a rating
	AvgAttitude            float64 `json:"avgAttitude"`   // 1-5
	AvgQuality             float64 `json:"avgQuality"`    // 1-5
	AvgEfficiency          float64 `json:"avgEfficiency"` // 1-5
	AvgPrice               float64 `json:"avgPrice"`      // 1-5
	Disputes               int     `json:"disputes"`      // visits whose sign-off disputed items
	Reworks                int     `json:"reworks"`       // visits that needed a rework
	Complaints             int     `json:"complaints"`    // about the worker's visits
	Incidents              int     `json:"incidents"`     // reported by the worker
	sumA, sumQ, sumE, sumP int
}

// MonthlyFigures is the report of one month.
type MonthlyFigures struct {
	Month   string          `json:"month"` // 2026-11, in the company's zone
	Workers []WorkerFigures `json:"workers"`
	Teams   []WorkerFigures `json:"teams"`
	// Complaint SLA: complaints received in the month whose deadline has
	// passed (or that were acknowledged), and how many were acknowledged in time.
	ComplaintsDue       int     `json:"complaintsDue"`
	ComplaintsOnTime    int     `json:"complaintsOnTime"`
	ComplaintAttainment float64 `json:"complaintAttainment"`
}

// OnTimeSlack is how late a check-in may be and still count as on time.
const OnTimeSlack = 10 * time.Minute

// Figures computes a month's report: admins for any team (or all),
// supervisors for theirs.
func (s *Service) Figures(ctx context.Context, a *schemas.Actor, month, team string) (*MonthlyFigures, error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		team = a.Team
	default:
		return nil, forbidden()
	}
	loc, _ := schemas.LoadZone(schemas.DefaultTimeZone)
	first, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil {
		return nil, schemas.FieldError("month", "month must look like 2026-11")
	}
	from, to := first, first.AddDate(0, 1, 0)
	vs, err := s.db.Visits.List(ctx, store.VisitFilter{Team: team, From: from, To: to})
	if err != nil {
		return nil, err
	}
	byWorker := map[string]*WorkerFigures{}
	get := func(id, t string) *WorkerFigures {
		f := byWorker[id]
		if f == nil {
			f = &WorkerFigures{WorkerID: id, Team: t}
			byWorker[id] = f
		}
		return f
	}
	visitWorker := map[string]string{}
	for i := range vs {
		v := &vs[i]
		if v.WorkerID == "" {
			continue
		}
		visitWorker[v.ID] = v.WorkerID
		f := get(v.WorkerID, v.Team)
		fs := v.Field
		if fs.CheckOut != nil {
			f.VisitsDone++
		}
		if in := v.EffectiveTime("checkIn"); in != nil { // a supervisor's correction counts over the phone's time
			f.CheckIns++
			if !in.After(v.ScheduledStart.Add(OnTimeSlack)) {
				f.OnTime++
			}
		}
		if so := fs.SignOff; so != nil {
			if so.Disputed() {
				f.Disputes++
			}
			if r := so.Rating; r != nil {
				f.Rated++
				f.sumA, f.sumQ, f.sumE, f.sumP = f.sumA+r.Attitude, f.sumQ+r.Quality, f.sumE+r.Efficiency, f.sumP+r.Price
			}
		}
		if v.ReworkID != "" {
			f.Reworks++
		}
	}
	incs, err := s.cases().ListIncidents(ctx, store.IncidentQuery{Team: team})
	if err != nil {
		return nil, err
	}
	for _, i := range incs.Items {
		if !i.At.Before(from) && i.At.Before(to) && i.WorkerID != "" {
			get(i.WorkerID, i.Team).Incidents++
		}
	}
	cs, err := s.cases().ListComplaints(ctx, store.ComplaintQuery{Team: team, From: from, To: to})
	if err != nil {
		return nil, err
	}
	out := &MonthlyFigures{Month: month, Workers: []WorkerFigures{}, Teams: []WorkerFigures{}}
	now := s.now()
	for _, c := range cs.Items {
		if c.ReceivedAt.Before(from) || !c.ReceivedAt.Before(to) {
			continue
		}
		if c.WorkerID != "" {
			get(c.WorkerID, c.Team).Complaints++
		}
		if c.AckedAt != nil || now.After(c.AckDueAt) {
			out.ComplaintsDue++
			if c.AckedAt != nil && !c.AckedAt.After(c.AckDueAt) {
				out.ComplaintsOnTime++
			}
		}
	}
	out.ComplaintAttainment = ratio(out.ComplaintsOnTime, out.ComplaintsDue)
	teams := map[string]*WorkerFigures{}
	for _, f := range byWorker {
		if w, err := s.worker(ctx, f.WorkerID); err == nil {
			f.Name = w.Name
		}
		t := teams[f.Team]
		if t == nil {
			t = &WorkerFigures{Team: f.Team}
			teams[f.Team] = t
		}
		t.VisitsDone += f.VisitsDone
		t.CheckIns += f.CheckIns
		t.OnTime += f.OnTime
		t.Rated += f.Rated
		t.sumA, t.sumQ, t.sumE, t.sumP = t.sumA+f.sumA, t.sumQ+f.sumQ, t.sumE+f.sumE, t.sumP+f.sumP
		t.Disputes += f.Disputes
		t.Reworks += f.Reworks
		t.Complaints += f.Complaints
		t.Incidents += f.Incidents
		finishFigures(f)
		out.Workers = append(out.Workers, *f)
	}
	for _, t := range teams {
		finishFigures(t)
		out.Teams = append(out.Teams, *t)
	}
	sort.Slice(out.Workers, func(i, j int) bool { return out.Workers[i].WorkerID < out.Workers[j].WorkerID })
	sort.Slice(out.Teams, func(i, j int) bool { return out.Teams[i].Team < out.Teams[j].Team })
	return out, nil
}

func finishFigures(f *WorkerFigures) {
	f.OnTimeRate = ratio(f.OnTime, f.CheckIns)
	f.AvgAttitude, f.AvgQuality = ratio(f.sumA, f.Rated), ratio(f.sumQ, f.Rated)
	f.AvgEfficiency, f.AvgPrice = ratio(f.sumE, f.Rated), ratio(f.sumP, f.Rated)
}

// ratio is a/b rounded to 3 places, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*1000) / 1000
}
