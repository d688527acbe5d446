package doc

import (
	"encoding/base64"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A cursor is the index name and the last document's values of the
// index's order, as BSON in URL-safe base64: opaque to callers, and safe
// to hand to clients (a tampered one is ErrCursor or just another start).
type cursor struct {
	Index string          `bson:"i"`
	Keys  []bson.RawValue `bson:"k"`
}

func writeCursor(ix Index, d Doc) (string, error) {
	c := cursor{Index: ix.Name}
	for _, f := range ix.Order() {
		if f == "_id" {
			c.Keys = append(c.Keys, bson.RawValue{Type: bson.TypeString, Value: bsonString(d.ID)})
			continue
		}
		v, err := Field(d.Raw, f)
		if err != nil {
			return "", fmt.Errorf("cursor of %s: %w", d.ID, err)
		}
		c.Keys = append(c.Keys, v)
	}
	b, err := bson.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// readCursor returns the cursor's values of the index's order past the
// first skip fields.
func readCursor(s string, ix Index, skip int) ([]bson.RawValue, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrCursor)
	}
	var c cursor
	if err := bson.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCursor, err)
	}
	order := ix.Order()
	if c.Index != ix.Name || len(c.Keys) != len(order) {
		return nil, fmt.Errorf("%w: made for another index", ErrCursor)
	}
	for i, k := range c.Keys {
		if !Indexable(k.Type) || order[i] == "_id" && k.Type != bson.TypeString {
			return nil, fmt.Errorf("%w: key %d is %s", ErrCursor, i, k.Type)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrCursor, i, err)
		}
	}
	return c.Keys[skip:], nil
}

func bsonString(s string) []byte {
	_, b, _ := bson.MarshalValue(s)
	return b
}

// CursorAt is the cursor that continues a scan of ix after d, as a page's
// Next does: for a caller that drops documents of a page (a filter not in
// the index) and must resume after the last one it kept.
func CursorAt(ix Index, d Doc) (string, error) { return writeCursor(ix, d) }
