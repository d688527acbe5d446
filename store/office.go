package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

const (
	colWorkers      = "workers"
	colCustomers    = "customers"
	colServiceTypes = "service_types"
)

// officeCollections are the collections Office writes. Every list of the
// office is in id order (ids are UUIDv7s, so creation order), and each
// filter is an index whose order past its equality fields is _id, so a
// page resumes at the id it ended on.
var officeCollections = []doc.Collection{
	{Name: colWorkers, Indexes: []doc.Index{
		{Name: "team", Fields: []string{"team", "_id"}},
		{Name: "team_status", Fields: []string{"team", "status", "_id"}},
		{Name: "status", Fields: []string{"status", "_id"}},
	}},
	{Name: colCustomers, Indexes: []doc.Index{
		{Name: "team", Fields: []string{"team", "_id"}},
		{Name: "phone", Fields: []string{"phoneHash", "_id"}},
	}},
	{Name: colServiceTypes, Indexes: []doc.Index{
		{Name: "code", Fields: []string{"code"}, Unique: true},
		{Name: "active", Fields: []string{"active", "_id"}},
		{Name: "updated", Fields: []string{"updatedAt", "_id"}},
	}},
}

// Office stores the office's records: workers, customers, the service catalog.
type Office struct{ s *Store }

// Workers.

// InsertWorker stores a new worker at version 1.
func (o *Office) InsertWorker(ctx context.Context, w *schemas.Worker) error {
	v, err := doc.Insert(ctx, o.s.engine, colWorkers, w)
	if err != nil {
		return fmt.Errorf("insert worker %s: %w", w.ID, err)
	}
	w.Version = v
	return nil
}

// Worker returns the worker id, or ErrNotFound.
func (o *Office) Worker(ctx context.Context, id string) (*schemas.Worker, error) {
	w, v, err := doc.Get[schemas.Worker](ctx, o.s.engine, colWorkers, id)
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", id, err)
	}
	w.Version = v
	return &w, nil
}

// ReplaceWorker stores w if the stored worker is at version (else
// ErrVersion), and sets w.Version to the new version.
func (o *Office) ReplaceWorker(ctx context.Context, w *schemas.Worker, version int64) error {
	v, err := doc.Replace(ctx, o.s.engine, colWorkers, version, w)
	if err != nil {
		return fmt.Errorf("replace worker %s: %w", w.ID, err)
	}
	w.Version = v
	return nil
}

// ModifyWorker applies change to the stored worker and writes it back,
// again on a fresh copy if someone wrote it meanwhile, so that concurrent
// changes all land. It stamps UpdatedAt.
func (o *Office) ModifyWorker(ctx context.Context, id string, change func(*schemas.Worker) error) (*schemas.Worker, error) {
	w, v, err := doc.Modify(ctx, o.s.engine, colWorkers, id, func(w *schemas.Worker) error {
		if err := change(w); err != nil {
			return err
		}
		w.UpdatedAt = o.s.now().UTC()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modify worker %s: %w", id, err)
	}
	w.Version = v
	return &w, nil
}

// WorkerFilter selects workers. Team and Status are indexes; Skill is
// checked on the workers the index scan reads (skills are a list, which
// no index holds), and paging stays exact since pages end at an id.
type WorkerFilter struct {
	Team   string
	Status schemas.WorkerStatus
	Skill  schemas.Skill
	After  string // the id the previous page ended on
	Limit  int
}

// Workers returns a page of workers in id order, and the After of the
// next page ("" at the end).
func (o *Office) Workers(ctx context.Context, f WorkerFilter) ([]schemas.Worker, string, error) {
	sc := officeScan{index: doc.ByID}
	switch {
	case f.Team != "" && f.Status != "":
		sc = officeScan{index: "team_status", eq: []any{f.Team, string(f.Status)}}
	case f.Team != "":
		sc = officeScan{index: "team", eq: []any{f.Team}}
	case f.Status != "":
		sc = officeScan{index: "status", eq: []any{string(f.Status)}}
	}
	var keep func(*schemas.Worker) bool
	if f.Skill != "" {
		keep = func(w *schemas.Worker) bool { return slices.Contains(w.Skills, f.Skill) }
	}
	items, next, err := officeList(ctx, o.s.engine, colWorkers, []officeScan{sc}, nil, f.After, f.Limit, keep)
	if err != nil {
		return nil, "", fmt.Errorf("list workers: %w", err)
	}
	out := make([]schemas.Worker, len(items))
	for i, it := range items {
		out[i] = it.v
		out[i].Version = it.version
	}
	return out, next, nil
}

// Customers.

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
	Household   string              `bson:"household"` // sealed JSON
	Preferences schemas.Preferences `bson:"preferences"`
	Team        string              `bson:"team"` // indexed: "" for none
	Locale      string              `bson:"locale,omitempty"`
	UserID      string              `bson:"userId,omitempty"`
	DoNotSend   string              `bson:"doNotSend,omitempty"` // sealed JSON; absent on customers stored before it
	CreatedAt   time.Time           `bson:"createdAt"`
	UpdatedAt   time.Time           `bson:"updatedAt"`
}

type addressDoc struct {
	ID          string `bson:"id"`
	Label       string `bson:"label,omitempty"`
	Text        string `bson:"text"`     // sealed
	Location    string `bson:"location"` // sealed JSON
	AccessNotes string `bson:"accessNotes,omitempty"`
}

func customerAAD(id, field string) string { return colCustomers + "/" + id + "/" + field }

func (o *Office) sealCustomer(c *schemas.Customer) (*customerDoc, error) {
	ci := o.s.cipher
	if ci == nil {
		return nil, errors.New("store: no cipher to seal a customer's personal data")
	}
	d := &customerDoc{ID: c.ID, Name: c.Name, TimeZone: c.TimeZone, Preferences: c.Preferences,
		Team: c.Team, Locale: c.Locale, UserID: c.UserID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		PhoneHash: ci.LookupHash(c.Phone)}
	var err error
	if d.Phone, err = ci.Seal(c.Phone, customerAAD(c.ID, "phone")); err != nil {
		return nil, err
	}
	if d.Household, err = ci.SealJSON(c.Household, customerAAD(c.ID, "household")); err != nil {
		return nil, err
	}
	if len(c.DoNotSend) > 0 {
		if d.DoNotSend, err = ci.SealJSON(c.DoNotSend, customerAAD(c.ID, "doNotSend")); err != nil {
			return nil, err
		}
	}
	for _, a := range c.Addresses {
		ad := addressDoc{ID: a.ID, Label: a.Label}
		if ad.Text, err = ci.Seal(a.Text, customerAAD(c.ID, "addresses/"+a.ID+"/text")); err != nil {
			return nil, err
		}
		if ad.Location, err = ci.SealJSON(a.Location, customerAAD(c.ID, "addresses/"+a.ID+"/location")); err != nil {
			return nil, err
		}
		if ad.AccessNotes, err = ci.Seal(a.AccessNotes, customerAAD(c.ID, "addresses/"+a.ID+"/accessNotes")); err != nil {
			return nil, err
		}
		d.Addresses = append(d.Addresses, ad)
	}
	return d, nil
}

func (o *Office) openCustomer(d *customerDoc, version int64) (*schemas.Customer, error) {
	ci := o.s.cipher
	if ci == nil {
		return nil, errors.New("store: no cipher to open a customer's personal data")
	}
	c := &schemas.Customer{ID: d.ID, Version: version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	c.CustomerInput = schemas.CustomerInput{Name: d.Name, TimeZone: d.TimeZone,
		Preferences: d.Preferences, Team: d.Team, Locale: d.Locale, UserID: d.UserID}
	var err error
	if c.Phone, err = ci.Open(d.Phone, customerAAD(d.ID, "phone")); err != nil {
		return nil, fmt.Errorf("customer %s phone: %w", d.ID, err)
	}
	if err := ci.OpenJSON(d.Household, customerAAD(d.ID, "household"), &c.Household); err != nil {
		return nil, fmt.Errorf("customer %s household: %w", d.ID, err)
	}
	c.DoNotSend = []string{}
	if d.DoNotSend != "" {
		if err := ci.OpenJSON(d.DoNotSend, customerAAD(d.ID, "doNotSend"), &c.DoNotSend); err != nil {
			return nil, fmt.Errorf("customer %s do-not-send list: %w", d.ID, err)
		}
	}
	for _, ad := range d.Addresses {
		a := schemas.Address{ID: ad.ID, Label: ad.Label}
		if a.Text, err = ci.Open(ad.Text, customerAAD(d.ID, "addresses/"+ad.ID+"/text")); err != nil {
			return nil, fmt.Errorf("customer %s address: %w", d.ID, err)
		}
		if err := ci.OpenJSON(ad.Location, customerAAD(d.ID, "addresses/"+ad.ID+"/location"), &a.Location); err != nil {
			return nil, fmt.Errorf("customer %s address position: %w", d.ID, err)
		}
		if a.AccessNotes, err = ci.Open(ad.AccessNotes, customerAAD(d.ID, "addresses/"+ad.ID+"/accessNotes")); err != nil {
			return nil, fmt.Errorf("customer %s access notes: %w", d.ID, err)
		}
		c.Addresses = append(c.Addresses, a)
	}
	return c, nil
}

// InsertCustomer stores a new customer at version 1, sealing its personal
// data.
func (o *Office) InsertCustomer(ctx context.Context, c *schemas.Customer) error {
	d, err := o.sealCustomer(c)
	if err != nil {
		return fmt.Errorf("insert customer %s: %w", c.ID, err)
	}
	v, err := doc.Insert(ctx, o.s.engine, colCustomers, d)
	if err != nil {
		return fmt.Errorf("insert customer %s: %w", c.ID, err)
	}
	c.Version = v
	return nil
}

// Customer returns the customer id, opened, or ErrNotFound.
func (o *Office) Customer(ctx context.Context, id string) (*schemas.Customer, error) {
	d, v, err := doc.Get[customerDoc](ctx, o.s.engine, colCustomers, id)
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", id, err)
	}
	return o.openCustomer(&d, v)
}

// ReplaceCustomer stores c if the stored customer is at version (else
// ErrVersion), and sets c.Version to the new version.
func (o *Office) ReplaceCustomer(ctx context.Context, c *schemas.Customer, version int64) error {
	d, err := o.sealCustomer(c)
	if err != nil {
		return fmt.Errorf("replace customer %s: %w", c.ID, err)
	}
	v, err := doc.Replace(ctx, o.s.engine, colCustomers, version, d)
	if err != nil {
		return fmt.Errorf("replace customer %s: %w", c.ID, err)
	}
	c.Version = v
	return nil
}

// CustomerFilter selects customers.
type CustomerFilter struct {
	Team string
	// IDs, when not nil, are customers to list besides those of Team (a
	// supervisor's: their team's and those their team visits), or alone
	// when Team is "".
	IDs   []string
	Phone string // normalized; found by its keyed hash under every data key
	After string // the id the previous page ended on
	Limit int
}

// Customers returns a page of customers in id order, opened, and the
// After of the next page ("" at the end). Each filter is an index scan
// (the team, the phone's hashes) or reads by id (IDs); with a phone, the
// team and IDs are checked on the customers the phone finds.
func (o *Office) Customers(ctx context.Context, f CustomerFilter) ([]schemas.Customer, string, error) {
	var scans []officeScan
	var ids []string
	var keep func(*customerDoc) bool
	scoped := f.Team != "" || f.IDs != nil
	switch {
	case f.Phone != "":
		if o.s.cipher == nil {
			return nil, "", errors.New("list customers: no cipher to hash the phone")
		}
		for _, h := range o.s.cipher.LookupHashes(f.Phone) {
			scans = append(scans, officeScan{index: "phone", eq: []any{h}})
		}
		if scoped {
			keep = func(d *customerDoc) bool {
				return f.Team != "" && d.Team == f.Team || slices.Contains(f.IDs, d.ID)
			}
		}
	case scoped:
		if f.Team != "" {
			scans = append(scans, officeScan{index: "team", eq: []any{f.Team}})
		}
		ids = f.IDs
	default:
		scans = []officeScan{{index: doc.ByID}}
	}
	items, next, err := officeList(ctx, o.s.engine, colCustomers, scans, ids, f.After, f.Limit, keep)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	out := make([]schemas.Customer, 0, len(items))
	for i := range items {
		c, err := o.openCustomer(&items[i].v, items[i].version)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *c)
	}
	return out, next, nil
}

// CustomerIDsOfTeam lists the ids of a team's customers, without opening
// them.
func (o *Office) CustomerIDsOfTeam(ctx context.Context, team string) ([]string, error) {
	q := doc.Query{Index: "team", Eq: []any{team}, Limit: 500}
	var ids []string
	for {
		p, err := o.s.engine.Scan(ctx, colCustomers, q)
		if err != nil {
			return nil, fmt.Errorf("customers of team %s: %w", team, err)
		}
		for _, d := range p.Docs {
			ids = append(ids, d.ID)
		}
		if p.Next == "" {
			return ids, nil
		}
		q.After = p.Next
	}
}

// Service types.

// InsertServiceType stores a new service type at version 1; a code
// another has is ErrDuplicate.
func (o *Office) InsertServiceType(ctx context.Context, st *schemas.ServiceType) error {
	v, err := doc.Insert(ctx, o.s.engine, colServiceTypes, st)
	if err != nil {
		return fmt.Errorf("insert service type %s (%s): %w", st.ID, st.Code, err)
	}
	st.Version = v
	return nil
}

// ServiceType returns the service type id, or ErrNotFound.
func (o *Office) ServiceType(ctx context.Context, id string) (*schemas.ServiceType, error) {
	st, v, err := doc.Get[schemas.ServiceType](ctx, o.s.engine, colServiceTypes, id)
	if err != nil {
		return nil, fmt.Errorf("service type %s: %w", id, err)
	}
	st.Version = v
	return &st, nil
}

// ReplaceServiceType stores st if the stored one is at version (else
// ErrVersion; a code another has is ErrDuplicate), and sets st.Version to
// the new version.
func (o *Office) ReplaceServiceType(ctx context.Context, st *schemas.ServiceType, version int64) error {
	v, err := doc.Replace(ctx, o.s.engine, colServiceTypes, version, st)
	if err != nil {
		return fmt.Errorf("replace service type %s (%s): %w", st.ID, st.Code, err)
	}
	st.Version = v
	return nil
}

// ServiceTypes returns a page of the catalog in id order (only active
// entries if activeOnly), and the after of the next page ("" at the end).
func (o *Office) ServiceTypes(ctx context.Context, activeOnly bool, after string, limit int) ([]schemas.ServiceType, string, error) {
	sc := officeScan{index: doc.ByID}
	if activeOnly {
		sc = officeScan{index: "active", eq: []any{true}}
	}
	items, next, err := officeList[schemas.ServiceType](ctx, o.s.engine, colServiceTypes, []officeScan{sc}, nil, after, limit, nil)
	if err != nil {
		return nil, "", fmt.Errorf("list service types: %w", err)
	}
	out := make([]schemas.ServiceType, len(items))
	for i, it := range items {
		out[i] = it.v
		out[i].Version = it.version
	}
	return out, next, nil
}

// Catalog returns every active service type, in id order: what phones pull.
func (o *Office) Catalog(ctx context.Context) ([]schemas.ServiceType, error) {
	out := []schemas.ServiceType{}
	after := ""
	for {
		page, next, err := o.ServiceTypes(ctx, true, after, 200)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// CatalogStamp is the time of the newest change to the catalog (zero when
// it is empty), read from the updatedAt index, so that a pull knows
// whether to send the catalog without reading it.
func (o *Office) CatalogStamp(ctx context.Context) (time.Time, error) {
	p, err := o.s.engine.Scan(ctx, colServiceTypes, doc.Query{Index: "updated", Desc: true, Limit: 1})
	if err != nil {
		return time.Time{}, fmt.Errorf("catalog stamp: %w", err)
	}
	if len(p.Docs) == 0 {
		return time.Time{}, nil
	}
	var st struct {
		UpdatedAt time.Time `bson:"updatedAt"`
	}
	if err := p.Docs[0].Decode(&st); err != nil {
		return time.Time{}, fmt.Errorf("catalog stamp: %w", err)
	}
	return st.UpdatedAt, nil
}

// Office lists.

// officeScan is one index scan of a list: the documents whose first index
// fields equal eq, on an index whose order past them is _id (ByID with no
// eq, or one declared with _id last).
type officeScan struct {
	index string
	eq    []any
}

type officeItem[T any] struct {
	id      string
	version int64
	v       T
}

// officeList reads one page of coll in id order after the id after: the
// documents that one of scans finds or that ids names, and that keep
// accepts (nil: all), at most limit, and returns the id to pass as after
// for the next page ("" at the end). Each source is read by key from
// after on, so a page never repeats or skips a document that stays in
// place, whatever is written meanwhile; documents keep refuses are read
// and skipped.
func officeList[T any](ctx context.Context, e doc.Engine, coll string, scans []officeScan, ids []string, after string, limit int, keep func(*T) bool) ([]officeItem[T], string, error) {
	if limit < 1 {
		return nil, "", fmt.Errorf("%w: limit %d", doc.ErrInvalid, limit)
	}
	if after != "" && !schemas.ValidID(after) {
		return nil, "", fmt.Errorf("%w: after %q is not an id", doc.ErrCursor, after)
	}
	// Each source yields up to limit+1 documents past after: the one more
	// tells whether there is a next page.
	var all []officeItem[T]
	take := func(d doc.Doc) (bool, error) {
		var v T
		if err := d.Decode(&v); err != nil {
			return false, err
		}
		if keep != nil && !keep(&v) {
			return false, nil
		}
		all = append(all, officeItem[T]{id: d.ID, version: d.Version, v: v})
		return true, nil
	}
	for _, sc := range scans {
		q := doc.Query{Index: sc.index, Eq: sc.eq, Limit: limit + 1}
		if after != "" {
			q.Range.Gt = after
		}
		for n := 0; n <= limit; {
			p, err := e.Scan(ctx, coll, q)
			if err != nil {
				return nil, "", err
			}
			for _, d := range p.Docs {
				ok, err := take(d)
				if err != nil {
					return nil, "", err
				}
				if ok {
					n++
				}
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
	}
	if ids != nil {
		wanted := slices.Sorted(slices.Values(ids))
		wanted = slices.Compact(wanted)
		i, _ := slices.BinarySearch(wanted, after)
		if i < len(wanted) && wanted[i] == after {
			i++
		}
		wanted = wanted[i:]
		for n := 0; n <= limit && len(wanted) > 0; {
			chunk := wanted[:min(len(wanted), limit+1)]
			wanted = wanted[len(chunk):]
			docs, err := e.GetMany(ctx, coll, chunk)
			if err != nil {
				return nil, "", err
			}
			for _, d := range docs {
				ok, err := take(d)
				if err != nil {
					return nil, "", err
				}
				if ok {
					n++
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b officeItem[T]) int { return strings.Compare(a.id, b.id) })
	all = slices.CompactFunc(all, func(a, b officeItem[T]) bool { return a.id == b.id })
	if len(all) <= limit {
		return all, "", nil
	}
	all = all[:limit]
	return all, all[limit-1].id, nil
}
