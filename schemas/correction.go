package schemas

import (
	"slices"
	"strings"
	"time"
)

// Reasons a supervisor corrects a check-in or check-out time.
var CorrectionReasons = []string{"forgot_to_check_in", "forgot_to_check_out", "device_clock", "gps_failure", "other"}

// Correction is a supervisor's correction of a check-in or check-out time.
// It sits beside what the phone recorded, which is never overwritten.
type Correction struct {
	N          int                `json:"n" bson:"n"`         // 1, 2, ... on the visit
	Field      string             `json:"field" bson:"field"` // checkIn or checkOut
	At         time.Time          `json:"at" bson:"at"`       // the corrected time
	Recorded   *time.Time         `json:"recorded,omitempty" bson:"recorded,omitempty"`
	ReasonCode string             `json:"reasonCode" bson:"reasonCode"`
	Note       string             `json:"note,omitempty" bson:"note,omitempty"`
	By         string             `json:"by" bson:"by"`
	CreatedAt  time.Time          `json:"createdAt" bson:"createdAt"`
	Dispute    *CorrectionDispute `json:"dispute,omitempty" bson:"dispute,omitempty"`
}

// CorrectionDispute is the worker's objection to a correction.
type CorrectionDispute struct {
	Note string    `json:"note" bson:"note"`
	By   string    `json:"by" bson:"by"`
	At   time.Time `json:"at" bson:"at"`
}

// NewCorrection is what a supervisor sends.
type NewCorrection struct {
	Field      string    `json:"field"`
	At         time.Time `json:"at"`
	ReasonCode string    `json:"reasonCode"`
	Note       string    `json:"note,omitempty"`
}

// Validate checks the correction.
func (c *NewCorrection) Validate() error {
	if c.Field != "checkIn" && c.Field != "checkOut" {
		return FieldError("field", "field must be checkIn or checkOut")
	}
	if c.At.IsZero() {
		return FieldError("at", "at (the corrected time) is required")
	}
	if !slices.Contains(CorrectionReasons, c.ReasonCode) {
		return FieldError("reasonCode", "reasonCode must be one of %s", strings.Join(CorrectionReasons, ", "))
	}
	if c.ReasonCode == "other" && strings.TrimSpace(c.Note) == "" {
		return FieldError("note", "say why when the reason is other")
	}
	return validateText("note", c.Note, 1000)
}

// EffectiveTime is the latest correction of the field, or what the phone
// recorded, or nil.
func (v *Visit) EffectiveTime(field string) *time.Time {
	for i := len(v.Corrections) - 1; i >= 0; i-- {
		if v.Corrections[i].Field == field {
			t := v.Corrections[i].At
			return &t
		}
	}
	var a *Attendance
	if field == "checkIn" {
		a = v.Field.CheckIn
	} else {
		a = v.Field.CheckOut
	}
	if a == nil {
		return nil
	}
	t := a.At
	return &t
}
