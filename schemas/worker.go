package schemas

import (
	"strings"
	"time"
)

// WorkerStatus is where a worker stands with the company.
type WorkerStatus string

const (
	WorkerActive    WorkerStatus = "active"
	WorkerSuspended WorkerStatus = "suspended"
	WorkerLeft      WorkerStatus = "left"
)

// BackgroundCheck statuses.
const (
	CheckPending = "pending"
	CheckPassed  = "passed"
	CheckFailed  = "failed"
)

// Certificate is a qualification with a validity period (dates, inclusive).
type Certificate struct {
	Type    string `json:"type" bson:"type"` // e.g. health, childcare, maternity_nurse, elder_care
	Number  string `json:"number" bson:"number"`
	Issued  string `json:"issued" bson:"issued"`   // 2006-01-02
	Expires string `json:"expires" bson:"expires"` // 2006-01-02
}

// ValidOn reports whether the certificate covers the calendar date.
func (c Certificate) ValidOn(date string) bool {
	return c.Issued <= date && date <= c.Expires
}

// BackgroundCheck is the outcome of the pre-employment check.
type BackgroundCheck struct {
	Status string `json:"status" bson:"status"`
	Date   string `json:"date,omitempty" bson:"date,omitempty"`
}

// WorkingHours are the days (0 = Sunday) and hours a worker takes visits,
// in the worker's zone.
type WorkingHours struct {
	Days  []int `json:"days" bson:"days"`
	Start Clock `json:"start" bson:"start"`
	End   Clock `json:"end" bson:"end"`
}

// WorkerInput is what the office edits about a worker.
type WorkerInput struct {
	Name            string          `json:"name" bson:"name"`
	Phone           string          `json:"phone" bson:"phone"`
	PhotoRef        string          `json:"photoRef" bson:"photoRef,omitempty" doc:"optional"`
	Gender          Gender          `json:"gender" bson:"gender"`
	Languages       []string        `json:"languages" bson:"languages"`
	Skills          []Skill         `json:"skills" bson:"skills"`
	Certificates    []Certificate   `json:"certificates" bson:"certificates"`
	BackgroundCheck BackgroundCheck `json:"backgroundCheck" bson:"backgroundCheck"`
	ExperienceYears int             `json:"experienceYears" bson:"experienceYears"`
	Team            string          `json:"team" bson:"team"`
	SupervisorID    string          `json:"supervisorId" bson:"supervisorId,omitempty" doc:"optional"`
	WorkingHours    WorkingHours    `json:"workingHours" bson:"workingHours"`
	DaysOff         []string        `json:"daysOff" bson:"daysOff"` // dates
	TimeZone        string          `json:"timeZone" bson:"timeZone,omitempty" doc:"optional"`
	Home            LatLng          `json:"home" bson:"home"`
	Status          WorkerStatus    `json:"status" bson:"status"`
	UserID          string          `json:"userId" bson:"userId,omitempty" doc:"optional"`
}

// Worker is a domestic worker (服务师/阿姨).
type Worker struct {
	ID          string `json:"id" bson:"_id"`
	WorkerInput `bson:",inline"`
	Rating      float64   `json:"rating" bson:"rating"`           // from trusted sign-offs, recent ones weighing more; 0 when none (office.ComputeRating)
	RatingCount int       `json:"ratingCount" bson:"ratingCount"` // trusted ratings it counts
	Version     int64     `json:"version" bson:"-"`               // the store's
	CreatedAt   time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt" bson:"updatedAt"`
}

// Validate checks every field and fills defaults.
func (w *WorkerInput) Validate() error {
	if err := ValidateName("name", w.Name); err != nil {
		return err
	}
	if err := validatePhone("phone", w.Phone); err != nil {
		return err
	}
	w.Phone = NormalizePhone(w.Phone)
	if err := validateText("photoRef", w.PhotoRef, 200); err != nil {
		return err
	}
	if w.Gender != GenderFemale && w.Gender != GenderMale {
		return FieldError("gender", "gender must be female or male")
	}
	if err := validateLanguages("languages", w.Languages); err != nil {
		return err
	}
	if err := validateSkills("skills", w.Skills); err != nil {
		return err
	}
	if len(w.Certificates) > 20 {
		return FieldError("certificates", "at most 20 certificates")
	}
	for _, c := range w.Certificates {
		if err := validateRequiredText("certificates.type", c.Type, 40); err != nil {
			return err
		}
		if err := validateText("certificates.number", c.Number, 60); err != nil {
			return err
		}
		is, err := ParseDate("certificates.issued", c.Issued)
		if err != nil {
			return err
		}
		ex, err := ParseDate("certificates.expires", c.Expires)
		if err != nil {
			return err
		}
		if ex.Before(is) {
			return FieldError("certificates.expires", "a certificate cannot expire before it is issued")
		}
	}
	switch w.BackgroundCheck.Status {
	case CheckPending, CheckPassed, CheckFailed:
	default:
		return FieldError("backgroundCheck.status", "backgroundCheck.status must be pending, passed or failed")
	}
	if w.BackgroundCheck.Date != "" {
		if _, err := ParseDate("backgroundCheck.date", w.BackgroundCheck.Date); err != nil {
			return err
		}
	}
	if w.ExperienceYears < 0 || w.ExperienceYears > 60 {
		return FieldError("experienceYears", "experienceYears must be from 0 to 60")
	}
	if err := validateRequiredText("team", w.Team, 64); err != nil {
		return err
	}
	if w.SupervisorID != "" && !ValidID(w.SupervisorID) {
		return FieldError("supervisorId", "supervisorId is not an id")
	}
	if w.UserID != "" && !ValidID(w.UserID) {
		return FieldError("userId", "userId is not an id")
	}
	if err := w.WorkingHours.validate(); err != nil {
		return err
	}
	if len(w.DaysOff) > 400 {
		return FieldError("daysOff", "at most 400 days off")
	}
	for _, d := range w.DaysOff {
		if _, err := ParseDate("daysOff", d); err != nil {
			return err
		}
	}
	if w.TimeZone == "" {
		w.TimeZone = DefaultTimeZone
	}
	if _, err := LoadZone(w.TimeZone); err != nil {
		return err
	}
	if err := w.Home.Validate("home"); err != nil {
		return err
	}
	switch w.Status {
	case "":
		w.Status = WorkerActive
	case WorkerActive, WorkerSuspended, WorkerLeft:
	default:
		return FieldError("status", "status must be active, suspended or left")
	}
	w.Name = strings.TrimSpace(w.Name)
	if w.Languages == nil {
		w.Languages = []string{}
	}
	if w.Skills == nil {
		w.Skills = []Skill{}
	}
	if w.Certificates == nil {
		w.Certificates = []Certificate{}
	}
	if w.DaysOff == nil {
		w.DaysOff = []string{}
	}
	return nil
}

func (h *WorkingHours) validate() error {
	if len(h.Days) == 0 || len(h.Days) > 7 {
		return FieldError("workingHours.days", "workingHours.days must list 1 to 7 weekdays (0 = Sunday)")
	}
	seen := map[int]bool{}
	for _, d := range h.Days {
		if d < 0 || d > 6 || seen[d] {
			return FieldError("workingHours.days", "workingHours.days must be distinct weekdays from 0 (Sunday) to 6")
		}
		seen[d] = true
	}
	s, err := h.Start.Minutes("workingHours.start")
	if err != nil {
		return err
	}
	e, err := h.End.Minutes("workingHours.end")
	if err != nil {
		return err
	}
	if e <= s {
		return FieldError("workingHours.end", "workingHours.end must be after workingHours.start")
	}
	return nil
}

// HasSkill reports whether the worker has the skill.
func (w *Worker) HasSkill(s Skill) bool {
	for _, x := range w.Skills {
		if x == s {
			return true
		}
	}
	return false
}

// CertificateOn returns whether the worker holds a certificate of the type
// valid on the date.
func (w *Worker) CertificateOn(typ, date string) bool {
	for _, c := range w.Certificates {
		if c.Type == typ && c.ValidOn(date) {
			return true
		}
	}
	return false
}

// PublicWorker is what customers may see of their worker.
type PublicWorker struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	PhotoRef        string              `json:"photoRef,omitempty"`
	Gender          Gender              `json:"gender"`
	Languages       []string            `json:"languages"`
	Skills          []Skill             `json:"skills"`
	Certificates    []PublicCertificate `json:"certificates"`
	ExperienceYears int                 `json:"experienceYears"`
	Rating          float64             `json:"rating"`
}

// PublicCertificate is a certificate as customers see it: which, and
// valid when; never its number.
type PublicCertificate struct {
	Type    string `json:"type"`
	Issued  string `json:"issued"`
	Expires string `json:"expires"`
}

// Public returns the customer-facing profile: no phone, no home, no hours.
func (w *Worker) Public() PublicWorker {
	certs := make([]PublicCertificate, len(w.Certificates))
	for i, c := range w.Certificates {
		certs[i] = PublicCertificate{Type: c.Type, Issued: c.Issued, Expires: c.Expires}
	}
	return PublicWorker{ID: w.ID, Name: w.Name, PhotoRef: w.PhotoRef, Gender: w.Gender, Languages: w.Languages,
		Skills: w.Skills, Certificates: certs, ExperienceYears: w.ExperienceYears, Rating: w.Rating}
}
