package office

import (
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestComputeRating checks the rating against values computed by hand
// with the defaults: half-life 90 days, a prior of 3 ratings of 4.0.
func TestComputeRating(t *testing.T) {
	asOf := time.Date(2037, 11, 24, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	fives := make([]RatedSignOff, 10)
	for i := range fives {
		fives[i] = RatedSignOff{At: asOf, Score: 5}
	}
	cases := []struct {
		name  string
		rs    []RatedSignOff
		cfg   RatingConfig
		want  float64
		count int
	}{
		{"none: no rating yet", nil, DefaultRatingConfig, 0, 0},
		{"one 5 is not a 5.0: (12+5)/4", []RatedSignOff{{asOf, 5}}, DefaultRatingConfig, 4.25, 1},
		{"one 1: (12+1)/4", []RatedSignOff{{asOf, 1}}, DefaultRatingConfig, 3.25, 1},
		{"ten 5s: (12+50)/13", fives, DefaultRatingConfig, 4.77, 10},
		{"a 2 one half-life older weighs half: (12+5+1)/4.5", []RatedSignOff{{asOf, 5}, {asOf.Add(-90 * day), 2}}, DefaultRatingConfig, 4, 2},
		{"two half-lives: (12+5+0.5)/4.25", []RatedSignOff{{asOf, 5}, {asOf.Add(-180 * day), 2}}, DefaultRatingConfig, 4.12, 2},
		{"recent low after old high: (12+0.5*5+1)/4.5", []RatedSignOff{{asOf.Add(-90 * day), 5}, {asOf, 1}}, DefaultRatingConfig, 3.44, 2},
		{"a rating after asOf does not count", []RatedSignOff{{asOf, 5}, {asOf.Add(time.Hour), 1}}, DefaultRatingConfig, 4.25, 1},
		{"no decay, no prior: the plain mean", []RatedSignOff{{asOf, 5}, {asOf.Add(-900 * day), 2}}, RatingConfig{}, 3.5, 2},
	}
	for _, c := range cases {
		got, n := ComputeRating(c.rs, asOf, c.cfg)
		if got != c.want || n != c.count {
			t.Errorf("%s: got %v of %d, want %v of %d", c.name, got, n, c.want, c.count)
		}
	}
}

func TestRatingProvenance(t *testing.T) {
	r := &schemas.Rating{Attitude: 5, Quality: 5, Efficiency: 5, Price: 5}
	cases := []struct {
		name string
		v    schemas.Visit
		want string
	}{
		{"no sign-off", schemas.Visit{}, ""},
		{"customer's app", schemas.Visit{Field: schemas.FieldState{SignOff: &schemas.SignOff{Source: "customer_app", Rating: r}}}, RatingTrusted},
		{"phone with a signature", schemas.Visit{Field: schemas.FieldState{SignOff: &schemas.SignOff{Source: "worker_device", SignatureRef: "ab12", Rating: r}}}, RatingTrusted},
		{"phone, presence code on the visit", schemas.Visit{Field: schemas.FieldState{CustomerConfirmed: true, SignOff: &schemas.SignOff{Source: "worker_device", SignerName: "林先生", Rating: r}}}, RatingTrusted},
		{"phone, a typed name only", schemas.Visit{Field: schemas.FieldState{SignOff: &schemas.SignOff{Source: "worker_device", SignerName: "林先生", Rating: r}}}, RatingSelfEntered},
	}
	for _, c := range cases {
		if got := RatingProvenance(&c.v); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestAssess(t *testing.T) {
	th := DefaultReviewThresholds
	cases := []struct {
		name   string
		f      WorkerFigures
		dims   [3]string
		result string
	}{
		{"nothing recorded", WorkerFigures{}, [3]string{ResultNoData, ResultNoData, ResultNoData}, ResultNoData},
		{"good quarter", WorkerFigures{VisitsDue: 10, VisitsDone: 10, OnTime: 10, OnTimeRate: 1, Rated: 5, AvgScore: 4.6}, [3]string{ResultPass, ResultPass, ResultPass}, ResultPass},
		{"on time 0.9 exactly passes", WorkerFigures{VisitsDue: 10, VisitsDone: 10, OnTime: 9, OnTimeRate: 0.9}, [3]string{ResultPass, ResultPass, ResultNoData}, ResultPass},
		{"one complaint in 10 visits: quality 0.9 passes", WorkerFigures{VisitsDue: 10, VisitsDone: 10, OnTimeRate: 1, Complaints: 1}, [3]string{ResultPass, ResultPass, ResultNoData}, ResultPass},
		{"two early leaves in 10: 0.2 > 0.1", WorkerFigures{VisitsDue: 10, VisitsDone: 10, OnTimeRate: 1, EarlyLeaves: 2}, [3]string{ResultPass, ResultFail, ResultNoData}, ResultFail},
		{"low trusted ratings", WorkerFigures{VisitsDue: 10, VisitsDone: 10, OnTimeRate: 1, Rated: 3, AvgScore: 3.9}, [3]string{ResultPass, ResultPass, ResultFail}, ResultFail},
		{"too few to judge", WorkerFigures{VisitsDue: 2, VisitsDone: 2, Disputes: 2}, [3]string{ResultNoData, ResultNoData, ResultNoData}, ResultNoData},
	}
	for _, c := range cases {
		dims, result := Assess(c.f, th)
		got := [3]string{dims[0].Result, dims[1].Result, dims[2].Result}
		if got != c.dims || result != c.result {
			t.Errorf("%s: %v %s, want %v %s", c.name, got, result, c.dims, c.result)
		}
	}
}

func TestParseQuarter(t *testing.T) {
	for q, want := range map[string]string{"2037-Q1": "2037-01-01", "2037-Q4": "2037-10-01"} {
		got, err := parseQuarter(q)
		if err != nil || got.Format("2006-01-02") != want || QuarterOf(got) != q {
			t.Errorf("%s: %v %v", q, got, err)
		}
	}
	for _, q := range []string{"", "2037-Q0", "2037-Q5", "2037-q1", "2037-Q12", "37-Q1", "2037Q1"} {
		if _, err := parseQuarter(q); schemas.ErrorCode(err) != schemas.EINVALID {
			t.Errorf("%q: %v", q, err)
		}
	}
}
