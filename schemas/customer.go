package schemas

import (
	"strings"
	"time"
)

// Address is one place a customer has work done. Text, position and access
// notes are personal data: encrypted at rest and shown to workers only
// around their visits.
type Address struct {
	ID          string `json:"id" bson:"id"`
	Label       string `json:"label,omitempty" bson:"label,omitempty"` // 家, 父母家, ...
	Text        string `json:"text" bson:"text"`
	Location    LatLng `json:"location" bson:"location"`
	AccessNotes string `json:"accessNotes,omitempty" bson:"accessNotes,omitempty"` // door codes, parking
}

// Household is what a worker must know before entering the home. All of it
// is sensitive personal information (PIPL: health, religion, minors), kept
// encrypted at rest.
type Household struct {
	Elderly      bool     `json:"elderly" bson:"elderly"`
	Infants      bool     `json:"infants" bson:"infants"`
	Pets         []string `json:"pets" bson:"pets"`
	Allergies    []string `json:"allergies" bson:"allergies"`
	Taboos       []string `json:"taboos" bson:"taboos"` // incl. religious diet
	SpecialNeeds string   `json:"specialNeeds,omitempty" bson:"specialNeeds,omitempty"`
}

// Preferences are what the customer asked for in a worker; matching uses
// them as soft constraints, except a gender marked required (many
// households need a female worker for infant or elder care), which is a
// hard one: no worker of the other gender is assigned.
type Preferences struct {
	WorkerGender         Gender `json:"workerGender,omitempty" bson:"workerGender,omitempty"`
	WorkerGenderRequired bool   `json:"workerGenderRequired,omitempty" bson:"workerGenderRequired,omitempty"`
	Language             string `json:"language,omitempty" bson:"language,omitempty"`
	MinExperienceYears   int    `json:"minExperienceYears,omitempty" bson:"minExperienceYears,omitempty"`
}

// CustomerInput is what the office edits about a customer.
type CustomerInput struct {
	Name        string      `json:"name"`
	Phone       string      `json:"phone"`
	Addresses   []Address   `json:"addresses"`
	TimeZone    string      `json:"timeZone" doc:"optional"`
	Household   Household   `json:"household"`
	Preferences Preferences `json:"preferences"`
	Team        string      `json:"team" doc:"optional"` // the office team that looks after the household
	Locale      string      `json:"locale" doc:"optional"`
	UserID      string      `json:"userId" doc:"optional"`
	// DoNotSend lists the workers the household does not want again: a
	// hard constraint of assignment. Sealed at rest and shown to the office
	// only, never to workers.
	DoNotSend []string `json:"doNotSend" doc:"optional"`
}

// Customer is a household that orders services. The store keeps its phone,
// addresses (text, position, access notes) and household profile
// encrypted; this type holds them in clear.
type Customer struct {
	ID string `json:"id"`
	CustomerInput
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks every field and fills defaults; new addresses (no id)
// get theirs from NameAddresses.
func (c *CustomerInput) Validate() error {
	if err := ValidateName("name", c.Name); err != nil {
		return err
	}
	c.Name = strings.TrimSpace(c.Name)
	if err := validatePhone("phone", c.Phone); err != nil {
		return err
	}
	c.Phone = NormalizePhone(c.Phone)
	if len(c.Addresses) == 0 || len(c.Addresses) > 10 {
		return FieldError("addresses", "a customer has 1 to 10 addresses")
	}
	ids := map[string]bool{}
	for i := range c.Addresses {
		a := &c.Addresses[i]
		if a.ID != "" && (!ValidID(a.ID) || ids[a.ID]) {
			return FieldError("addresses.id", "address ids must be distinct ids (or left out for new addresses)")
		}
		ids[a.ID] = true
		if err := validateText("addresses.label", a.Label, 40); err != nil {
			return err
		}
		if err := validateRequiredText("addresses.text", a.Text, 300); err != nil {
			return err
		}
		if err := a.Location.Validate("addresses.location"); err != nil {
			return err
		}
		if err := validateText("addresses.accessNotes", a.AccessNotes, 500); err != nil {
			return err
		}
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if _, err := LoadZone(c.TimeZone); err != nil {
		return err
	}
	h := &c.Household
	for field, list := range map[string][]string{"household.pets": h.Pets, "household.allergies": h.Allergies, "household.taboos": h.Taboos} {
		if err := validateStrings(field, list, 20, 100); err != nil {
			return err
		}
	}
	if err := validateText("household.specialNeeds", h.SpecialNeeds, 1000); err != nil {
		return err
	}
	if h.Pets == nil {
		h.Pets = []string{}
	}
	if h.Allergies == nil {
		h.Allergies = []string{}
	}
	if h.Taboos == nil {
		h.Taboos = []string{}
	}
	p := c.Preferences
	if p.WorkerGender != "" && p.WorkerGender != GenderFemale && p.WorkerGender != GenderMale {
		return FieldError("preferences.workerGender", "preferences.workerGender must be female, male or empty")
	}
	if p.WorkerGenderRequired && p.WorkerGender == "" {
		return FieldError("preferences.workerGenderRequired", "a required gender needs preferences.workerGender")
	}
	if p.Language != "" {
		if err := validateLanguages("preferences.language", []string{p.Language}); err != nil {
			return err
		}
	}
	if p.MinExperienceYears < 0 || p.MinExperienceYears > 60 {
		return FieldError("preferences.minExperienceYears", "preferences.minExperienceYears must be from 0 to 60")
	}
	if err := validateText("team", c.Team, 64); err != nil {
		return err
	}
	if err := ValidateLocale(c.Locale); err != nil {
		return err
	}
	if c.UserID != "" && !ValidID(c.UserID) {
		return FieldError("userId", "userId is not an id")
	}
	if len(c.DoNotSend) > 100 {
		return FieldError("doNotSend", "at most 100 workers not to send")
	}
	seen := map[string]bool{}
	for _, id := range c.DoNotSend {
		if !ValidID(id) || seen[id] {
			return FieldError("doNotSend", "doNotSend must list distinct worker ids")
		}
		seen[id] = true
	}
	if c.DoNotSend == nil {
		c.DoNotSend = []string{}
	}
	return nil
}

// NameAddresses gives the addresses without an id one made at now.
func (c *CustomerInput) NameAddresses(now time.Time) {
	for i := range c.Addresses {
		if c.Addresses[i].ID == "" {
			c.Addresses[i].ID = NewIDAt(now)
		}
	}
}

// Address returns the address with the id.
func (c *Customer) Address(id string) (Address, bool) {
	for _, a := range c.Addresses {
		if a.ID == id {
			return a, true
		}
	}
	return Address{}, false
}

// Zone is the customer's time zone.
func (c *Customer) Zone() *time.Location {
	loc, err := LoadZone(c.TimeZone)
	if err != nil {
		loc, _ = time.LoadLocation(DefaultTimeZone)
	}
	return loc
}
