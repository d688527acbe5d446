package office

import (
	"context"
	"math"
	"time"

	"fieldsync/schemas"
)

// Views: what each role sees of each record. Every JSON answer of the API
// goes through one of these (server/api/views.go picks it by record type),
// and a field appears only when the caller's view names it: the view
// structs below are the allowlists, one section per record. The office
// (admins, and supervisors within their access rules) sees whole records;
// workers and customers see what their view lists. A role with no view of
// a record gets nothing. Nested values whose every field a view shows
// (a sign-off, an address, a household) reuse the domain type; a new field
// there fails TestViewsAreAllowlists until a view decides about it.

func isOffice(a *schemas.Actor) bool {
	return a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor
}

// OfficeOnly is the view of records only the office sees (alerts,
// follow-ups, schedules, notifications, devices, figures, candidates,
// audit): the whole record for admins and supervisors, nothing for others.
func OfficeOnly[T any](a *schemas.Actor, rec T) (T, error) {
	var zero T
	if !isOffice(a) {
		return zero, forbidden()
	}
	return rec, nil
}

// Visit.

// VisitView is the office's view of a visit: the whole record.
type VisitView struct {
	schemas.Visit
}

// WorkerVisit is the assigned worker's view of a visit: the plan, the
// household inside the access window, what the phones recorded and the
// corrections of its times. Not the supervisors' review, exceptions and
// conflicts, earlier assignees or device ids.
type WorkerVisit struct {
	ID             string                       `json:"id"`
	CustomerID     string                       `json:"customerId"`
	Address        schemas.VisitAddress         `json:"address"`
	AddressHidden  bool                         `json:"addressHidden,omitempty"` // outside the access window: no text, no notes, the area only
	ServiceTypeID  string                       `json:"serviceTypeId"`
	ScheduledStart time.Time                    `json:"scheduledStart"`
	ScheduledEnd   time.Time                    `json:"scheduledEnd"`
	TimeZone       string                       `json:"timeZone"`
	WorkerID       string                       `json:"workerId"`
	Checklist      []schemas.VisitChecklistItem `json:"checklist"`
	Notes          string                       `json:"notes,omitempty"` // the office's instructions for the visit
	Status         schemas.VisitStatus          `json:"status"`
	CancelReason   string                       `json:"cancelReason,omitempty"`
	ReworkOf       string                       `json:"reworkOf,omitempty"`
	Field          WorkerField                  `json:"field"`
	Corrections    []WorkerCorrection           `json:"corrections,omitempty"`
	Version        int64                        `json:"version"`
	UpdatedAt      time.Time                    `json:"updatedAt"`
	Customer       *VisitCustomer               `json:"customer,omitempty"`
}

// WorkerField is what the worker sees of the phones' facts.
type WorkerField struct {
	EnRouteAt         *time.Time          `json:"enRouteAt,omitempty"`
	ETA               *time.Time          `json:"eta,omitempty"`
	CheckIn           *WorkerAttendance   `json:"checkIn,omitempty"`
	CheckOut          *WorkerAttendance   `json:"checkOut,omitempty"`
	Progress          []WorkerProgress    `json:"progress"`
	SignOff           *schemas.SignOff    `json:"signOff,omitempty"`
	Incidents         []string            `json:"incidents"`
	Notes             []schemas.FieldNote `json:"notes"`
	CustomerConfirmed bool                `json:"customerConfirmed"`
	// Assignment is the worker's answer to the assignment, when the
	// current assignee answered.
	Assignment *schemas.AssignmentAnswer `json:"assignment,omitempty"`
	// Escalations are the ids of the escalations raised from the visit.
	Escalations []string `json:"escalations,omitempty"`
	// ScopeChanges are the changes of scope proposed on site, with the
	// household's consent: the worker's own proposals, as recorded.
	ScopeChanges []schemas.ScopeChange `json:"scopeChanges,omitempty"`
	// CustomerAbsent is the worker's own record at the door, so a phone
	// reinstalled or a second one shows it was recorded.
	CustomerAbsent *WorkerAbsence `json:"customerAbsent,omitempty"`
	// Messages is the visit's thread with the household (texts masked).
	Messages []schemas.VisitMessage `json:"messages"`
}

// WorkerAbsence is the worker's own record that nobody answered the
// door, as the worker sees it: no device or worker id.
type WorkerAbsence struct {
	At             time.Time       `json:"at"`
	Location       *schemas.GeoFix `json:"location,omitempty"`
	WaitedMinutes  int             `json:"waitedMinutes"`
	Photos         []string        `json:"photos"`
	CalledCustomer bool            `json:"calledCustomer"`
	Text           string          `json:"text,omitempty"`
	OpID           string          `json:"opId"`
}

// WorkerAttendance is a check-in or check-out as the worker sees it.
type WorkerAttendance struct {
	At       time.Time       `json:"at"`
	DeviceAt time.Time       `json:"deviceAt"`
	Location *schemas.GeoFix `json:"location,omitempty"`
	Method   string          `json:"method"`
	Reason   string          `json:"reason,omitempty"`
	OpID     string          `json:"opId"`
}

// WorkerProgress is a checklist item's recorded state.
type WorkerProgress struct {
	ItemID string    `json:"itemId"`
	Done   bool      `json:"done"`
	At     time.Time `json:"at"`
	Photos []string  `json:"photos,omitempty"`
	OpID   string    `json:"opId"`
}

// WorkerCorrection is a supervisor's correction of the worker's times,
// with its reason and note so the worker can dispute it.
type WorkerCorrection struct {
	N          int            `json:"n"`
	Field      string         `json:"field"`
	At         time.Time      `json:"at"`
	Recorded   *time.Time     `json:"recorded,omitempty"`
	ReasonCode string         `json:"reasonCode"`
	Note       string         `json:"note,omitempty"`
	By         string         `json:"by"` // the supervisor's user id: whom the dispute answers
	CreatedAt  time.Time      `json:"createdAt"`
	Dispute    *WorkerDispute `json:"dispute,omitempty"`
}

// WorkerDispute is the worker's own objection to a correction.
type WorkerDispute struct {
	Note string    `json:"note"`
	At   time.Time `json:"at"`
}

// VisitCustomer is what the assigned worker learns about the household:
// the household only inside the access window. Never the phone: the
// worker and the household talk through the visit's messages.
type VisitCustomer struct {
	Name        string              `json:"name"`
	Household   *schemas.Household  `json:"household,omitempty"`
	Preferences schemas.Preferences `json:"preferences"`
}

// CustomerVisit is the household's view of its visit: when, who (the
// worker's public profile), how far it got and its own sign-off. Check-in
// and check-out show only the time (corrected when a supervisor corrected
// it): no position, device or note of the worker, nothing of the office's
// review, corrections or notes.
type CustomerVisit struct {
	ID             string                       `json:"id"`
	CustomerID     string                       `json:"customerId"`
	Address        schemas.VisitAddress         `json:"address"`
	ServiceTypeID  string                       `json:"serviceTypeId"`
	ScheduledStart time.Time                    `json:"scheduledStart"`
	ScheduledEnd   time.Time                    `json:"scheduledEnd"`
	TimeZone       string                       `json:"timeZone"`
	Checklist      []schemas.VisitChecklistItem `json:"checklist"`
	Status         schemas.VisitStatus          `json:"status"`
	ReworkID       string                       `json:"reworkId,omitempty"`
	ReworkOf       string                       `json:"reworkOf,omitempty"`
	Field          CustomerField                `json:"field"`
	Version        int64                        `json:"version"`
	UpdatedAt      time.Time                    `json:"updatedAt"`
	Worker         *schemas.PublicWorker        `json:"worker,omitempty"`
}

// CustomerField is what the household sees of the visit's facts.
type CustomerField struct {
	EnRouteAt         *time.Time       `json:"enRouteAt,omitempty"`
	ETA               *time.Time       `json:"eta,omitempty"`
	CheckIn           *AttendanceTime  `json:"checkIn,omitempty"`
	CheckOut          *AttendanceTime  `json:"checkOut,omitempty"`
	SignOff           *schemas.SignOff `json:"signOff,omitempty"`
	CustomerConfirmed bool             `json:"customerConfirmed"`
	// ScopeChanges are the changes of scope the household is asked about
	// or agreed to (not those it refused), without who proposed them.
	ScopeChanges []CustomerScopeChange `json:"scopeChanges,omitempty"`
}

// CustomerScopeChange is a change of scope as the household sees it.
type CustomerScopeChange struct {
	ChangeID   string               `json:"changeId"`
	Add        []schemas.ScopeAdded `json:"add"`
	Drop       []string             `json:"drop"`
	Reason     string               `json:"reason"`
	State      string               `json:"state"`
	How        string               `json:"how,omitempty"`
	At         time.Time            `json:"at"`
	AnsweredAt *time.Time           `json:"answeredAt,omitempty"`
}

// AttendanceTime is when the worker arrived or left.
type AttendanceTime struct {
	At time.Time `json:"at"`
}

// ViewVisit shapes a visit the caller may see for the caller's role, with
// the people around it; the sync engine uses it so pulls show the same.
func (s *Service) ViewVisit(ctx context.Context, a *schemas.Actor, v *schemas.Visit) (any, error) {
	if !canSeeVisit(a, v) {
		return nil, errNotFound("visit")
	}
	switch a.Role {
	case schemas.RoleAdmin, schemas.RoleSupervisor:
		return &VisitView{Visit: *v}, nil
	case schemas.RoleWorker:
		return s.workerVisit(ctx, a, v)
	case schemas.RoleCustomer:
		return s.customerVisit(ctx, v)
	}
	return nil, errNotFound("visit")
}

func (s *Service) workerVisit(ctx context.Context, a *schemas.Actor, v *schemas.Visit) (*WorkerVisit, error) {
	out := &WorkerVisit{ID: v.ID, CustomerID: v.CustomerID, Address: v.Address, ServiceTypeID: v.ServiceTypeID,
		ScheduledStart: v.ScheduledStart, ScheduledEnd: v.ScheduledEnd, TimeZone: v.TimeZone, WorkerID: v.WorkerID,
		Checklist: v.EffectiveChecklist(), Notes: v.Notes, Status: v.Status, CancelReason: v.CancelReason, ReworkOf: v.ReworkOf,
		Version: v.Version, UpdatedAt: v.UpdatedAt}
	visible := v.AddressVisibleTo(a.WorkerID, s.now())
	if !visible {
		// Outside the window the worker keeps only the area (about 1 km)
		// to plan the day, not the home.
		out.Address = schemas.VisitAddress{AddressID: v.Address.AddressID,
			Location: schemas.LatLng{Lat: math.Round(v.Address.Location.Lat*100) / 100, Lng: math.Round(v.Address.Location.Lng*100) / 100}}
		out.AddressHidden = true
	}
	f := &v.Field
	out.Field = WorkerField{EnRouteAt: f.EnRouteAt, ETA: f.ETA, CheckIn: workerAttendance(f.CheckIn), CheckOut: workerAttendance(f.CheckOut),
		Progress: make([]WorkerProgress, len(f.Progress)), SignOff: f.SignOff, Incidents: f.Incidents, Notes: f.Notes,
		CustomerConfirmed: f.CustomerConfirmed, Messages: f.Messages}
	for _, c := range f.ScopeChanges {
		c.AnsweredBy = "" // the household's account id is not the worker's to know
		if c.How == schemas.ConsentOffice {
			c.Note = "" // the office's note of who answered by phone, and how
		}
		out.Field.ScopeChanges = append(out.Field.ScopeChanges, c)
	}
	if v.Answer() != "" {
		out.Field.Assignment = f.Assignment
	}
	out.Field.Escalations = f.Escalations
	if x := f.CustomerAbsent; x != nil && x.WorkerID == a.WorkerID {
		out.Field.CustomerAbsent = &WorkerAbsence{At: x.At, Location: x.Location, WaitedMinutes: x.WaitedMinutes, Photos: x.Photos,
			CalledCustomer: x.CalledCustomer, Text: x.Text, OpID: x.OpID}
	}
	for i, p := range f.Progress {
		out.Field.Progress[i] = WorkerProgress{ItemID: p.ItemID, Done: p.Done, At: p.At, Photos: p.Photos, OpID: p.OpID}
	}
	for _, c := range v.Corrections {
		wc := WorkerCorrection{N: c.N, Field: c.Field, At: c.At, Recorded: c.Recorded, ReasonCode: c.ReasonCode, Note: c.Note, By: c.By, CreatedAt: c.CreatedAt}
		if c.Dispute != nil {
			wc.Dispute = &WorkerDispute{Note: c.Dispute.Note, At: c.Dispute.At}
		}
		out.Corrections = append(out.Corrections, wc)
	}
	c, err := s.customer(ctx, v.CustomerID)
	if err != nil {
		return nil, err
	}
	out.Customer = &VisitCustomer{Name: c.Name, Preferences: c.Preferences}
	if visible {
		h := c.Household
		out.Customer.Household = &h
	}
	return out, nil
}

func workerAttendance(at *schemas.Attendance) *WorkerAttendance {
	if at == nil {
		return nil
	}
	return &WorkerAttendance{At: at.At, DeviceAt: at.DeviceAt, Location: at.Location, Method: at.Method, Reason: at.Reason, OpID: at.OpID}
}

func (s *Service) customerVisit(ctx context.Context, v *schemas.Visit) (*CustomerVisit, error) {
	f := &v.Field
	out := &CustomerVisit{ID: v.ID, CustomerID: v.CustomerID, Address: v.Address, ServiceTypeID: v.ServiceTypeID,
		ScheduledStart: v.ScheduledStart, ScheduledEnd: v.ScheduledEnd, TimeZone: v.TimeZone, Checklist: v.EffectiveChecklist(),
		Status: v.Status, ReworkID: v.ReworkID, ReworkOf: v.ReworkOf, Version: v.Version, UpdatedAt: v.UpdatedAt,
		Field: CustomerField{EnRouteAt: f.EnRouteAt, ETA: f.ETA, SignOff: f.SignOff, CustomerConfirmed: f.CustomerConfirmed}}
	if t := v.EffectiveTime("checkIn"); t != nil {
		out.Field.CheckIn = &AttendanceTime{At: *t}
	}
	for _, c := range f.ScopeChanges {
		if c.State != schemas.ScopeRefused {
			out.Field.ScopeChanges = append(out.Field.ScopeChanges, CustomerScopeChange{ChangeID: c.ChangeID, Add: c.Add, Drop: c.Drop,
				Reason: c.Reason, State: c.State, How: c.How, At: c.At, AnsweredAt: c.AnsweredAt})
		}
	}
	if t := v.EffectiveTime("checkOut"); t != nil {
		out.Field.CheckOut = &AttendanceTime{At: *t}
	}
	// The household meets its worker once the worker has accepted the
	// assignment (the dispatcher confirms the worker's willingness first),
	// or has arrived: an app older than schemaVersion 3 never accepts.
	arrived := f.CheckIn != nil && f.CheckIn.WorkerID == v.WorkerID
	if v.WorkerID != "" && (v.Answer() == schemas.AssignmentAccepted || arrived) {
		w, err := s.worker(ctx, v.WorkerID)
		if err != nil && schemas.ErrorCode(err) != schemas.ENOTFOUND {
			return nil, err
		}
		if w != nil {
			p := w.Public()
			out.Worker = &p
		}
	}
	return out, nil
}

// Customer.

// CustomerSelf is the household's view of its own record: not the team
// that looks after it or the account it is linked to.
type CustomerSelf struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Phone       string              `json:"phone"`
	Addresses   []schemas.Address   `json:"addresses"`
	TimeZone    string              `json:"timeZone"`
	Household   schemas.Household   `json:"household"`
	Preferences schemas.Preferences `json:"preferences"`
	Locale      string              `json:"locale,omitempty"`
}

// ViewCustomer shapes a customer record: the office sees it whole, the
// household its own record; workers learn about households only through
// their visits (VisitCustomer).
func ViewCustomer(a *schemas.Actor, c *schemas.Customer) (any, error) {
	switch {
	case isOffice(a):
		return c, nil
	case a.Role == schemas.RoleCustomer && a.CustomerID != "" && a.CustomerID == c.ID:
		return &CustomerSelf{ID: c.ID, Name: c.Name, Phone: c.Phone, Addresses: c.Addresses, TimeZone: c.TimeZone,
			Household: c.Household, Preferences: c.Preferences, Locale: c.Locale}, nil
	}
	return nil, forbidden()
}

// Worker.

// WorkerSelf is a worker's view of their own record: not their
// supervisor's or account's ids, nor the record's bookkeeping.
type WorkerSelf struct {
	ID              string                  `json:"id"`
	Name            string                  `json:"name"`
	Phone           string                  `json:"phone"`
	PhotoRef        string                  `json:"photoRef,omitempty"`
	Gender          schemas.Gender          `json:"gender"`
	Languages       []string                `json:"languages"`
	Skills          []schemas.Skill         `json:"skills"`
	Certificates    []schemas.Certificate   `json:"certificates"`
	BackgroundCheck schemas.BackgroundCheck `json:"backgroundCheck"`
	ExperienceYears int                     `json:"experienceYears"`
	Team            string                  `json:"team"`
	WorkingHours    schemas.WorkingHours    `json:"workingHours"`
	DaysOff         []string                `json:"daysOff"`
	TimeZone        string                  `json:"timeZone"`
	Home            schemas.LatLng          `json:"home"`
	Status          schemas.WorkerStatus    `json:"status"`
	Rating          float64                 `json:"rating"`
}

// ViewWorker shapes a worker record: the office sees it whole, a worker
// their own; customers see workers only as the public profile on their
// visits (schemas.PublicWorker).
func ViewWorker(a *schemas.Actor, w *schemas.Worker) (any, error) {
	switch {
	case isOffice(a):
		return w, nil
	case a.Role == schemas.RoleWorker && a.WorkerID != "" && a.WorkerID == w.ID:
		return &WorkerSelf{ID: w.ID, Name: w.Name, Phone: w.Phone, PhotoRef: w.PhotoRef, Gender: w.Gender, Languages: w.Languages,
			Skills: w.Skills, Certificates: w.Certificates, BackgroundCheck: w.BackgroundCheck, ExperienceYears: w.ExperienceYears,
			Team: w.Team, WorkingHours: w.WorkingHours, DaysOff: w.DaysOff, TimeZone: w.TimeZone, Home: w.Home, Status: w.Status,
			Rating: w.Rating}, nil
	}
	return nil, forbidden()
}

// Complaint.

// CustomerComplaint is the household's view of its complaint: what it
// said, where handling stands, the remedy offered, and the steps taken;
// not the office's notes (the investigation), who in the office acted,
// the team, the worker or the SLA bookkeeping.
type CustomerComplaint struct {
	ID         string                   `json:"id"`
	VisitID    string                   `json:"visitId,omitempty"`
	Category   string                   `json:"category"`
	Text       string                   `json:"text"`
	State      string                   `json:"state"`
	ReceivedAt time.Time                `json:"receivedAt"`
	AckDueAt   time.Time                `json:"ackDueAt"` // when the company promised to answer
	AckedAt    *time.Time               `json:"ackedAt,omitempty"`
	Remedy     *schemas.Remedy          `json:"remedy,omitempty"`
	ClosedAt   *time.Time               `json:"closedAt,omitempty"`
	History    []CustomerComplaintEvent `json:"history"`
}

// CustomerComplaintEvent is a step of handling; the note only on the
// household's own steps.
type CustomerComplaintEvent struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Note   string    `json:"note,omitempty"`
}

// ViewComplaint shapes a complaint: whole for the office, the household's
// view for the customer who filed it.
func ViewComplaint(a *schemas.Actor, c *schemas.Complaint) (any, error) {
	switch {
	case isOffice(a):
		return c, nil
	case a.Role == schemas.RoleCustomer && a.CustomerID != "" && a.CustomerID == c.CustomerID:
		out := &CustomerComplaint{ID: c.ID, VisitID: c.VisitID, Category: c.Category, Text: c.Text, State: c.State,
			ReceivedAt: c.ReceivedAt, AckDueAt: c.AckDueAt, AckedAt: c.AckedAt, Remedy: c.Remedy, ClosedAt: c.ClosedAt,
			History: []CustomerComplaintEvent{}}
		for _, e := range c.History {
			if e.By == System.UserID {
				continue // escalations are the office's business
			}
			ev := CustomerComplaintEvent{At: e.At, Action: e.Action}
			if e.Role == schemas.RoleCustomer {
				ev.Note = e.Note
			}
			out.History = append(out.History, ev)
		}
		return out, nil
	}
	return nil, forbidden()
}

// Incident.

// WorkerIncident is the reporting worker's view of an incident: what they
// reported and where handling stands; not the supervisors' notes, the
// outcome they wrote or the escalation.
type WorkerIncident struct {
	ID          string    `json:"id"`
	VisitID     string    `json:"visitId"`
	Category    string    `json:"category"`
	Severity    string    `json:"severity"`
	Description string    `json:"description"`
	Photos      []string  `json:"photos"`
	At          time.Time `json:"at"`
	ReportedAt  time.Time `json:"reportedAt"`
	OpID        string    `json:"opId"`
	Status      string    `json:"status"`
}

// ViewIncident shapes an incident: whole for the office, the reporter's
// view for the worker who reported it.
func ViewIncident(a *schemas.Actor, i *schemas.Incident) (any, error) {
	switch {
	case isOffice(a):
		return i, nil
	case a.Role == schemas.RoleWorker && a.WorkerID != "" && a.WorkerID == i.WorkerID:
		return &WorkerIncident{ID: i.ID, VisitID: i.VisitID, Category: i.Category, Severity: i.Severity, Description: i.Description,
			Photos: i.Photos, At: i.At, ReportedAt: i.ReportedAt, OpID: i.OpID, Status: i.Status}, nil
	}
	return nil, forbidden()
}

// Escalation.

// WorkerEscalation is the escalating worker's view of an escalation: what
// they passed on, where it stands and the time the household was
// promised; not the supervisors' notes or the outcome they wrote.
type WorkerEscalation struct {
	ID         string     `json:"id"`
	VisitID    string     `json:"visitId"`
	Topic      string     `json:"topic"`
	Urgency    string     `json:"urgency"`
	Text       string     `json:"text"`
	Photos     []string   `json:"photos"`
	At         time.Time  `json:"at"`
	ReceivedAt time.Time  `json:"receivedAt"`
	OpID       string     `json:"opId"`
	Status     string     `json:"status"`
	PromisedBy time.Time  `json:"promisedBy"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
}

// ViewEscalation shapes an escalation: whole for the office, the
// escalating worker's view for that worker.
func ViewEscalation(a *schemas.Actor, e *schemas.Escalation) (any, error) {
	switch {
	case isOffice(a):
		return e, nil
	case a.Role == schemas.RoleWorker && a.WorkerID != "" && a.WorkerID == e.WorkerID:
		return &WorkerEscalation{ID: e.ID, VisitID: e.VisitID, Topic: e.Topic, Urgency: e.Urgency, Text: e.Text, Photos: e.Photos, At: e.At,
			ReceivedAt: e.ReceivedAt, OpID: e.OpID, Status: e.Status, PromisedBy: e.PromisedBy, ResolvedAt: e.ResolvedAt}, nil
	}
	return nil, forbidden()
}
