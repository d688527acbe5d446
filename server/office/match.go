package office

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Reason is one constraint checked for a candidate.
type Reason struct {
	Code   string  `json:"code"`
	Hard   bool    `json:"hard"`   // a failed hard constraint excludes the worker
	OK     bool    `json:"ok"`     // whether the worker meets it
	Points float64 `json:"points"` // contribution to the score (soft constraints)
	Detail string  `json:"detail,omitempty"`
}

// Candidate is a worker ranked for a visit.
type Candidate struct {
	Worker   schemas.PublicWorker `json:"worker"`
	Team     string               `json:"team"`
	Eligible bool                 `json:"eligible"`
	Score    float64              `json:"score"`
	Reasons  []Reason             `json:"reasons"`
}

// MatchInput is everything ranking needs; Rank does no I/O.
type MatchInput struct {
	Visit    *schemas.Visit
	Service  *schemas.ServiceType
	Customer *schemas.Customer
	Workers  []schemas.Worker
	Busy     map[string][]schemas.Visit // other visits of each worker around the visit
	Buffer   time.Duration              // kept free before and after each visit
}

// Rank scores every worker for the visit. Hard constraints (those of
// assignment, schemas.Rules: active, certificates valid on the visit's
// date, background check, days off, no visit within the travel buffer, the
// household's do-not-send list and required gender; and skills and
// working hours) exclude, with the reason; soft ones
// (customer's preferences, rating, distance) order. Eligible workers come
// first by score, then the excluded ones so the dispatcher sees why.
func Rank(in MatchInput) []Candidate {
	out := make([]Candidate, 0, len(in.Workers))
	for i := range in.Workers {
		w := &in.Workers[i]
		var rs []Reason
		hard := func(code string, ok bool, detail string) {
			rs = append(rs, Reason{Code: code, Hard: true, OK: ok, Detail: detail})
		}
		soft := func(code string, ok bool, points float64, detail string) {
			rs = append(rs, Reason{Code: code, OK: ok, Points: math.Round(points*10) / 10, Detail: detail})
		}

		// The hard constraints of assignment (schemas.Rules), with the
		// skills and working hours that matching also requires, in order.
		as := &schemas.Assignment{Worker: w, Customer: in.Customer, Service: in.Service, Visit: in.Visit, Busy: in.Busy[w.ID], Buffer: in.Buffer}
		for _, r := range schemas.Rules {
			ok, detail := r.Check(as)
			hard(r.Code, ok, detail)
			switch r.Code {
			case schemas.ConstraintActive:
				var missing []schemas.Skill
				for _, sk := range in.Service.RequiredSkills {
					if !w.HasSkill(sk) {
						missing = append(missing, sk)
					}
				}
				hard("skills", len(missing) == 0, detailList("missing", missing))
			case schemas.ConstraintDayOff:
				inHours, hoursDetail := withinHours(w, in.Visit)
				hard("working_hours", inHours, hoursDetail)
			}
		}

		p := in.Customer.Preferences
		if p.WorkerGender != "" {
			ok := w.Gender == p.WorkerGender
			soft("preferred_gender", ok, ifElse(ok, 20, -20), string(p.WorkerGender))
		}
		if p.Language != "" {
			ok := slices.Contains(w.Languages, p.Language)
			soft("preferred_language", ok, ifElse(ok, 15, -15), p.Language)
		}
		if p.MinExperienceYears > 0 {
			ok := w.ExperienceYears >= p.MinExperienceYears
			soft("experience", ok, ifElse(ok, 10, -10), fmt.Sprintf("%d of %d years", w.ExperienceYears, p.MinExperienceYears))
		}
		soft("rating", w.Rating > 0, w.Rating*6, fmt.Sprintf("%.1f", w.Rating))
		km := schemas.DistanceMeters(w.Home, in.Visit.Address.Location) / 1000
		soft("distance", km <= 10, -math.Min(km, 30), fmt.Sprintf("%.1f km", km))
		if w.ID == in.Visit.WorkerID {
			soft("current_worker", true, 5, "keeps continuity")
		}

		c := Candidate{Worker: w.Public(), Team: w.Team, Eligible: true, Reasons: rs}
		for _, r := range rs {
			if r.Hard && !r.OK {
				c.Eligible = false
			}
			c.Score += r.Points
		}
		c.Score = math.Round(c.Score*10) / 10
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Eligible != out[j].Eligible {
			return out[i].Eligible
		}
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Worker.ID < out[j].Worker.ID
	})
	return out
}

func ifElse(ok bool, a, b float64) float64 {
	if ok {
		return a
	}
	return b
}

func detailList[T ~string](prefix string, xs []T) string {
	if len(xs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %v", prefix, xs)
}

// withinHours checks the visit against the worker's hours, in the worker's
// zone (whether it is a working day at all is the day_off constraint).
func withinHours(w *schemas.Worker, v *schemas.Visit) (bool, string) {
	loc, err := schemas.LoadZone(w.TimeZone)
	if err != nil {
		return false, "unknown zone"
	}
	s, e := v.ScheduledStart.In(loc), v.ScheduledEnd.In(loc)
	from, _ := w.WorkingHours.Start.Minutes("")
	to, _ := w.WorkingHours.End.Minutes("")
	startMin := s.Hour()*60 + s.Minute()
	endMin := startMin + int(e.Sub(s).Minutes())
	if startMin < from || endMin > to {
		return false, fmt.Sprintf("%s-%s outside %s-%s", s.Format("15:04"), e.Format("15:04"), w.WorkingHours.Start, w.WorkingHours.End)
	}
	return true, ""
}

// Candidates ranks the workers the actor may assign for a visit.
func (s *Service) Candidates(ctx context.Context, a *schemas.Actor, visitID string) ([]Candidate, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	v, err := s.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	if !canManageVisit(a, v) {
		return nil, errNotFound("visit")
	}
	st, err := s.serviceType(ctx, v.ServiceTypeID)
	if err != nil {
		return nil, err
	}
	c, err := s.customer(ctx, v.CustomerID)
	if err != nil {
		return nil, err
	}
	f := store.WorkerFilter{Status: schemas.WorkerActive}
	if a.Role == schemas.RoleSupervisor {
		f.Team = a.Team
	}
	workers, err := s.allWorkers(ctx, f)
	if err != nil {
		return nil, err
	}
	// One query for everyone's visits around this one.
	around, err := s.db.Visits.List(ctx, store.VisitFilter{From: v.ScheduledStart.Add(-24*time.Hour - s.buffer), To: v.ScheduledEnd.Add(s.buffer)})
	if err != nil {
		return nil, err
	}
	busy := map[string][]schemas.Visit{}
	for _, o := range around {
		if o.WorkerID != "" {
			busy[o.WorkerID] = append(busy[o.WorkerID], o)
		}
	}
	return Rank(MatchInput{Visit: v, Service: st, Customer: c, Workers: workers, Busy: busy, Buffer: s.buffer}), nil
}
