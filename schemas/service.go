package schemas

import (
	"regexp"
	"time"
)

// ChecklistItem is one step of a service, with an id stable across edits
// so progress on a visit can be merged item by item.
type ChecklistItem struct {
	ID   string `json:"id" bson:"id"`
	Text string `json:"text" bson:"text"`
}

// PriceTier is the price of a visit of up to Minutes.
type PriceTier struct {
	Minutes    int   `json:"minutes" bson:"minutes"`
	PriceCents int64 `json:"priceCents" bson:"priceCents"`
}

// Pricing is enough to quote; settlement is outside fieldsync.
type Pricing struct {
	Currency            string      `json:"currency" bson:"currency"`
	Tiers               []PriceTier `json:"tiers" bson:"tiers"`
	PackageDiscountPct  int         `json:"packageDiscountPct" bson:"packageDiscountPct"`
	LongTermDiscountPct int         `json:"longTermDiscountPct" bson:"longTermDiscountPct"`
}

// ServiceTypeInput is what the office edits about a service.
type ServiceTypeInput struct {
	Code                 string          `json:"code" bson:"code"`
	Name                 string          `json:"name" bson:"name"`
	Description          string          `json:"description" bson:"description,omitempty" doc:"optional"`
	DefaultMinutes       int             `json:"defaultMinutes" bson:"defaultMinutes"`
	RequiredSkills       []Skill         `json:"requiredSkills" bson:"requiredSkills"`
	RequiredCertificates []string        `json:"requiredCertificates" bson:"requiredCertificates"`
	Checklist            []ChecklistItem `json:"checklist" bson:"checklist"`
	Pricing              Pricing         `json:"pricing" bson:"pricing"`
	Active               bool            `json:"active" bson:"active"`
}

// ServiceType is an entry of the service catalog.
type ServiceType struct {
	ID               string `json:"id" bson:"_id"`
	ServiceTypeInput `bson:",inline"`
	Version          int64     `json:"version" bson:"-"` // the store's
	CreatedAt        time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt" bson:"updatedAt"`
}

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// Validate checks every field.
func (s *ServiceTypeInput) Validate() error {
	if !codePattern.MatchString(s.Code) {
		return FieldError("code", "code must be 2-40 lowercase letters, digits or _, starting with a letter")
	}
	if err := ValidateName("name", s.Name); err != nil {
		return err
	}
	if err := validateText("description", s.Description, 2000); err != nil {
		return err
	}
	if s.DefaultMinutes < 15 || s.DefaultMinutes > 24*60 {
		return FieldError("defaultMinutes", "defaultMinutes must be from 15 to 1440")
	}
	if err := validateSkills("requiredSkills", s.RequiredSkills); err != nil {
		return err
	}
	if err := validateStrings("requiredCertificates", s.RequiredCertificates, 10, 40); err != nil {
		return err
	}
	if len(s.Checklist) == 0 || len(s.Checklist) > 100 {
		return FieldError("checklist", "a service has 1 to 100 checklist items")
	}
	ids := map[string]bool{}
	for _, it := range s.Checklist {
		if !codePattern.MatchString(it.ID) || ids[it.ID] {
			return FieldError("checklist.id", "checklist item ids must be distinct codes like kitchen_surfaces")
		}
		ids[it.ID] = true
		if err := validateRequiredText("checklist.text", it.Text, 300); err != nil {
			return err
		}
	}
	p := &s.Pricing
	if p.Currency == "" {
		p.Currency = "CNY"
	}
	if len(p.Currency) != 3 {
		return FieldError("pricing.currency", "pricing.currency must be a 3-letter code")
	}
	if len(p.Tiers) > 20 {
		return FieldError("pricing.tiers", "at most 20 price tiers")
	}
	prev := 0
	for _, t := range p.Tiers {
		if t.Minutes <= prev || t.PriceCents < 0 {
			return FieldError("pricing.tiers", "price tiers must have increasing minutes and non-negative prices")
		}
		prev = t.Minutes
	}
	if p.PackageDiscountPct < 0 || p.PackageDiscountPct > 90 || p.LongTermDiscountPct < 0 || p.LongTermDiscountPct > 90 {
		return FieldError("pricing", "discounts must be from 0 to 90 percent")
	}
	if s.RequiredSkills == nil {
		s.RequiredSkills = []Skill{}
	}
	if s.RequiredCertificates == nil {
		s.RequiredCertificates = []string{}
	}
	if p.Tiers == nil {
		p.Tiers = []PriceTier{}
	}
	return nil
}
