package schemas

import (
	"strconv"
	"time"
)

// A change of scope: items a worker adds to or drops from a visit's
// checklist on site, which stands only once the household agrees (by its
// presence code, in its app, or by phone to the office).

// Consent states of a scope change, and how it was given.
const (
	ScopePending = "pending"
	ScopeAgreed  = "agreed"
	ScopeRefused = "refused"

	ConsentCode = "code" // the household's presence code, entered on the worker's phone
	ConsentApp  = "app"  // the household answered in its own app
	// ConsentOffice: the office recorded the household's answer given by
	// phone (a household without the app has no presence code either).
	ConsentOffice = "office"
)

// ScopeItem is an item a worker proposes to add.
type ScopeItem struct {
	Title   string `json:"title" bson:"title"`
	Minutes int    `json:"minutes,omitempty" bson:"minutes,omitempty"`
}

// ScopeAdded is a proposed item with the id the fold gave it.
type ScopeAdded struct {
	ItemID  string `json:"itemId" bson:"itemId"`
	Title   string `json:"title" bson:"title"`
	Minutes int    `json:"minutes,omitempty" bson:"minutes,omitempty"`
}

// ScopeChange is one change of a visit's scope and the household's
// consent to it. ChangeID is the opId of the worker's changeScope.
type ScopeChange struct {
	ChangeID   string       `json:"changeId" bson:"changeId"`
	Add        []ScopeAdded `json:"add" bson:"add"`
	Drop       []string     `json:"drop" bson:"drop"` // checklist item ids
	Reason     string       `json:"reason" bson:"reason"`
	State      string       `json:"state" bson:"state"`                               // pending, agreed, refused
	How        string       `json:"how,omitempty" bson:"how,omitempty"`               // code, app or office, once answered
	WorkerID   string       `json:"workerId" bson:"workerId"`                         // who proposed it
	At         time.Time    `json:"at" bson:"at"`                                     // when (the phone's time, corrected)
	AnsweredBy string       `json:"answeredBy,omitempty" bson:"answeredBy,omitempty"` // the household's user id (app), the worker's (code), the office user's (office)
	AnsweredAt *time.Time   `json:"answeredAt,omitempty" bson:"answeredAt,omitempty"`
	// Note goes with the answer: the office's note of who answered and how
	// (office), or the household's own remark (app).
	Note string `json:"note,omitempty" bson:"note,omitempty"`
}

// ScopeItemID is the checklist item id of the i-th item a change adds:
// derived from the change, so every fold gives the same id.
func ScopeItemID(changeID string, i int) string {
	return changeID + "." + strconv.Itoa(i+1)
}

// EffectiveChecklist is the checklist the work and the sign-off are
// about: the office's, less the items of agreed drops, plus the items of
// agreed adds, each with its done state.
func (v *Visit) EffectiveChecklist() []VisitChecklistItem {
	dropped := map[string]bool{}
	var added []VisitChecklistItem
	for _, c := range v.Field.ScopeChanges {
		if c.State != ScopeAgreed {
			continue
		}
		for _, id := range c.Drop {
			dropped[id] = true
		}
		for _, it := range c.Add {
			added = append(added, VisitChecklistItem{ID: it.ItemID, Text: it.Title})
		}
	}
	if len(dropped) == 0 && len(added) == 0 {
		return v.Checklist
	}
	done := map[string]bool{}
	for _, p := range v.Field.Progress {
		done[p.ItemID] = p.Done
	}
	out := make([]VisitChecklistItem, 0, len(v.Checklist)+len(added))
	for _, it := range append(append([]VisitChecklistItem(nil), v.Checklist...), added...) {
		if !dropped[it.ID] {
			it.Done = done[it.ID]
			out = append(out, it)
		}
	}
	return out
}
