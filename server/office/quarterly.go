package office

import (
	"context"
	"fmt"
	"sort"
	"time"

	"fieldsync/schemas"
)

// ReviewThresholds are the company's pass marks of the quarterly review,
// one or two per dimension of its assessment (服务质量, 工作效率, 客户满意度).
type ReviewThresholds struct {
	MinQuality    float64 `json:"minQuality"`    // 1 - (disputes + complaints) / visits done, at least
	MinOnTime     float64 `json:"minOnTime"`     // on-time rate, missed visits counted, at least
	MaxEarlyLeave float64 `json:"maxEarlyLeave"` // early leaves / visits done, at most
	MinRating     float64 `json:"minRating"`     // mean score of the quarter's trusted ratings, at least
	MinSample     int     `json:"minSample"`     // fewer observations than this: no_data, neither pass nor fail
}

// DefaultReviewThresholds are the defaults of REVIEW_* (see README).
var DefaultReviewThresholds = ReviewThresholds{MinQuality: 0.9, MinOnTime: 0.9, MaxEarlyLeave: 0.1, MinRating: 4.0, MinSample: 3}

// Review results.
const (
	ResultPass   = "pass"
	ResultFail   = "fail"
	ResultNoData = "no_data"
)

// ReviewCheck is one figure beside its threshold.
type ReviewCheck struct {
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Rule      string  `json:"rule"`  // min or max
	Basis     int     `json:"basis"` // the observations behind the value
	Result    string  `json:"result"`
}

// ReviewDimension is one dimension of the assessment: it fails when any
// of its checks fails, has no data when none has.
type ReviewDimension struct {
	Dimension string        `json:"dimension"` // quality, efficiency, satisfaction
	Checks    []ReviewCheck `json:"checks"`
	Result    string        `json:"result"`
}

// WorkerReview is one worker's quarter.
type WorkerReview struct {
	WorkerID           string            `json:"workerId"`
	Name               string            `json:"name"`
	Team               string            `json:"team"`
	Figures            WorkerFigures     `json:"figures"`
	Dimensions         []ReviewDimension `json:"dimensions"`
	Result             string            `json:"result"` // fail if a dimension failed; no_data if none had data
	PreviousQuarter    string            `json:"previousQuarter"`
	PreviousResult     string            `json:"previousResult"`
	SecondFailureInRow bool              `json:"secondFailureInRow"` // failed this quarter and the one before (连续两次考核不达标)
}

// QuarterlyReview is the review of every worker with records in the
// quarter, each beside their previous quarter.
type QuarterlyReview struct {
	Quarter    string           `json:"quarter"` // 2037-Q4, in the company's zone
	From       time.Time        `json:"from"`
	To         time.Time        `json:"to"`
	Thresholds ReviewThresholds `json:"thresholds"`
	Workers    []WorkerReview   `json:"workers"`
}

// QuarterOf names the quarter holding t in the company's zone.
func QuarterOf(t time.Time) string {
	t = t.In(companyZone())
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

func parseQuarter(q string) (time.Time, error) {
	var y, n int
	if _, err := fmt.Sscanf(q, "%4d-Q%1d", &y, &n); err != nil || n < 1 || n > 4 || len(q) != 7 {
		return time.Time{}, schemas.FieldError("quarter", "quarter must look like 2026-Q4")
	}
	return time.Date(y, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, companyZone()), nil
}

// Review computes the quarterly review (admins any team or all,
// supervisors theirs) from the records and the clock only.
func (s *Service) QuarterReview(ctx context.Context, a *schemas.Actor, quarter, team string) (*QuarterlyReview, error) {
	team, err := reportTeam(a, team)
	if err != nil {
		return nil, err
	}
	first, err := parseQuarter(quarter)
	if err != nil {
		return nil, err
	}
	prevFirst := first.AddDate(0, -3, 0)
	cur, err := s.loadPeriod(ctx, team, first, first.AddDate(0, 3, 0))
	if err != nil {
		return nil, err
	}
	prev, err := s.loadPeriod(ctx, team, prevFirst, first)
	if err != nil {
		return nil, err
	}
	th := s.figures.Review
	curRep, prevRep := s.figuresOf(ctx, cur), s.figuresOf(ctx, prev)
	prevOf := map[string]WorkerFigures{}
	for _, f := range prevRep.Workers {
		prevOf[f.WorkerID] = f
	}
	out := &QuarterlyReview{Quarter: quarter, From: cur.from, To: cur.to, Thresholds: th, Workers: []WorkerReview{}}
	for _, f := range curRep.Workers {
		r := WorkerReview{WorkerID: f.WorkerID, Name: f.Name, Team: f.Team, Figures: f, PreviousQuarter: QuarterOf(prevFirst)}
		r.Dimensions, r.Result = Assess(f, th)
		r.PreviousResult = ResultNoData
		if p, ok := prevOf[f.WorkerID]; ok {
			_, r.PreviousResult = Assess(p, th)
		}
		r.SecondFailureInRow = r.Result == ResultFail && r.PreviousResult == ResultFail
		out.Workers = append(out.Workers, r)
	}
	sort.Slice(out.Workers, func(i, j int) bool { return out.Workers[i].WorkerID < out.Workers[j].WorkerID })
	return out, nil
}

// assess puts a period's figures beside the thresholds.
func Assess(f WorkerFigures, th ReviewThresholds) ([]ReviewDimension, string) {
	check := func(metric string, value, threshold float64, rule string, basis int) ReviewCheck {
		c := ReviewCheck{Metric: metric, Value: round3(value), Threshold: threshold, Rule: rule, Basis: basis, Result: ResultPass}
		switch {
		case basis < th.MinSample || basis == 0:
			c.Result = ResultNoData
		case rule == "min" && c.Value < threshold, rule == "max" && c.Value > threshold:
			c.Result = ResultFail
		}
		return c
	}
	quality := 0.0
	if f.VisitsDone > 0 {
		quality = max(0, 1-float64(f.Disputes+f.Complaints)/float64(f.VisitsDone))
	}
	dims := []ReviewDimension{
		{Dimension: "quality", Checks: []ReviewCheck{check("quality", quality, th.MinQuality, "min", f.VisitsDone)}},
		{Dimension: "efficiency", Checks: []ReviewCheck{
			check("onTimeRate", f.OnTimeRate, th.MinOnTime, "min", f.VisitsDue),
			check("earlyLeaveRate", ratio(f.EarlyLeaves, f.VisitsDone), th.MaxEarlyLeave, "max", f.VisitsDone)}},
		{Dimension: "satisfaction", Checks: []ReviewCheck{check("avgScore", f.AvgScore, th.MinRating, "min", f.Rated)}},
	}
	overall := ResultNoData
	for i := range dims {
		d := &dims[i]
		d.Result = ResultNoData
		for _, c := range d.Checks {
			if c.Result == ResultFail {
				d.Result = ResultFail
			} else if c.Result == ResultPass && d.Result == ResultNoData {
				d.Result = ResultPass
			}
		}
		if d.Result == ResultFail {
			overall = ResultFail
		} else if d.Result == ResultPass && overall == ResultNoData {
			overall = ResultPass
		}
	}
	return dims, overall
}
