package office

import (
	"context"
	"math"
	"sort"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// WorkerFigures are one worker's (or, with no worker, a team's or the
// whole report's) numbers for a period, computed from the period's
// records and the clock only, so a past period gives the same numbers
// whenever it is asked for. A team row is the sum of its workers' rows,
// plus the complaints and incidents that name no worker.
type WorkerFigures struct {
	WorkerID            string  `json:"workerId,omitempty"`
	Name                string  `json:"name,omitempty"`
	Team                string  `json:"team"`
	VisitsDue           int     `json:"visitsDue"`           // checked in, or not cancelled nor the customer's no-show, and an hour past the start (or the worker's no-show)
	VisitsDone          int     `json:"visitsDone"`          // checked out
	CheckIns            int     `json:"checkIns"`            // with a check-in
	OnTime              int     `json:"onTime"`              // checked in by start + 10 min
	Missed              int     `json:"missed"`              // due and never checked in (the worker's no-shows included)
	OnTimeRate          float64 `json:"onTimeRate"`          // onTime / visitsDue: a missed visit counts against it
	EarlyLeaves         int     `json:"earlyLeaves"`         // checked out more than the slack short of the booked time
	Rated               int     `json:"rated"`               // trusted ratings (customer's app, presence code or signature): the ones that count
	AvgAttitude         float64 `json:"avgAttitude"`         // 1-5, trusted ratings
	AvgQuality          float64 `json:"avgQuality"`          // 1-5, trusted ratings
	AvgEfficiency       float64 `json:"avgEfficiency"`       // 1-5, trusted ratings
	AvgPrice            float64 `json:"avgPrice"`            // 1-5, trusted ratings
	AvgScore            float64 `json:"avgScore"`            // mean of attitude, quality and efficiency, trusted ratings
	SelfEntered         int     `json:"selfEntered"`         // ratings typed on the worker's phone with only a name: shown, not counted
	SelfEnteredAvgScore float64 `json:"selfEnteredAvgScore"` // their mean score
	Disputes            int     `json:"disputes"`            // visits whose sign-off disputed items
	Reworks             int     `json:"reworks"`             // visits that needed a rework
	Complaints          int     `json:"complaints"`          // received in the period: about the worker (rows of teams: all of the team's)
	ComplaintsNoWorker  int     `json:"complaintsNoWorker"`  // of those, naming no worker (team and total rows)
	Incidents           int     `json:"incidents"`           // that happened in the period
	NoShowsCustomer     int     `json:"noShowsCustomer"`     // marked no-show, nobody at home: not due, not against the worker
	NoShowsWorker       int     `json:"noShowsWorker"`       // marked no-show, the worker's: due and missed

	sumA, sumQ, sumE, sumP, sumSelf int
}

// MonthlyFigures is the report of one month.
type MonthlyFigures struct {
	Month   string          `json:"month"` // 2026-11, in the company's zone
	From    time.Time       `json:"from"`  // the period [from, to) every figure reads
	To      time.Time       `json:"to"`
	Workers []WorkerFigures `json:"workers"`
	Teams   []WorkerFigures `json:"teams"`
	Total   WorkerFigures   `json:"total"` // the sum of the teams
	// EarlyLeaves are the visits the rows count as early leaves.
	EarlyLeaves []EarlyLeave `json:"earlyLeaves"`
	// Complaint SLA, over the same complaints as the rows (received in
	// the month): those whose deadline has passed (or that were
	// acknowledged), and how many were acknowledged in time.
	ComplaintsDue       int     `json:"complaintsDue"`
	ComplaintsOnTime    int     `json:"complaintsOnTime"`
	ComplaintAttainment float64 `json:"complaintAttainment"`
}

// OnTimeSlack is how late a check-in may be and still count as on time.
const OnTimeSlack = 10 * time.Minute

// MissedAfter is how long after its start a visit nobody checked in to
// counts as missed: the reminder scheduler's "missed" mark.
const MissedAfter = time.Hour

// FiguresConfig holds what the figures and the quarterly review compare
// against.
type FiguresConfig struct {
	EarlyLeaveSlack time.Duration    // checked out more than this short of the booked time: an early leave
	Review          ReviewThresholds // the quarterly review's pass marks
}

// DefaultFiguresConfig: 15 minutes' slack, and the review's defaults.
var DefaultFiguresConfig = FiguresConfig{EarlyLeaveSlack: 15 * time.Minute, Review: DefaultReviewThresholds}

// SetFiguresConfig sets the early-leave slack and the review's thresholds.
func (s *Service) SetFiguresConfig(c FiguresConfig) { s.figures = c }

// reportTeam is the team a report covers: admins any (or all),
// supervisors only theirs.
func reportTeam(a *schemas.Actor, team string) (string, error) {
	switch a.Role {
	case schemas.RoleAdmin:
		return team, nil
	case schemas.RoleSupervisor:
		if a.Team == "" { // not "every team"
			return "", forbidden()
		}
		return a.Team, nil
	}
	return "", forbidden()
}

func companyZone() *time.Location {
	loc, _ := schemas.LoadZone(schemas.DefaultTimeZone)
	return loc
}

func parseMonth(field, month string) (time.Time, error) {
	first, err := time.ParseInLocation("2006-01", month, companyZone())
	if err != nil {
		return time.Time{}, schemas.FieldError(field, "%s must look like 2026-11", field)
	}
	return first, nil
}

// periodRecords are every record a report of [from, to) reads: visits
// scheduled to start in it, complaints received in it, incidents that
// happened in it. Every figure of a report is computed from one of these.
type periodRecords struct {
	from, to   time.Time
	visits     []schemas.Visit
	complaints []schemas.Complaint
	incidents  []schemas.Incident
}

// loadMonth reads the records of a month's report on the team the actor
// may see.
func (s *Service) loadMonth(ctx context.Context, a *schemas.Actor, month, team string) (*periodRecords, error) {
	team, err := reportTeam(a, team)
	if err != nil {
		return nil, err
	}
	first, err := parseMonth("month", month)
	if err != nil {
		return nil, err
	}
	return s.loadPeriod(ctx, team, first, first.AddDate(0, 1, 0))
}

func (s *Service) loadPeriod(ctx context.Context, team string, from, to time.Time) (*periodRecords, error) {
	r := &periodRecords{from: from, to: to}
	var err error
	if r.visits, err = s.db.Visits.List(ctx, store.VisitFilter{Team: team, From: from, To: to}); err != nil {
		return nil, err
	}
	incs, err := s.cases().ListIncidents(ctx, store.IncidentQuery{Team: team})
	if err != nil {
		return nil, err
	}
	for _, i := range incs.Items {
		if !i.At.Before(from) && i.At.Before(to) {
			r.incidents = append(r.incidents, i)
		}
	}
	cs, err := s.cases().ListComplaints(ctx, store.ComplaintQuery{Team: team, From: from, To: to})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		if !c.ReceivedAt.Before(from) && c.ReceivedAt.Before(to) {
			r.complaints = append(r.complaints, c)
		}
	}
	return r, nil
}

// addVisit counts one visit's facts into f.
func (s *Service) addVisit(f *WorkerFigures, v *schemas.Visit, now time.Time) {
	in := v.EffectiveTime("checkIn") // a supervisor's correction counts over the phone's time
	cancelled := v.OfficeStatus == schemas.VisitCancelled
	// A no-show stands while no check-in came after all (then the facts
	// win, as in the visit's status).
	noShow := ""
	if v.OfficeStatus == schemas.VisitNoShow && v.NoShow != nil && in == nil {
		noShow = v.NoShow.Party
	}
	switch noShow {
	case schemas.NoShowCustomer:
		f.NoShowsCustomer++
	case schemas.NoShowWorker:
		f.NoShowsWorker++
	}
	if in != nil || noShow == schemas.NoShowWorker || (!cancelled && noShow == "" && !now.Before(v.ScheduledStart.Add(MissedAfter))) {
		f.VisitsDue++
		if in == nil {
			f.Missed++
		}
	}
	if in != nil {
		f.CheckIns++
		if !in.After(v.ScheduledStart.Add(OnTimeSlack)) {
			f.OnTime++
		}
	}
	if v.Field.CheckOut != nil {
		f.VisitsDone++
	}
	if _, _, early := s.earlyLeave(v); early {
		f.EarlyLeaves++
	}
	if so := v.Field.SignOff; so != nil {
		if so.Disputed() {
			f.Disputes++
		}
		if r := so.Rating; r != nil {
			if RatingProvenance(v) == RatingTrusted {
				f.Rated++
				f.sumA, f.sumQ, f.sumE, f.sumP = f.sumA+r.Attitude, f.sumQ+r.Quality, f.sumE+r.Efficiency, f.sumP+r.Price
			} else {
				f.SelfEntered++
				f.sumSelf += r.Attitude + r.Quality + r.Efficiency
			}
		}
	}
	if v.ReworkID != "" {
		f.Reworks++
	}
}

// earlyLeave reports whether the visit was worked (check-in to check-out,
// corrected times) more than the slack short of its booked time.
func (s *Service) earlyLeave(v *schemas.Visit) (booked, worked time.Duration, early bool) {
	in, out := v.EffectiveTime("checkIn"), v.EffectiveTime("checkOut")
	if in == nil || out == nil {
		return 0, 0, false
	}
	booked, worked = v.ScheduledEnd.Sub(v.ScheduledStart), out.Sub(*in)
	return booked, worked, worked < booked-s.figures.EarlyLeaveSlack
}

// EarlyLeave flags a visit left early.
type EarlyLeave struct {
	VisitID       string `json:"visitId"`
	WorkerID      string `json:"workerId"`
	BookedMinutes int    `json:"bookedMinutes"`
	WorkedMinutes int    `json:"workedMinutes"`
}

// add sums o into f.
func (f *WorkerFigures) add(o *WorkerFigures) {
	f.VisitsDue += o.VisitsDue
	f.VisitsDone += o.VisitsDone
	f.CheckIns += o.CheckIns
	f.OnTime += o.OnTime
	f.Missed += o.Missed
	f.EarlyLeaves += o.EarlyLeaves
	f.Rated += o.Rated
	f.sumA, f.sumQ, f.sumE, f.sumP = f.sumA+o.sumA, f.sumQ+o.sumQ, f.sumE+o.sumE, f.sumP+o.sumP
	f.SelfEntered += o.SelfEntered
	f.sumSelf += o.sumSelf
	f.Disputes += o.Disputes
	f.Reworks += o.Reworks
	f.Complaints += o.Complaints
	f.ComplaintsNoWorker += o.ComplaintsNoWorker
	f.Incidents += o.Incidents
	f.NoShowsCustomer += o.NoShowsCustomer
	f.NoShowsWorker += o.NoShowsWorker
}

// Figures computes a month's report: admins for any team (or all),
// supervisors for theirs.
func (s *Service) Figures(ctx context.Context, a *schemas.Actor, month, team string) (*MonthlyFigures, error) {
	r, err := s.loadMonth(ctx, a, month, team)
	if err != nil {
		return nil, err
	}
	out := s.figuresOf(ctx, r)
	out.Month = month
	return out, nil
}

// figuresOf computes the report of the period's records.
func (s *Service) figuresOf(ctx context.Context, r *periodRecords) *MonthlyFigures {
	now := s.now()
	byWorker := map[string]*WorkerFigures{}
	teams := map[string]*WorkerFigures{}
	get := func(id, t string) *WorkerFigures {
		f := byWorker[id]
		if f == nil {
			f = &WorkerFigures{WorkerID: id, Team: t}
			byWorker[id] = f
		}
		return f
	}
	teamOf := func(t string) *WorkerFigures {
		f := teams[t]
		if f == nil {
			f = &WorkerFigures{Team: t}
			teams[t] = f
		}
		return f
	}
	out := &MonthlyFigures{From: r.from, To: r.to, Workers: []WorkerFigures{}, Teams: []WorkerFigures{}, EarlyLeaves: []EarlyLeave{}}
	for i := range r.visits {
		v := &r.visits[i]
		if v.WorkerID == "" { // a visit nobody was given is nobody's punctuality
			continue
		}
		s.addVisit(get(v.WorkerID, v.Team), v, now)
		if booked, worked, early := s.earlyLeave(v); early {
			out.EarlyLeaves = append(out.EarlyLeaves, EarlyLeave{VisitID: v.ID, WorkerID: v.WorkerID, BookedMinutes: int(booked / time.Minute), WorkedMinutes: int(worked / time.Minute)})
		}
	}
	for _, i := range r.incidents {
		if i.WorkerID != "" {
			get(i.WorkerID, i.Team).Incidents++
		} else {
			teamOf(i.Team).Incidents++
		}
	}
	for _, c := range r.complaints {
		if c.WorkerID != "" {
			get(c.WorkerID, c.Team).Complaints++
		} else {
			t := teamOf(c.Team)
			t.Complaints++
			t.ComplaintsNoWorker++
		}
		if c.AckedAt != nil || now.After(c.AckDueAt) {
			out.ComplaintsDue++
			if c.AckedAt != nil && !c.AckedAt.After(c.AckDueAt) {
				out.ComplaintsOnTime++
			}
		}
	}
	out.ComplaintAttainment = ratio(out.ComplaintsOnTime, out.ComplaintsDue)
	for _, f := range byWorker {
		if w, err := s.worker(ctx, f.WorkerID); err == nil {
			f.Name = w.Name
		}
		teamOf(f.Team).add(f)
		f.finish()
		out.Workers = append(out.Workers, *f)
	}
	for _, t := range teams {
		out.Total.add(t)
		t.finish()
		out.Teams = append(out.Teams, *t)
	}
	out.Total.finish()
	sort.Slice(out.Workers, func(i, j int) bool { return out.Workers[i].WorkerID < out.Workers[j].WorkerID })
	sort.Slice(out.Teams, func(i, j int) bool { return out.Teams[i].Team < out.Teams[j].Team })
	return out
}

func (f *WorkerFigures) finish() {
	f.OnTimeRate = ratio(f.OnTime, f.VisitsDue)
	f.AvgAttitude, f.AvgQuality = ratio(f.sumA, f.Rated), ratio(f.sumQ, f.Rated)
	f.AvgEfficiency, f.AvgPrice = ratio(f.sumE, f.Rated), ratio(f.sumP, f.Rated)
	f.AvgScore = ratio(f.sumA+f.sumQ+f.sumE, 3*f.Rated)
	f.SelfEnteredAvgScore = ratio(f.sumSelf, 3*f.SelfEntered)
}

// ratio is a/b rounded to 3 places, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*1000) / 1000
}
