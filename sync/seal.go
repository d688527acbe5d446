package sync

import (
	"fmt"

	"fieldsync/schemas"
)

// The personal parts of an operation's payload are sealed in its stored
// record, like the store's other personal fields: the phone's position
// (at a check-in it is the household's exact home, sensitive under PIPL)
// and every free text (a manual check-in's reason, notes, progress text,
// an incident's description, the signer's name and comment, disputed
// items' reasons), where health, infants or religion end up ("the
// grandmother fell", "baby asleep, do not ring"). What the engine and
// queries read stays clear: kinds, item ids, verdicts, ratings, photo
// hashes, the category and severity of an incident, the presence code (a
// short-lived check, not about the household).
type sealedPayload struct {
	Location    *schemas.GeoFix `json:"l,omitempty"`
	Reason      string          `json:"r,omitempty"`
	Text        string          `json:"t,omitempty"`
	SignerName  string          `json:"s,omitempty"`
	Comment     string          `json:"c,omitempty"`
	ItemReasons []string        `json:"i,omitempty"` // per Items, in order
}

func recordAAD(id string) string { return "sync_ops/" + id + "/payload" }

// sealed returns the record as stored: a copy whose payload keeps only
// what is clear, the rest sealed into Sealed. r is left as it is.
func (e *Engine) sealed(r *Record) (*Record, error) {
	p := r.Payload
	s := sealedPayload{Location: p.Location}
	s.Reason, s.Text, s.SignerName, s.Comment = p.Reason, p.Text, p.SignerName, p.Comment
	p.Location, p.Reason, p.Text, p.SignerName, p.Comment = nil, "", "", "", ""
	if len(p.Items) > 0 {
		p.Items = append(p.Items[:0:0], p.Items...)
		for i := range p.Items {
			if p.Items[i].Reason != "" {
				s.ItemReasons = append(s.ItemReasons, make([]string, i+1-len(s.ItemReasons))...)
				s.ItemReasons[i], p.Items[i].Reason = p.Items[i].Reason, ""
			}
		}
	}
	out := *r
	out.Payload, out.Sealed = p, ""
	if s.Location != nil || s.Reason != "" || s.Text != "" || s.SignerName != "" || s.Comment != "" || len(s.ItemReasons) > 0 {
		var err error
		if out.Sealed, err = e.db.SealJSON(s, recordAAD(r.ID)); err != nil {
			return nil, fmt.Errorf("seal operation %s: %w", r.ID, err)
		}
	}
	return &out, nil
}

// open puts the sealed parts of a stored record back into its payload.
// Records written before sealing have none and are read as they are.
func (e *Engine) open(r *Record) error {
	if r.Sealed == "" {
		return nil
	}
	var s sealedPayload
	if err := e.db.OpenJSON(r.Sealed, recordAAD(r.ID), &s); err != nil {
		return fmt.Errorf("open operation %s: %w", r.ID, err)
	}
	p := &r.Payload
	p.Location = s.Location
	p.Reason, p.Text, p.SignerName, p.Comment = s.Reason, s.Text, s.SignerName, s.Comment
	for i, reason := range s.ItemReasons {
		if i < len(p.Items) && reason != "" {
			p.Items[i].Reason = reason
		}
	}
	r.Sealed = ""
	return nil
}
