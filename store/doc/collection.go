package doc

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collection declares a collection and the indexes it may be scanned by.
type Collection struct {
	Name    string
	Indexes []Index
}

// Index declares an index on ordered fields (dotted BSON paths, such as
// "payload.itemId"). Every document of the collection must hold every
// indexed field as a string, number, boolean or time, one type per field
// across the collection (engines order mixed types differently): store a
// zero value rather than omitting the field. Arrays and documents cannot be
// indexed. "_id" may only be the last field.
//
// A non-unique index orders ties by _id, so its order is total and a
// cursor resumes exactly where a page ended. To change an index's fields,
// declare it under a new name.
type Index struct {
	Name   string
	Fields []string
	Unique bool
}

// Order returns the fields the index orders by: its fields, then _id for a
// non-unique index.
func (ix Index) Order() []string {
	if ix.Unique || ix.Fields[len(ix.Fields)-1] == "_id" {
		return ix.Fields
	}
	return append(slices.Clip(ix.Fields), "_id")
}

var name = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// Validate reports a declaration the engines cannot serve.
func (c Collection) Validate() error {
	if !name.MatchString(c.Name) || strings.HasPrefix(strings.ToLower(c.Name), "sqlite_") {
		return fmt.Errorf("%w: collection name %q", ErrInvalid, c.Name)
	}
	seen := map[string]bool{}
	for _, ix := range c.Indexes {
		if !name.MatchString(ix.Name) || seen[ix.Name] || ix.Name == ByID {
			return fmt.Errorf("%w: collection %s: index name %q", ErrInvalid, c.Name, ix.Name)
		}
		seen[ix.Name] = true
		if len(ix.Fields) == 0 {
			return fmt.Errorf("%w: collection %s: index %s has no fields", ErrInvalid, c.Name, ix.Name)
		}
		for i, f := range ix.Fields {
			if !validPath(f) || slices.Contains(ix.Fields[:i], f) {
				return fmt.Errorf("%w: collection %s: index %s: field %q", ErrInvalid, c.Name, ix.Name, f)
			}
			if f == "_id" && i != len(ix.Fields)-1 {
				return fmt.Errorf("%w: collection %s: index %s: _id must be the last field", ErrInvalid, c.Name, ix.Name)
			}
		}
	}
	return nil
}

func validPath(p string) bool {
	if p == VersionField {
		return false
	}
	for _, s := range strings.Split(p, ".") {
		if s == "" || strings.ContainsAny(s, `$"`) || s == "_id" && p != "_id" {
			return false
		}
	}
	return true
}

// ByID is the index every collection has without declaring it: its _id,
// unique. Scan it to read a whole collection in id order, or ids in a range
// (ids derived from their cause often share a prefix).
const ByID = "_id"

// Index returns the declared index called name, or the implicit ByID.
func (c Collection) Index(name string) (Index, error) {
	if name == ByID {
		return Index{Name: ByID, Fields: []string{"_id"}, Unique: true}, nil
	}
	for _, ix := range c.Indexes {
		if ix.Name == name {
			return ix, nil
		}
	}
	return Index{}, fmt.Errorf("%w: collection %s has no index %q", ErrInvalid, c.Name, name)
}

// Fields returns the distinct indexed fields but _id, in declaration order.
func (c Collection) Fields() []string {
	var fs []string
	for _, ix := range c.Indexes {
		for _, f := range ix.Fields {
			if f != "_id" && !slices.Contains(fs, f) {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// Keys checks a document for c and returns its _id and the values of
// c.Fields(), in that order.
func (c Collection) Keys(d bson.Raw) (string, []bson.RawValue, error) {
	id, err := ID(d)
	if err != nil {
		return "", nil, fmt.Errorf("collection %s: %w", c.Name, err)
	}
	if _, err := d.LookupErr(VersionField); err == nil {
		return "", nil, fmt.Errorf("%w: collection %s: document %s has the reserved field %s", ErrInvalid, c.Name, id, VersionField)
	}
	fields := c.Fields()
	keys := make([]bson.RawValue, len(fields))
	for i, f := range fields {
		if keys[i], err = Field(d, f); err != nil {
			return "", nil, fmt.Errorf("collection %s: document %s: %w", c.Name, id, err)
		}
	}
	return id, keys, nil
}

// ID returns a document's _id, which must be a non-empty string.
func ID(d bson.Raw) (string, error) {
	v, err := d.LookupErr("_id")
	if err != nil {
		return "", fmt.Errorf("%w: document has no _id", ErrInvalid)
	}
	id, ok := v.StringValueOK()
	if !ok || id == "" {
		return "", fmt.Errorf("%w: _id must be a non-empty string, not %s", ErrInvalid, v)
	}
	return id, nil
}

// Field returns the value at a dotted path of d, which must be one an index
// can hold.
func Field(d bson.Raw, path string) (bson.RawValue, error) {
	v, err := d.LookupErr(strings.Split(path, ".")...)
	if err != nil {
		return bson.RawValue{}, fmt.Errorf("%w: indexed field %s is missing", ErrInvalid, path)
	}
	if !Indexable(v.Type) {
		return bson.RawValue{}, fmt.Errorf("%w: indexed field %s holds %s; indexes hold strings, numbers, booleans and times", ErrInvalid, path, v.Type)
	}
	return v, nil
}

// Indexable reports whether values of type t can be indexed.
func Indexable(t bson.Type) bool {
	switch t {
	case bson.TypeString, bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeBoolean, bson.TypeDateTime:
		return true
	}
	return false
}

// Value encodes a Go value the way it would be stored in a document.
func Value(v any) (bson.RawValue, error) {
	t, b, err := bson.MarshalValue(v)
	if err != nil {
		return bson.RawValue{}, fmt.Errorf("%w: encode %v: %w", ErrInvalid, v, err)
	}
	if !Indexable(t) {
		return bson.RawValue{}, fmt.Errorf("%w: %v encodes as %s; indexes hold strings, numbers, booleans and times", ErrInvalid, v, t)
	}
	return bson.RawValue{Type: t, Value: b}, nil
}

// Compare orders two indexable values as both engines do: numbers by
// value, strings by their bytes, false before true, times in order. ok is
// false for values of different kinds, which indexes do not compare.
func Compare(a, b bson.RawValue) (c int, ok bool) {
	switch {
	case a.IsNumber() && b.IsNumber():
		ai, aInt := a.AsInt64OK()
		bi, bInt := b.AsInt64OK()
		if aInt && bInt && a.Type != bson.TypeDouble && b.Type != bson.TypeDouble {
			return cmp.Compare(ai, bi), true
		}
		return cmp.Compare(a.AsFloat64(), b.AsFloat64()), true
	case a.Type != b.Type:
		return 0, false
	case a.Type == bson.TypeString:
		return strings.Compare(a.StringValue(), b.StringValue()), true
	case a.Type == bson.TypeBoolean:
		return cmp.Compare(boolInt(a.Boolean()), boolInt(b.Boolean())), true
	case a.Type == bson.TypeDateTime:
		return cmp.Compare(a.DateTime(), b.DateTime()), true
	}
	return 0, false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
