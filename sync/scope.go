package sync

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
)

// A change of scope (seeds: 如需变动服务内容应事先征得客户同意): the worker
// adds or drops items on site (changeScope, offline too) and the change
// stands only once the household agrees. The household's presence code
// on the worker's phone agrees at once; without one (or with a wrong or
// reused one) the household is asked in its app and answers there
// (AnswerScope). The answer is a record folded with the phone's, as the
// app's sign-off is, so the field state stays a fold of records.
//
// A presence code proves the household was there at one time step; a
// code already used in that step (for the check-in, typically) is not
// consent to a change the household may never have seen: it is flagged
// presence_code_reused and the household is asked in its app.

// KindScopeAnswer is the household's answer to a scope change, recorded
// from its app; no phone sends it (it is not among Kinds).
const KindScopeAnswer = "scopeAnswer"

// Rules of scope changes.
const (
	RuleScopeRefusedItem = "scope_refused_item" // progress on an item of a change the household refused: kept, review
	RuleScopeAnswered    = "scope_answered"     // a later answer to a change already decided: the first stands
)

// Bounds of a changeScope.
const (
	MaxScopeAdd     = 10
	MaxScopeDrop    = 100
	MaxScopeTitle   = 100
	MaxScopeMinutes = 480
	MaxScopeReason  = 500
)

// Answers the household gives in its app.
const (
	DecisionAgree  = "agree"
	DecisionRefuse = "refuse"
)

func plainText(s string, max int) bool {
	return len([]rune(s)) <= max && !strings.ContainsRune(s, 0)
}

// checkScope checks a changeScope's payload.
func checkScope(p *Payload) error {
	bad := func(format string, args ...any) error { return reject(RejectInvalid, format, args...) }
	if len(p.Add) == 0 && len(p.Drop) == 0 {
		return bad("a scope change adds or drops at least one item")
	}
	if len(p.Add) > MaxScopeAdd {
		return bad("a scope change adds at most %d items", MaxScopeAdd)
	}
	for _, it := range p.Add {
		if strings.TrimSpace(it.Title) == "" || !plainText(it.Title, MaxScopeTitle) {
			return bad("each added item needs a title of at most %d characters", MaxScopeTitle)
		}
		if it.Minutes < 0 || it.Minutes > MaxScopeMinutes {
			return bad("an added item's minutes are from 0 to %d", MaxScopeMinutes)
		}
	}
	if len(p.Drop) > MaxScopeDrop {
		return bad("a scope change drops at most %d items", MaxScopeDrop)
	}
	seen := map[string]bool{}
	for _, id := range p.Drop {
		if id == "" || len(id) > 100 || seen[id] {
			return bad("drop lists distinct checklist item ids")
		}
		seen[id] = true
	}
	if strings.TrimSpace(p.Reason) == "" || !plainText(p.Reason, MaxScopeReason) {
		return bad("a scope change needs a reason of at most %d characters", MaxScopeReason)
	}
	if len(p.PresenceCode) > 12 {
		return bad("presence code too long")
	}
	return nil
}

// scopeItems are the checklist items operations on v may name. Progress
// may name any item of the office's checklist or of a proposed change (a
// refused change's is kept and flagged by the fold); a sign-off, the
// effective checklist. The changes among recs are not folded yet: their
// items count as proposed and, when the change carries a presence code,
// as agreed for the sign-off (a phone offline sends the change with the
// code, the work and the sign-off in one push; without a code the
// household answers in its app, after this push).
func scopeItems(v *schemas.Visit, recs []*Record) (known, signable map[string]bool) {
	known, signable = map[string]bool{}, map[string]bool{}
	for _, it := range v.Checklist {
		known[it.ID] = true
	}
	for _, it := range v.EffectiveChecklist() {
		signable[it.ID] = true
	}
	for _, c := range v.Field.ScopeChanges {
		for _, it := range c.Add {
			known[it.ItemID] = true
		}
	}
	for _, r := range recs {
		if r.Kind == KindScope && r.Status != StatusRejected {
			for i := range r.Payload.Add {
				id := schemas.ScopeItemID(r.OpID, i)
				known[id] = true
				signable[id] = signable[id] || r.Payload.PresenceCode != ""
			}
		}
	}
	return known, signable
}

// unknownDrop is the first item a changeScope drops that the visit does
// not know, or "".
func unknownDrop(r *Record, known map[string]bool) string {
	for _, id := range r.Payload.Drop {
		if !known[id] {
			return id
		}
	}
	return ""
}

// scope folds a change proposed by the phone, or the household's answer
// to one from its app.
func (f *folder) scope(r *Record, exception, conflict func(code, detail string, review bool)) {
	fs := &f.fs
	if r.Kind == KindScopeAnswer {
		i := slices.IndexFunc(fs.ScopeChanges, func(c schemas.ScopeChange) bool { return c.ChangeID == r.Payload.ChangeID })
		if i < 0 {
			return // the answer is recorded only after its change: never here
		}
		c := &fs.ScopeChanges[i]
		if c.State != schemas.ScopePending {
			conflict(RuleScopeAnswered, "the change was "+c.State+" already: that stands", false)
			return
		}
		at := r.EffAt
		c.State, c.How, c.AnsweredBy, c.AnsweredAt = schemas.ScopeAgreed, schemas.ConsentApp, r.UserID, &at
		// The household's remark reaches the worker: numbers masked, as in
		// messages. The office's note stays the office's (see the views).
		c.Note = MaskNumbers(r.Payload.Text)
		if r.Source == SourceOffice {
			c.How, c.Note = schemas.ConsentOffice, r.Payload.Text
		}
		if r.Payload.Decision == DecisionRefuse {
			c.State = schemas.ScopeRefused
			for _, it := range c.Add {
				if _, ok := f.items[it.ItemID]; ok {
					exception(RuleScopeRefusedItem, "progress recorded on "+it.ItemID+" ("+it.Title+"), which the household refused", true)
				}
			}
		}
		return
	}
	// Agreed at the door, like a check-in: the office's plan changed under
	// the phone (reassigned, cancelled, a no-show) is kept and flagged.
	if rule, detail := officeClash(f.v, r); rule != "" {
		conflict(rule, detail, true)
	}
	c := schemas.ScopeChange{ChangeID: r.OpID, Add: make([]schemas.ScopeAdded, len(r.Payload.Add)), Drop: slices.Clone(r.Payload.Drop),
		Reason: MaskNumbers(r.Payload.Reason), State: schemas.ScopePending, WorkerID: r.WorkerID, At: r.EffAt}
	if c.Drop == nil {
		c.Drop = []string{}
	}
	for i, it := range r.Payload.Add {
		// The household reads titles and reason: numbers masked as in messages.
		c.Add[i] = schemas.ScopeAdded{ItemID: schemas.ScopeItemID(r.OpID, i), Title: MaskNumbers(it.Title), Minutes: it.Minutes}
	}
	const ask = ": the household is asked in its app"
	switch {
	case r.PresenceValid == nil && r.PresenceLock > 0:
		exception(RulePresenceLocked, "too many wrong presence codes on this visit: this code was not checked"+ask, true)
	case r.PresenceValid == nil:
		// No code: the household is asked in its app.
	case !*r.PresenceValid:
		exception(RulePresenceInvalid, "the code did not match the visit at that time"+ask, true)
	case f.steps[r.PresenceStep] != "":
		exception(RulePresenceReused, "already used by operation "+f.steps[r.PresenceStep]+ask, true)
	default:
		f.steps[r.PresenceStep] = r.OpID
		fs.CustomerConfirmed = true
		at := r.EffAt
		c.State, c.How, c.AnsweredAt = schemas.ScopeAgreed, schemas.ConsentCode, &at
	}
	fs.ScopeChanges = append(fs.ScopeChanges, c)
}

// scopeProgress flags progress on an item of a change the household
// refused: the fact is kept, a supervisor decides.
func (f *folder) scopeProgress(r *Record, exception func(code, detail string, review bool)) {
	for _, c := range f.fs.ScopeChanges {
		if c.State != schemas.ScopeRefused {
			continue
		}
		for _, it := range c.Add {
			if it.ItemID == r.Payload.ItemID {
				exception(RuleScopeRefusedItem, "progress on "+it.ItemID+" ("+it.Title+"), which the household refused", true)
				return
			}
		}
	}
}

// ScopeAnswer is the household's answer to a scope change, in its app or
// by phone to the office, which records it with a note.
type ScopeAnswer struct {
	Decision string `json:"decision"`       // agree or refuse
	Note     string `json:"note,omitempty"` // who answered and how (required from the office); the household's own remark (optional)
}

// scopeAnswerOpID is the answer's operation id: derived from the change
// and the decision, so the same answer sent again is the same fact.
func scopeAnswerOpID(changeID, decision string) string {
	return uuid.NewSHA1(nsFieldsync, []byte("scope/"+changeID+"/"+decision)).String()
}

// AnswerScope records the household's answer to a scope change of its
// visit, as a record folded with the phone's (the change is decided by
// the first answer in fold order). The same answer again answers the
// same; another answer once one stands is a conflict. Its time is the
// server's: the app is online when it answers.
func (e *Engine) AnswerScope(ctx context.Context, a *schemas.Actor, visitID, changeID string, in ScopeAnswer) (*schemas.Visit, error) {
	byOffice := a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor
	switch {
	case byOffice:
		if strings.TrimSpace(in.Note) == "" || len([]rune(in.Note)) > 500 {
			return nil, schemas.FieldError("note", "the office records the household's answer with a note of who gave it and how (up to 500 characters)")
		}
	case a.Role != schemas.RoleCustomer || a.CustomerID == "":
		return nil, schemas.Errorf(schemas.EFORBIDDEN, "only the household, or the office for it, answers a change of scope")
	case len([]rune(in.Note)) > 500:
		return nil, schemas.FieldError("note", "note: up to 500 characters")
	}
	want := map[string]string{DecisionAgree: schemas.ScopeAgreed, DecisionRefuse: schemas.ScopeRefused}[in.Decision]
	if want == "" {
		return nil, schemas.FieldError("decision", "decision must be agree or refuse")
	}
	v, err := e.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	mine := v.CustomerID == a.CustomerID
	if byOffice {
		// Admins, and the supervisors of the visit's team.
		mine = a.Role == schemas.RoleAdmin || a.Team != "" && v.Team == a.Team
	}
	if !mine {
		return nil, schemas.Errorf(schemas.ENOTFOUND, "visit not found")
	}
	state := func(v *schemas.Visit) string {
		for _, c := range v.Field.ScopeChanges {
			if c.ChangeID == changeID {
				return c.State
			}
		}
		return ""
	}
	switch st := state(v); st {
	case "":
		return nil, schemas.Errorf(schemas.ENOTFOUND, "no change of scope %s on this visit", changeID)
	case want:
		return v, nil
	case schemas.ScopeAgreed, schemas.ScopeRefused:
		return nil, schemas.Errorf(schemas.ECONFLICT, "the change was %s already", st).With("state", st)
	}
	// The sign-off closes the scope: it was about the checklist as it
	// stood, and a change agreed after it would add work nobody signed for.
	if v.Field.SignOff != nil {
		return nil, schemas.Errorf(schemas.ECONFLICT, "the visit is signed off: the change can no longer be answered").With("state", schemas.ScopePending)
	}
	now := e.now().UTC()
	// The fold orders to the second, then by device: in its change's own
	// second the answer could sort before the change ("customer:..."
	// before the phone's id) and find nothing to answer, for good. Then it
	// takes effect the next second.
	eff := now
	for _, c := range v.Field.ScopeChanges {
		if s := c.At.Truncate(time.Second); c.ChangeID == changeID && !s.Before(now.Truncate(time.Second)) {
			eff = s.Add(time.Second)
		}
	}
	opID := scopeAnswerOpID(changeID, in.Decision)
	r := &Record{ID: "customer/" + a.UserID + "/scope/" + opID, UserID: a.UserID, WorkerID: v.WorkerID, DeviceID: "customer:" + a.DeviceID,
		OpID: opID, Kind: KindScopeAnswer, VisitID: visitID, DeviceAt: now, CorrectedAt: now, EffAt: eff, ReceivedAt: now,
		Payload: Payload{ChangeID: changeID, Decision: in.Decision, Text: strings.TrimSpace(in.Note)}, Status: StatusPending, Source: SourceCustomerApp}
	if byOffice {
		r.ID, r.DeviceID, r.Source = "office/"+a.UserID+"/scope/"+opID, "office:"+a.DeviceID, SourceOffice
	}
	recs := []*Record{r}
	if _, err := e.applyFromApp(ctx, visitID, recs); err != nil {
		return nil, err
	}
	if r.Status == StatusRejected {
		return nil, schemas.Errorf(schemas.ECONFLICT, "%s", r.Message).With("code", r.Code)
	}
	cur, err := e.db.Visits.Get(ctx, visitID)
	if err != nil {
		return nil, err
	}
	// Another answer may have come first (the fold decides): then this
	// one does not stand.
	if st := state(cur); st != want {
		return nil, schemas.Errorf(schemas.ECONFLICT, "the change was %s already", st).With("state", st)
	}
	return cur, nil
}
