package office

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
	fsync "fieldsync/sync"
)

// Rating provenance: who entered the rating of a sign-off.
const (
	// RatingTrusted is a rating given in the customer's own app, or on the
	// worker's phone with a valid presence code on the visit or a
	// signature image.
	RatingTrusted = "trusted"
	// RatingSelfEntered is a rating entered on the worker's phone with
	// only a typed name: the worker may have typed it.
	RatingSelfEntered = "self_entered"
)

// RatingProvenance says whether the customer demonstrably gave the
// visit's rating.
func RatingProvenance(v *schemas.Visit) string {
	so := v.Field.SignOff
	if so == nil {
		return ""
	}
	if so.Source == fsync.SourceCustomerApp || so.SignatureRef != "" || v.Field.CustomerConfirmed {
		return RatingTrusted
	}
	return RatingSelfEntered
}

// RatingScore is what one rating says about the worker: the mean of
// attitude, quality and efficiency. Price is left out: the company sets
// prices, not the worker.
func RatingScore(r *schemas.Rating) float64 {
	return float64(r.Attitude+r.Quality+r.Efficiency) / 3
}

// RatingConfig is how a worker's rating is computed from sign-offs.
type RatingConfig struct {
	HalfLife    time.Duration // a rating this much older than the newest weighs half
	PriorMean   float64       // what a worker with no ratings is assumed to be
	PriorWeight float64       // how many ratings the assumption is worth
}

// DefaultRatingConfig: 90 days half-life, 3 ratings' worth of 4.0.
var DefaultRatingConfig = RatingConfig{HalfLife: 90 * 24 * time.Hour, PriorMean: 4.0, PriorWeight: 3}

// RatedSignOff is one trusted rating of a worker.
type RatedSignOff struct {
	At    time.Time
	Score float64
}

// ComputeRating is a worker's rating as of asOf from their trusted
// ratings up to asOf: each weighs 0.5^(age/HalfLife), and the weighted
// mean is shrunk towards PriorMean as if PriorWeight ratings of it had
// been given at asOf, so that one 5 does not make a 5.0. Rounded to two
// places; 0 (no rating yet) when there is none. It reads no clock.
func ComputeRating(rs []RatedSignOff, asOf time.Time, cfg RatingConfig) (float64, int) {
	num, den, n := cfg.PriorWeight*cfg.PriorMean, cfg.PriorWeight, 0
	for _, r := range rs {
		if r.At.After(asOf) {
			continue
		}
		w := 1.0
		if cfg.HalfLife > 0 {
			w = math.Exp2(-float64(asOf.Sub(r.At)) / float64(cfg.HalfLife))
		}
		num += w * r.Score
		den += w
		n++
	}
	if n == 0 || den == 0 {
		return 0, 0
	}
	return math.Round(num/den*100) / 100, n
}

// trustedRatings are the trusted ratings among visits, and the time of
// the newest.
func trustedRatings(vs []schemas.Visit) ([]RatedSignOff, time.Time) {
	var rs []RatedSignOff
	var newest time.Time
	for i := range vs {
		so := vs[i].Field.SignOff
		if so == nil || so.Rating == nil || RatingProvenance(&vs[i]) != RatingTrusted {
			continue
		}
		rs = append(rs, RatedSignOff{At: so.At, Score: RatingScore(so.Rating)})
		if so.At.After(newest) {
			newest = so.At
		}
	}
	return rs, newest
}

// SetRatingConfig sets how workers' ratings are computed.
func (s *Service) SetRatingConfig(c RatingConfig) { s.rating = c }

// RefreshRating recomputes a worker's stored rating from their visits'
// trusted sign-offs, as of the newest of them: the stored value depends
// on the records only, never on when it was computed.
//
// Two sign-offs of one worker may be recomputed at once. The worker is
// read before the visits and written only at the version read, and after
// a write the loop reads again: a recomputation that read the visits
// before another's sign-off landed either fails its write or sees the
// newer sign-off when it checks, so the last write always reflects every
// sign-off (and nothing is written when the value is already right).
func (s *Service) RefreshRating(ctx context.Context, workerID string) error {
	for range 20 {
		w, err := s.records.Worker(ctx, workerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		vs, err := s.db.Visits.List(ctx, store.VisitFilter{WorkerID: workerID})
		if err != nil {
			return fmt.Errorf("rating of worker %s: %w", workerID, err)
		}
		rs, newest := trustedRatings(vs)
		r, n := ComputeRating(rs, newest, s.rating)
		if w.Rating == r && w.RatingCount == n {
			return nil
		}
		w.Rating, w.RatingCount = r, n
		w.UpdatedAt = s.now().UTC()
		if err := s.records.ReplaceWorker(ctx, w, w.Version); err != nil && !errors.Is(err, store.ErrVersion) {
			return fmt.Errorf("rating of worker %s: %w", workerID, err)
		}
	}
	return fmt.Errorf("rating of worker %s: still changing after 20 rounds", workerID)
}
