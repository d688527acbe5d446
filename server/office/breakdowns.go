package office

import (
	"context"
	"math"
	"sort"

	"fieldsync/schemas"
)

// Breakdowns show where a month's complaints and ratings come from, to
// find the weak spots of the service (找出服务流程中的薄弱环节). They
// read the same records as the month's report.
type Breakdowns struct {
	Month                   string        `json:"month"`
	Complaints              int           `json:"complaints"` // received in the month; each list below sums to it
	ComplaintsByCategory    []Count       `json:"complaintsByCategory"`
	ComplaintsByServiceType []Count       `json:"complaintsByServiceType"` // key "none": about no visit
	ComplaintsByWorker      []Count       `json:"complaintsByWorker"`      // key "none": naming no worker
	RatingsByServiceType    []RatingGroup `json:"ratingsByServiceType"`    // visits of the month with a rating
}

// Count is how many records share a key, most first.
type Count struct {
	Key   string `json:"key"`
	Name  string `json:"name,omitempty"`
	Count int    `json:"count"`
}

// RatingGroup is the ratings of one service type, trusted and
// self-entered apart.
type RatingGroup struct {
	ServiceTypeID       string  `json:"serviceTypeId"`
	Name                string  `json:"name"`
	Rated               int     `json:"rated"`
	AvgScore            float64 `json:"avgScore"`
	SelfEntered         int     `json:"selfEntered"`
	SelfEnteredAvgScore float64 `json:"selfEnteredAvgScore"`
}

// None is the key of complaints about no visit or naming no worker.
const None = "none"

// MonthBreakdowns computes a month's breakdowns (admins any team or all,
// supervisors theirs).
func (s *Service) MonthBreakdowns(ctx context.Context, a *schemas.Actor, month, team string) (*Breakdowns, error) {
	r, err := s.loadMonth(ctx, a, month, team)
	if err != nil {
		return nil, err
	}
	out := &Breakdowns{Month: month, Complaints: len(r.complaints)}
	visits := map[string]*schemas.Visit{}
	for i := range r.visits {
		visits[r.visits[i].ID] = &r.visits[i]
	}
	// A complaint of the month may be about a visit of an earlier month.
	var missing []string
	for _, c := range r.complaints {
		if c.VisitID != "" && visits[c.VisitID] == nil {
			missing = append(missing, c.VisitID)
		}
	}
	if len(missing) > 0 {
		more, err := s.db.Visits.GetMany(ctx, missing)
		if err != nil {
			return nil, err
		}
		for i := range more {
			visits[more[i].ID] = &more[i]
		}
	}
	serviceName := func(id string) string {
		if st, err := s.serviceType(ctx, id); err == nil {
			return st.Name
		}
		return ""
	}
	byCat, bySvc, byWorker := map[string]int{}, map[string]int{}, map[string]int{}
	for _, c := range r.complaints {
		byCat[c.Category]++
		svc := None
		if v := visits[c.VisitID]; v != nil {
			svc = v.ServiceTypeID
		}
		bySvc[svc]++
		w := None
		if c.WorkerID != "" {
			w = c.WorkerID
		}
		byWorker[w]++
	}
	out.ComplaintsByCategory = counts(byCat, func(string) string { return "" })
	out.ComplaintsByServiceType = counts(bySvc, serviceName)
	out.ComplaintsByWorker = counts(byWorker, func(id string) string {
		if w, err := s.worker(ctx, id); err == nil {
			return w.Name
		}
		return ""
	})
	groups := map[string]*WorkerFigures{}
	for i := range r.visits {
		v := &r.visits[i]
		if v.Field.SignOff == nil || v.Field.SignOff.Rating == nil {
			continue
		}
		g := groups[v.ServiceTypeID]
		if g == nil {
			g = &WorkerFigures{}
			groups[v.ServiceTypeID] = g
		}
		s.addVisit(g, v, s.now())
	}
	out.RatingsByServiceType = []RatingGroup{}
	for id, g := range groups {
		g.finish()
		out.RatingsByServiceType = append(out.RatingsByServiceType, RatingGroup{ServiceTypeID: id, Name: serviceName(id),
			Rated: g.Rated, AvgScore: g.AvgScore, SelfEntered: g.SelfEntered, SelfEnteredAvgScore: g.SelfEnteredAvgScore})
	}
	sort.Slice(out.RatingsByServiceType, func(i, j int) bool {
		return out.RatingsByServiceType[i].ServiceTypeID < out.RatingsByServiceType[j].ServiceTypeID
	})
	return out, nil
}

// counts lists m most first, then by key.
func counts(m map[string]int, name func(string) string) []Count {
	out := []Count{}
	for k, n := range m {
		c := Count{Key: k, Count: n}
		if k != None {
			c.Name = name(k)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Trends are a team's (or the company's) totals month by month.
type Trends struct {
	From   string       `json:"from"`
	To     string       `json:"to"`
	Months []TrendMonth `json:"months"`
}

// TrendMonth is one month's totals and what changed since the month
// before (0 for the first month asked for).
type TrendMonth struct {
	Month               string        `json:"month"`
	Total               WorkerFigures `json:"total"`
	ComplaintAttainment float64       `json:"complaintAttainment"`
	OnTimeRateChange    float64       `json:"onTimeRateChange"`
	AvgScoreChange      float64       `json:"avgScoreChange"`
	ComplaintsChange    int           `json:"complaintsChange"`
}

// MaxTrendMonths bounds a trend request.
const MaxTrendMonths = 24

// MonthTrends computes the totals of each month from..to (inclusive).
func (s *Service) MonthTrends(ctx context.Context, a *schemas.Actor, from, to, team string) (*Trends, error) {
	team, err := reportTeam(a, team)
	if err != nil {
		return nil, err
	}
	first, err := parseMonth("from", from)
	if err != nil {
		return nil, err
	}
	last, err := parseMonth("to", to)
	if err != nil {
		return nil, err
	}
	n := (last.Year()-first.Year())*12 + int(last.Month()-first.Month()) + 1
	if n < 1 || n > MaxTrendMonths {
		return nil, schemas.FieldError("to", "to must be from 0 to %d months after from", MaxTrendMonths-1)
	}
	out := &Trends{From: from, To: to, Months: []TrendMonth{}}
	for m := first; !m.After(last); m = m.AddDate(0, 1, 0) {
		r, err := s.loadPeriod(ctx, team, m, m.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		rep := s.figuresOf(ctx, r)
		tm := TrendMonth{Month: m.Format("2006-01"), Total: rep.Total, ComplaintAttainment: rep.ComplaintAttainment}
		if k := len(out.Months); k > 0 {
			prev := out.Months[k-1].Total
			tm.OnTimeRateChange = round3(tm.Total.OnTimeRate - prev.OnTimeRate)
			tm.AvgScoreChange = round3(tm.Total.AvgScore - prev.AvgScore)
			tm.ComplaintsChange = tm.Total.Complaints - prev.Complaints
		}
		out.Months = append(out.Months, tm)
	}
	return out, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
