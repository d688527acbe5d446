package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

// SetCipher sets the cipher that seals personal data.
func (db *DB) SetCipher(c *Cipher) {
	db.cipher = c
	if db.Docs != nil {
		db.Docs.SetCipher(c)
	}
}

// Fingerprint is a keyed hash of s, under the current data key: equal
// values have equal fingerprints, and nothing of s shows at rest.
func (db *DB) Fingerprint(s string) string { return db.cipher.LookupHash(s) }

// customerDoc is a customer as stored: phone, address texts, positions and
// access notes, and the household profile sealed, the phone also as a keyed
// hash for lookups. The household profile (elderly, infants, pets,
// allergies, taboos, special needs) is sensitive personal information under
// PIPL: health, religion, minors. It is sealed as a whole, like the
// positions: nothing queries them in the store, matching and the check-in
// geofence read them opened.
type customerDoc struct {
	ID          string              `bson:"_id"`
	Name        string              `bson:"name"`
	Phone       string              `bson:"phone"`
	PhoneHash   string              `bson:"phoneHash"`
	Addresses   []addressDoc        `bson:"addresses"`
	TimeZone    string              `bson:"timeZone"`
	Household   bson.RawValue       `bson:"household"` // sealed JSON (a document when written before sealing)
	Preferences schemas.Preferences `bson:"preferences"`
	Team        string              `bson:"team,omitempty"`
	Locale      string              `bson:"locale,omitempty"`
	UserID      string              `bson:"userId,omitempty"`
	Version     int64               `bson:"version"`
	CreatedAt   time.Time           `bson:"createdAt"`
	UpdatedAt   time.Time           `bson:"updatedAt"`
}

type addressDoc struct {
	ID          string        `bson:"id"`
	Label       string        `bson:"label,omitempty"`
	Text        string        `bson:"text"`
	Location    bson.RawValue `bson:"location"` // sealed JSON (a document when written before sealing)
	AccessNotes string        `bson:"accessNotes,omitempty"`
}

func customerAAD(id, field string) string { return "customers/" + id + "/" + field }

func (db *DB) sealCustomer(c *schemas.Customer) (*customerDoc, error) {
	d := &customerDoc{ID: c.ID, Name: c.Name, TimeZone: c.TimeZone, Preferences: c.Preferences,
		Team: c.Team, Locale: c.Locale, UserID: c.UserID, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		PhoneHash: db.cipher.LookupHash(c.Phone)}
	var err error
	if d.Phone, err = db.cipher.Seal(c.Phone, customerAAD(c.ID, "phone")); err != nil {
		return nil, err
	}
	if d.Household, err = db.cipher.SealField(c.Household, customerAAD(c.ID, "household")); err != nil {
		return nil, err
	}
	for _, a := range c.Addresses {
		ad := addressDoc{ID: a.ID, Label: a.Label}
		if ad.Text, err = db.cipher.Seal(a.Text, customerAAD(c.ID, "addresses/"+a.ID+"/text")); err != nil {
			return nil, err
		}
		if ad.Location, err = db.cipher.SealField(a.Location, customerAAD(c.ID, "addresses/"+a.ID+"/location")); err != nil {
			return nil, err
		}
		if ad.AccessNotes, err = db.cipher.Seal(a.AccessNotes, customerAAD(c.ID, "addresses/"+a.ID+"/accessNotes")); err != nil {
			return nil, err
		}
		d.Addresses = append(d.Addresses, ad)
	}
	return d, nil
}

func (db *DB) openCustomer(d *customerDoc) (*schemas.Customer, error) {
	c := &schemas.Customer{ID: d.ID, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	c.CustomerInput = schemas.CustomerInput{Name: d.Name, TimeZone: d.TimeZone,
		Preferences: d.Preferences, Team: d.Team, Locale: d.Locale, UserID: d.UserID}
	var err error
	if c.Phone, err = db.cipher.Open(d.Phone, customerAAD(d.ID, "phone")); err != nil {
		return nil, fmt.Errorf("customer %s phone: %w", d.ID, err)
	}
	if err := db.cipher.OpenField(d.Household, customerAAD(d.ID, "household"), &c.Household); err != nil {
		return nil, fmt.Errorf("customer %s household: %w", d.ID, err)
	}
	for _, ad := range d.Addresses {
		a := schemas.Address{ID: ad.ID, Label: ad.Label}
		if a.Text, err = db.cipher.Open(ad.Text, customerAAD(d.ID, "addresses/"+ad.ID+"/text")); err != nil {
			return nil, fmt.Errorf("customer %s address: %w", d.ID, err)
		}
		if err := db.cipher.OpenField(ad.Location, customerAAD(d.ID, "addresses/"+ad.ID+"/location"), &a.Location); err != nil {
			return nil, fmt.Errorf("customer %s address position: %w", d.ID, err)
		}
		if a.AccessNotes, err = db.cipher.Open(ad.AccessNotes, customerAAD(d.ID, "addresses/"+ad.ID+"/accessNotes")); err != nil {
			return nil, fmt.Errorf("customer %s access notes: %w", d.ID, err)
		}
		c.Addresses = append(c.Addresses, a)
	}
	return c, nil
}

// InsertCustomer stores a new customer, sealing its personal data.
func (db *DB) InsertCustomer(ctx context.Context, c *schemas.Customer) error {
	d, err := db.sealCustomer(c)
	if err != nil {
		return err
	}
	if _, err := db.C(colCustomers).InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	return nil
}

// CustomerByID returns the customer, opened, or ENOTFOUND.
func (db *DB) CustomerByID(ctx context.Context, id string) (*schemas.Customer, error) {
	d, err := getByID[customerDoc](ctx, db.C(colCustomers), id, "customer")
	if err != nil {
		return nil, err
	}
	return db.openCustomer(d)
}

// CustomerFilter selects customers.
type CustomerFilter struct {
	Team  string
	IDs   []string // when not nil: only these (OR'd with Team when both are set)
	Phone string   // normalized
	After string
	Limit int
}

// ListCustomers returns a page of customers in id order.
func (db *DB) ListCustomers(ctx context.Context, f CustomerFilter) ([]schemas.Customer, error) {
	filter := bson.D{}
	switch {
	case f.Team != "" && f.IDs != nil:
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "team", Value: f.Team}},
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: f.IDs}}}},
		}})
	case f.Team != "":
		filter = append(filter, bson.E{Key: "team", Value: f.Team})
	case f.IDs != nil:
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: f.IDs}}})
	}
	if f.Phone != "" {
		filter = append(filter, bson.E{Key: "phoneHash", Value: bson.D{{Key: "$in", Value: db.cipher.LookupHashes(f.Phone)}}})
	}
	docs, err := page[customerDoc](ctx, db.C(colCustomers), afterID(filter, f.After), byID, f.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]schemas.Customer, 0, len(docs))
	for i := range docs {
		c, err := db.openCustomer(&docs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// ReplaceCustomer stores c if it is still at expected.
func (db *DB) ReplaceCustomer(ctx context.Context, c *schemas.Customer, expected int64) error {
	d, err := db.sealCustomer(c)
	if err != nil {
		return err
	}
	return replaceVersioned(ctx, db.C(colCustomers), c.ID, expected, d, "customer")
}

// RawCustomer returns the stored document as is, for tests and audits of
// what is at rest.
func (db *DB) RawCustomer(ctx context.Context, id string) (bson.M, error) {
	var m bson.M
	if err := db.C(colCustomers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// SealJSON seals v for another package's record (the sync engine's
// operation log) with the store's cipher, bound to aad: name it
// "collection/id/field".
func (db *DB) SealJSON(v any, aad string) (string, error) { return db.cipher.SealJSON(v, aad) }

// OpenJSON reads into v what SealJSON made with the same aad.
func (db *DB) OpenJSON(sealed, aad string, v any) error { return db.cipher.OpenJSON(sealed, aad, v) }
