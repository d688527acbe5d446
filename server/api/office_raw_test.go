package api_test

import (
	"context"
	"errors"
	"fieldsync/store"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// rawOfficeDoc is a stored office record as it is at rest, read through
// the store's whole-store walk.
func rawOfficeDoc(ctx context.Context, db *store.Store, coll, id string) (bson.M, error) {
	var m bson.M
	found := errors.New("found")
	err := db.Each(ctx, func(c string, d bson.Raw) error {
		if c != coll || d.Lookup("_id").StringValue() != id {
			return nil
		}
		if err := bson.Unmarshal(d, &m); err != nil {
			return err
		}
		return found
	})
	if errors.Is(err, found) {
		return m, nil
	}
	if err == nil {
		err = fmt.Errorf("%s/%s is not stored", coll, id)
	}
	return nil, err
}
