package sync

import (
	"context"
	"encoding/json"

	"fieldsync/schemas"
	"fieldsync/store"
)

// CustomerSignOff is a sign-off made in the customer's own app.
type CustomerSignOff struct {
	OpID         string                `json:"opId"` // the app's id for it: sending it again is a no-op
	Items        []schemas.SignOffItem `json:"items"`
	SignatureRef string                `json:"signatureRef,omitempty"`
	SignerName   string                `json:"signerName"`
	Rating       *schemas.Rating       `json:"rating,omitempty"`
	Comment      string                `json:"comment,omitempty"`
}

// SignOffResult says what became of a customer's sign-off.
type SignOffResult struct {
	Status  string         `json:"status"` // applied, conflict (a sign-off from the worker's phone came first), duplicate
	Rule    string         `json:"rule,omitempty"`
	Rules   []string       `json:"rules,omitempty"`
	Message string         `json:"message,omitempty"`
	Visit   *schemas.Visit `json:"visit"`
}

// SignOffFromCustomer records a sign-off from the customer's app as the
// same kind of fact as one captured on the worker's phone: recorded once
// under its own id, folded with the others, the first (in fold order)
// standing and the other kept as a conflict. Its time is the server's:
// the customer's app is online when it signs off.
func (e *Engine) SignOffFromCustomer(ctx context.Context, a *schemas.Actor, visitID string, in CustomerSignOff) (*SignOffResult, error) {
	if a.Role != schemas.RoleCustomer || a.CustomerID == "" {
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only the household signs off in its app")
	}
	if !schemas.ValidID(in.OpID) {
		return nil, schemas.FieldError("opId", "opId must be a UUID the app made for this sign-off")
	}
	v, err := e.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	if v.CustomerID != a.CustomerID {
		return nil, schemas.Errorf(schemas.ENOTFOUND, "visit not found")
	}
	if v.Status != schemas.VisitCheckedOut && v.Status != schemas.VisitSignedOff && v.Status != schemas.VisitDisputed {
		return nil, schemas.Errorf(schemas.ECONFLICT, "a %s visit cannot be signed off yet: the worker has not checked out", v.Status).With("status", v.Status)
	}
	raw, err := json.Marshal(Payload{Items: in.Items, SignatureRef: in.SignatureRef, SignerName: in.SignerName, Rating: in.Rating, Comment: in.Comment})
	if err != nil {
		return nil, err
	}
	op := &Op{OpID: in.OpID, Kind: KindSignOff, VisitID: visitID, At: e.now(), Payload: raw}
	p, err := decodePayload(op)
	if err != nil {
		return nil, schemas.Errorf(schemas.EINVALID, "%s", schemas.ErrorMessage(err))
	}
	now := e.now().UTC()
	r := &Record{ID: "customer/" + a.UserID + "/" + in.OpID, UserID: a.UserID, WorkerID: v.WorkerID, DeviceID: "customer:" + a.DeviceID,
		OpID: in.OpID, Kind: KindSignOff, VisitID: visitID, DeviceAt: now, CorrectedAt: now, EffAt: now, ReceivedAt: now,
		Payload: p, Status: StatusPending, Source: SourceCustomerApp}
	recs := []*Record{r}
	// The signature counts once the household's own upload of it completes
	// (at once if named from a visit it may see); a sign-off sent again is
	// answered as recorded the first time.
	prev, err := e.record(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		if err := opIDTaken(v, in.OpID, "opId"); err != nil {
			return nil, err
		}
		if err := e.checkRefs(ctx, a, recs); err != nil {
			return nil, err
		}
	}
	dup, err := e.applyFromApp(ctx, visitID, recs)
	if err != nil {
		return nil, err
	}
	if r.Status == StatusRejected {
		return nil, schemas.Errorf(schemas.ECONFLICT, "%s", r.Message).With("code", r.Code)
	}
	cur, err := e.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	res := &SignOffResult{Status: r.Status, Rule: r.Rule, Rules: r.Rules, Message: r.Message, Visit: cur}
	if dup {
		res.Status = StatusDuplicate
	}
	return res, nil
}

// applyFromApp records facts from the household's app and folds them into
// their visit, as a push does a phone's: decided, recorded, decided again
// if an earlier attempt recorded some, written, logged. dup reports that
// they were recorded before.
func (e *Engine) applyFromApp(ctx context.Context, visitID string, recs []*Record) (dup bool, err error) {
	d, err := e.decide(ctx, visitID, recs)
	if err != nil {
		return false, err
	}
	redo, err := e.insertRecords(ctx, recs)
	if err != nil {
		return false, err
	}
	dup = len(redo) > 0 || (d != nil && len(d.live) == 0)
	if len(redo) > 0 {
		if d, err = e.decide(ctx, visitID, recs); err != nil {
			return false, err
		}
	}
	after, err := e.write(ctx, visitID, recs, d)
	if err != nil {
		return false, err
	}
	if after != nil {
		if _, err := e.db.Visits.Log(ctx, store.SourceSync, after); err != nil {
			e.log.Warn("change log append failed; the relay will log the visit", "err", err)
		}
	}
	return dup, nil
}

// opIDTaken refuses an id the household's app chose that names a phone's
// operation the household can see on the visit (a message, a change of
// scope, a sign-off): two facts under one operation id would be one in
// the thread and in the fold's outcomes.
func opIDTaken(v *schemas.Visit, id, field string) error {
	fs := &v.Field
	taken := fs.SignOff != nil && fs.SignOff.OpID == id && fs.SignOff.Source != SourceCustomerApp
	for _, m := range fs.Messages {
		taken = taken || m.ID == id && m.From != schemas.MessageFromCustomer
	}
	for _, c := range fs.ScopeChanges {
		taken = taken || c.ChangeID == id
	}
	if taken {
		return schemas.FieldError(field, "%s names another operation of this visit: make a new one", field)
	}
	return nil
}
