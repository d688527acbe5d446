package app

import (
	"strings"
	"testing"
	"time"

	"fieldsync/server/office"
)

// TestFiguresConfig: the rating's weighting and the review's thresholds
// default to the office's and are read from the environment; values out
// of range are refused by name.
func TestFiguresConfig(t *testing.T) {
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rating != office.DefaultRatingConfig || cfg.Figures != office.DefaultFiguresConfig {
		t.Fatalf("defaults %+v %+v", cfg.Rating, cfg.Figures)
	}
	cfg, err = LoadConfig(env(map[string]string{"FIELDSYNC_RATING_HALF_LIFE": "720h", "FIELDSYNC_RATING_PRIOR_MEAN": "3.5", "FIELDSYNC_RATING_PRIOR_WEIGHT": "5",
		"FIELDSYNC_EARLY_LEAVE_SLACK": "30m", "FIELDSYNC_REVIEW_MIN_QUALITY": "0.8", "FIELDSYNC_REVIEW_MIN_ON_TIME": "0.95", "FIELDSYNC_REVIEW_MAX_EARLY_LEAVE": "0.05", "FIELDSYNC_REVIEW_MIN_RATING": "4.5", "FIELDSYNC_REVIEW_MIN_SAMPLE": "5"}))
	want := office.FiguresConfig{EarlyLeaveSlack: 30 * time.Minute, Review: office.ReviewThresholds{MinQuality: 0.8, MinOnTime: 0.95, MaxEarlyLeave: 0.05, MinRating: 4.5, MinSample: 5}}
	if err != nil || cfg.Rating != (office.RatingConfig{HalfLife: 720 * time.Hour, PriorMean: 3.5, PriorWeight: 5}) || cfg.Figures != want {
		t.Fatalf("read %+v %+v, %v", cfg.Rating, cfg.Figures, err)
	}
	bad := map[string]string{"FIELDSYNC_RATING_HALF_LIFE": "1m", "FIELDSYNC_RATING_PRIOR_MEAN": "6", "FIELDSYNC_RATING_PRIOR_WEIGHT": "x", "FIELDSYNC_REVIEW_MIN_QUALITY": "90", "FIELDSYNC_REVIEW_MIN_SAMPLE": "0", "FIELDSYNC_EARLY_LEAVE_SLACK": "-1m"}
	_, err = LoadConfig(env(bad))
	for k := range bad {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s accepted: %v", k, bad[k], err)
		}
	}
}
