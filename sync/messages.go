package sync

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"fieldsync/schemas"
)

// KindMessage is a message of the visit's thread from the worker's phone
// (the household's come from its app, MessageFromCustomer).
const KindMessage = "message"

// RejectThreadClosed refuses a message written outside the thread's
// window, on a cancelled or no-show visit.
const RejectThreadClosed = "thread_closed"

// Bounds of one message.
const (
	MaxMessageRunes  = 1000
	MaxMessagePhotos = 3
)

// checkMessage checks a message's payload: a text, and up to three photos.
func checkMessage(p *Payload) error {
	switch {
	case strings.TrimSpace(p.Text) == "":
		return reject(RejectInvalid, "a message needs text")
	case len([]rune(p.Text)) > MaxMessageRunes || strings.ContainsRune(p.Text, 0):
		return reject(RejectInvalid, "a message's text is at most %d characters", MaxMessageRunes)
	case len(p.Photos) > MaxMessagePhotos:
		return reject(RejectInvalid, "a message has at most %d photos", MaxMessagePhotos)
	}
	return nil
}

// ThreadWindow is when a visit's thread may be written: from OpenBefore
// before the scheduled start to CloseAfter after the later of the
// scheduled end and the (corrected) check-out.
func (rules Rules) ThreadWindow(v *schemas.Visit) (opens, closes time.Time) {
	end := v.ScheduledEnd
	if t := v.EffectiveTime("checkOut"); t != nil && t.After(end) {
		end = *t
	}
	return v.ScheduledStart.Add(-rules.MessagesOpenBefore).UTC(), end.Add(rules.MessagesCloseAfter).UTC()
}

// threadClosed says why a message written at at may not join v's thread,
// or nil: a cancelled or no-show visit's thread is closed, and so is
// every thread outside its window.
func (rules Rules) threadClosed(v *schemas.Visit, at time.Time) *schemas.Error {
	opens, closes := rules.ThreadWindow(v)
	var err *schemas.Error
	switch {
	case v.OfficeStatus == schemas.VisitCancelled || v.OfficeStatus == schemas.VisitNoShow:
		err = reject(RejectThreadClosed, "the visit is %s: its messages are closed", v.OfficeStatus)
	case at.Before(opens):
		err = reject(RejectThreadClosed, "messages about this visit open at %s", opens.Format(time.RFC3339))
	case at.After(closes):
		err = reject(RejectThreadClosed, "messages about this visit closed at %s", closes.Format(time.RFC3339))
	default:
		return nil
	}
	return err.With("opensAt", opens.Format(time.RFC3339)).With("closesAt", closes.Format(time.RFC3339))
}

// rejectMessage rejects a message only the visit's current assignee may
// write, or one written while the thread was closed. A phone's message is
// judged at its effective time (written offline while open, it counts)
// but never later than its receipt. The household writes to whoever is
// assigned: its record names the assignee read when it sent, which a
// reassign may have changed since. It reports whether it rejected r.
func (e *Engine) rejectMessage(v *schemas.Visit, r *Record) bool {
	if r.Source != SourceCustomerApp && r.WorkerID != v.WorkerID {
		r.Status, r.Code, r.Message = StatusRejected, RejectNotYours, "this visit is no longer assigned to you"
		return true
	}
	at := r.EffAt
	if !r.ReceivedAt.IsZero() && r.ReceivedAt.Before(at) {
		at = r.ReceivedAt
	}
	if err := e.rules.threadClosed(v, at); err != nil {
		r.Status, r.Code, r.Message = StatusRejected, RejectThreadClosed, err.Message
		return true
	}
	return false
}

// message adds a message to the thread, its text masked.
func (f *folder) message(r *Record) {
	from := schemas.MessageFromWorker
	if r.Source == SourceCustomerApp {
		from = schemas.MessageFromCustomer
	}
	f.fs.Messages = append(f.fs.Messages, schemas.VisitMessage{ID: r.OpID, From: from, At: r.EffAt, Text: MaskNumbers(r.Payload.Text), Photos: r.Payload.Photos})
}

// numberRun is a run of seven or more digits (ASCII or full-width), maybe
// with a leading + and spaces, dots or dashes between them: every mainland
// mobile (1[3-9] and nine digits) and landline number, with or without the
// country and area codes, however it is grouped.
var numberRun = regexp.MustCompile(`\+?[0-9０-９](?:[ \-.－　]*[0-9０-９]){6,}`)

// isoDate is a date as yyyy-mm-dd, the one digit run people write in a
// message that is not a number to call.
var isoDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$`)

// MaskNumbers replaces each digit of anything in s that looks like a
// phone number with *, so that the thread never carries one across.
func MaskNumbers(s string) string {
	return numberRun.ReplaceAllStringFunc(s, func(m string) string {
		if isoDate.MatchString(m) {
			return m
		}
		return strings.Map(func(c rune) rune {
			if (c >= '0' && c <= '9') || (c >= '０' && c <= '９') {
				return '*'
			}
			return c
		}, m)
	})
}

// CustomerMessage is a message from the household's app.
type CustomerMessage struct {
	MessageID string `json:"messageId"` // the app's id for it: sending it again is a no-op
	Text      string `json:"text"`
}

// MessageFromCustomer records a message from the household's app as the
// same kind of fact as one from the worker's phone: recorded once under
// its own id, folded with the others into the visit's thread. Its time is
// the server's (the app is online when it sends). A message sent again is
// answered as recorded, even once the thread has closed.
func (e *Engine) MessageFromCustomer(ctx context.Context, a *schemas.Actor, visitID string, in CustomerMessage) (*schemas.MessageThread, error) {
	if a.Role != schemas.RoleCustomer || a.CustomerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only the household writes from its app")
	}
	if !schemas.ValidID(in.MessageID) {
		return nil, schemas.FieldError("messageId", "messageId must be a UUID the app made for this message")
	}
	v, err := e.customerVisit(ctx, a, visitID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(Payload{Text: in.Text})
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	op := &Op{OpID: in.MessageID, Kind: KindMessage, VisitID: visitID, At: now, Payload: raw}
	p, err := decodePayload(op)
	if err != nil {
		return nil, schemas.FieldError("text", "%s", schemas.ErrorMessage(err))
	}
	r := &Record{ID: "customer/" + a.UserID + "/" + in.MessageID, UserID: a.UserID, WorkerID: v.WorkerID, DeviceID: "customer:" + a.DeviceID,
		OpID: in.MessageID, Kind: KindMessage, VisitID: visitID, DeviceAt: now, CorrectedAt: now, EffAt: now, ReceivedAt: now,
		Payload: p, Status: StatusPending, Source: SourceCustomerApp}
	prev, err := e.record(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		if err := opIDTaken(v, in.MessageID, "messageId"); err != nil {
			return nil, err
		}
		// Refused before anything is recorded: the app may send it again
		// once the thread opens.
		if err := e.rules.threadClosed(v, now); err != nil {
			return nil, closedError(err)
		}
	}
	recs := []*Record{r}
	if _, err := e.applyFromApp(ctx, visitID, recs); err != nil {
		return nil, err
	}
	if r.Status == StatusRejected {
		if r.Code == RejectThreadClosed {
			return nil, closedError(e.rules.threadClosed(v, now))
		}
		return nil, schemas.Errorf(schemas.ECONFLICT, "%s", r.Message).With("code", r.Code)
	}
	return e.Thread(ctx, a, visitID)
}

func closedError(err *schemas.Error) error {
	if err == nil {
		err = reject(RejectThreadClosed, "messages about this visit are closed")
	}
	out := schemas.Errorf(schemas.ECONFLICT, "%s", err.Message).With("code", RejectThreadClosed)
	for k, v := range err.Details {
		out = out.With(k, v)
	}
	return out
}

// Thread is the visit's thread as its household reads it.
func (e *Engine) Thread(ctx context.Context, a *schemas.Actor, visitID string) (*schemas.MessageThread, error) {
	v, err := e.customerVisit(ctx, a, visitID)
	if err != nil {
		return nil, err
	}
	opens, closes := e.rules.ThreadWindow(v)
	t := &schemas.MessageThread{VisitID: v.ID, Open: e.rules.threadClosed(v, e.now().UTC()) == nil, OpensAt: opens, ClosesAt: closes,
		Messages: v.Field.Messages}
	if t.Messages == nil {
		t.Messages = []schemas.VisitMessage{}
	}
	return t, nil
}

// customerVisit is the household's own visit; any other is not found.
func (e *Engine) customerVisit(ctx context.Context, a *schemas.Actor, visitID string) (*schemas.Visit, error) {
	if a.Role != schemas.RoleCustomer || a.CustomerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only the household reads its thread here; the office reads it on the visit")
	}
	v, err := e.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	if v.CustomerID != a.CustomerID {
		return nil, schemas.Errorf(schemas.ENOTFOUND, "visit not found")
	}
	return v, nil
}
