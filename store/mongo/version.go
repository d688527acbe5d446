package mongo

import (
	"encoding/binary"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"fieldsync/store/doc"
)

// withVersion returns d with the field _v = v appended.
func withVersion(d bson.Raw, v int64) bson.Raw {
	out := make([]byte, 0, len(d)+len(doc.VersionField)+10)
	out = append(out, d[:len(d)-1]...) // without the document's final 0
	out = bsoncore.AppendInt64Element(out, doc.VersionField, v)
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	return out
}

// withoutVersion splits a stored document into the document as written
// and its version.
func withoutVersion(stored bson.Raw) (doc.Doc, error) {
	elems, err := stored.Elements()
	if err != nil {
		return doc.Doc{}, fmt.Errorf("read stored document: %w", err)
	}
	out := make([]byte, 4, len(stored))
	var d doc.Doc
	for _, e := range elems {
		switch e.Key() {
		case doc.VersionField:
			d.Version, _ = e.Value().AsInt64OK()
			continue
		case "_id":
			d.ID, _ = e.Value().StringValueOK()
		}
		out = append(out, e...)
	}
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	if d.Version < 1 {
		return doc.Doc{}, fmt.Errorf("stored document %s has no version", d.ID)
	}
	d.Raw = out
	return d, nil
}
