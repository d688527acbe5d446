package sync

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
)

// KindEscalate passes a problem the worker cannot solve at the door to
// the office: the server opens an escalation with a promised time and
// tells the household when it will be handled.
const KindEscalate = "escalate"

// Escalation topics and urgencies (the payload's topic and urgency).
var (
	EscalationTopics    = []string{"customer_request", "scope_dispute", "access_problem", "equipment", "safety", "other"}
	EscalationUrgencies = []string{"urgent", "normal"}
)

// Default promise times: an escalation received is promised an answer
// within these (ESCALATION_URGENT, ESCALATION_NORMAL).
const (
	DefaultEscalationUrgent = time.Hour
	DefaultEscalationNormal = 4 * time.Hour
)

// AlertEscalation is the alert of an escalation received.
const AlertEscalation = "escalation"

// EscalationID is the id of the escalation an operation opened: derived,
// so applying the operation twice opens one.
func EscalationID(opID string) string {
	return uuid.NewSHA1(nsFieldsync, []byte("escalation/"+opID)).String()
}

// Teller tells a household something about its visit, once per notice
// key (the push relay).
type Teller interface {
	Tell(ctx context.Context, n schemas.CustomerNotice) error
}

// SetTeller makes the engine tell households about escalations.
func (e *Engine) SetTeller(t Teller) { e.teller = t }

// SetEscalationTimes sets how long after its receipt an urgent and a
// normal escalation are promised to be handled (<= 0: the default).
func (e *Engine) SetEscalationTimes(urgent, normal time.Duration) {
	e.escalateIn = map[string]time.Duration{"urgent": urgent, "normal": normal}
}

func (e *Engine) promiseFor(urgency string) time.Duration {
	if d := e.escalateIn[urgency]; d > 0 {
		return d
	}
	if urgency == "urgent" {
		return DefaultEscalationUrgent
	}
	return DefaultEscalationNormal
}

// checkEscalate is the escalate payload's rule.
func checkEscalate(p *Payload) error {
	switch {
	case !oneOf(p.Topic, EscalationTopics):
		return reject(RejectInvalid, "topic must be one of %s", strings.Join(EscalationTopics, ", "))
	case !oneOf(p.Urgency, EscalationUrgencies):
		return reject(RejectInvalid, "urgency must be urgent or normal")
	case strings.TrimSpace(p.Text) == "" || len([]rune(p.Text)) > 2000 || strings.ContainsRune(p.Text, 0):
		return reject(RejectInvalid, "an escalation needs a text of at most 2000 characters saying what cannot be solved")
	}
	return nil
}

// escalate folds an escalate operation: the visit lists its escalation.
func (f *folder) escalate(r *Record) {
	f.fs.Escalations = append(f.fs.Escalations, EscalationID(r.OpID))
}

// openEscalation records the escalation r opened, promised by its
// receipt (the server's clock) plus the urgency's time; alerts the team
// (high when urgent); and tells the household when it will be handled,
// in its zone. All keyed by the operation, so a retry does nothing twice.
func (e *Engine) openEscalation(ctx context.Context, v *schemas.Visit, r *Record, at time.Time) error {
	received := r.ReceivedAt
	if received.IsZero() {
		received = at
	}
	esc := &schemas.Escalation{ID: EscalationID(r.OpID), VisitID: v.ID, WorkerID: r.WorkerID, Team: v.Team, Topic: r.Payload.Topic,
		Urgency: r.Payload.Urgency, Text: r.Payload.Text, Photos: r.Payload.Photos, At: r.EffAt, ReceivedAt: received.UTC(), OpID: r.OpID,
		Status: schemas.EscalationOpen, PromisedBy: received.UTC().Add(e.promiseFor(r.Payload.Urgency)), Version: 1}
	if _, err := e.cases().RecordEscalation(ctx, esc); err != nil {
		return err
	}
	// A retry reads the stored one: its promise is the first receipt's.
	stored, err := e.cases().Escalation(ctx, esc.ID)
	if err != nil {
		return err
	}
	prio := "normal"
	if stored.Urgency == "urgent" {
		prio = "high"
	}
	detail := stored.Topic + "/" + stored.Urgency + ": promised by " + stored.PromisedBy.Format(time.RFC3339) + " (GET /v1/escalations/" + stored.ID + ")"
	if err := e.alert(ctx, v, AlertEscalation, prio, detail, stored.ID, at); err != nil {
		return err
	}
	// A cancelled visit's household, or one whose worker is no longer
	// this one, is told nothing of it: the office decides (the alert).
	if e.teller == nil || v.OfficeStatus == schemas.VisitCancelled || r.WorkerID != v.WorkerID {
		return nil
	}
	// What the household hears: that it is passed on and by when; never
	// what the worker wrote.
	return e.teller.Tell(ctx, schemas.CustomerNotice{CustomerID: v.CustomerID, Kind: "escalation_received", Key: "escalation/" + stored.ID + "/received",
		VisitID: v.ID, At: stored.PromisedBy, TimeZone: v.TimeZone, Before: stored.PromisedBy,
		Data: map[string]string{"escalationId": stored.ID, "promisedBy": stored.PromisedBy.Format(time.RFC3339)}})
}
