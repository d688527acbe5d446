package schemas

import (
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTimeZone is the zone of customers who have not said otherwise.
const DefaultTimeZone = "Asia/Shanghai"

// LatLng is a WGS-84 position.
type LatLng struct {
	Lat float64 `json:"lat" bson:"lat"`
	Lng float64 `json:"lng" bson:"lng"`
}

// Validate checks the ranges.
func (p LatLng) Validate(field string) error {
	if math.IsNaN(p.Lat) || math.IsNaN(p.Lng) || p.Lat < -90 || p.Lat > 90 || p.Lng < -180 || p.Lng > 180 {
		return FieldError(field, "%s must be a latitude in [-90, 90] and a longitude in [-180, 180]", field)
	}
	if p.Lat == 0 && p.Lng == 0 {
		return FieldError(field, "%s is missing (0,0 is not an address)", field)
	}
	return nil
}

// DistanceMeters is the great-circle distance between two positions.
func DistanceMeters(a, b LatLng) float64 {
	const r = 6371000.0
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLng := (b.Lng - a.Lng) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Gender, as workers declare it and customers may prefer it.
type Gender string

const (
	GenderFemale Gender = "female"
	GenderMale   Gender = "male"
)

// Skill is a kind of work a worker can do and a service may require.
type Skill string

const (
	SkillDailyCleaning Skill = "daily_cleaning"
	SkillDeepCleaning  Skill = "deep_cleaning"
	SkillInfantCare    Skill = "infant_care"
	SkillMaternityCare Skill = "maternity_care"
	SkillElderCare     Skill = "elder_care"
	SkillCooking       Skill = "cooking"
	SkillLaundry       Skill = "laundry"
	SkillPetCare       Skill = "pet_care"
	SkillHousekeeping  Skill = "housekeeping" // butler-style household service
)

// Skills lists the known skills.
var Skills = []Skill{SkillDailyCleaning, SkillDeepCleaning, SkillInfantCare, SkillMaternityCare,
	SkillElderCare, SkillCooking, SkillLaundry, SkillPetCare, SkillHousekeeping}

func validSkill(s Skill) bool {
	for _, x := range Skills {
		if s == x {
			return true
		}
	}
	return false
}

func validateSkills(field string, ss []Skill) error {
	if len(ss) > len(Skills) {
		return FieldError(field, "%s has too many entries", field)
	}
	for _, s := range ss {
		if !validSkill(s) {
			return FieldError(field, "unknown skill %q", s)
		}
	}
	return nil
}

// Languages workers speak and customers prefer: a short code each.
var languageCode = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)

func validateLanguages(field string, ls []string) error {
	if len(ls) > 10 {
		return FieldError(field, "%s has more than 10 entries", field)
	}
	for _, l := range ls {
		if !languageCode.MatchString(l) {
			return FieldError(field, "%q is not a language code like zh, en, yue or zh-Hans", l)
		}
	}
	return nil
}

// validateText checks an optional free text: at most max characters, no
// control characters but newlines and tabs.
func validateText(field, s string, max int) error {
	if utf8.RuneCountInString(s) > max {
		return FieldError(field, "%s must be at most %d characters", field, max)
	}
	if !utf8.ValidString(s) {
		return FieldError(field, "%s must be valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return FieldError(field, "%s must not contain control characters", field)
		}
	}
	return nil
}

func validateRequiredText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return FieldError(field, "%s is required", field)
	}
	return validateText(field, s, max)
}

func validateStrings(field string, ss []string, maxItems, maxLen int) error {
	if len(ss) > maxItems {
		return FieldError(field, "%s has more than %d entries", field, maxItems)
	}
	for _, s := range ss {
		if err := validateRequiredText(field, s, maxLen); err != nil {
			return err
		}
	}
	return nil
}

var phonePattern = regexp.MustCompile(`^\+?[0-9]{5,20}$`)

// NormalizePhone strips spaces, dashes and parentheses; it is the form
// phones are hashed in for lookup.
func NormalizePhone(p string) string {
	return strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(strings.TrimSpace(p))
}

func validatePhone(field, p string) error {
	if !phonePattern.MatchString(NormalizePhone(p)) {
		return FieldError(field, "%s must be a phone number of 5 to 20 digits, optionally with a leading +", field)
	}
	return nil
}

// LoadZone resolves an IANA zone name, "" meaning the default.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, FieldError("timeZone", "%q is not an IANA time zone like Asia/Shanghai", name)
	}
	return loc, nil
}

// Date is a calendar date "2006-01-02" in some zone.
const DateLayout = "2006-01-02"

// ParseDate parses a calendar date.
func ParseDate(field, s string) (time.Time, error) {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, FieldError(field, "%s must be a date like 2026-11-24", field)
	}
	return d, nil
}

// Clock is a local time of day "15:04".
type Clock string

// Minutes returns the minutes since midnight, or an error.
func (c Clock) Minutes(field string) (int, error) {
	t, err := time.Parse("15:04", string(c))
	if err != nil {
		return 0, FieldError(field, "%s must be a time of day like 09:30", field)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Page is the shape of every list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}
