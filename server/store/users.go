package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

// CreateUser inserts u; a taken login is ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, u *schemas.User) error {
	if _, err := db.C(colUsers).InsertOne(ctx, u); err != nil {
		if isDup(err) {
			return schemas.Errorf(schemas.ECONFLICT, "login %q is already taken", u.Login).With("field", "login")
		}
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByID returns the user with the id, or ENOTFOUND.
func (db *DB) UserByID(ctx context.Context, id string) (*schemas.User, error) {
	return db.findUser(ctx, bson.D{{Key: "_id", Value: id}})
}

// UserByLogin returns the user with the (normalized) login, or ENOTFOUND.
func (db *DB) UserByLogin(ctx context.Context, login string) (*schemas.User, error) {
	return db.findUser(ctx, bson.D{{Key: "login", Value: login}})
}

func (db *DB) findUser(ctx context.Context, filter bson.D) (*schemas.User, error) {
	var u schemas.User
	if err := db.C(colUsers).FindOne(ctx, filter).Decode(&u); err != nil {
		if isNoDocs(err) {
			return nil, schemas.Errorf(schemas.ENOTFOUND, "user not found")
		}
		return nil, fmt.Errorf("find user: %w", err)
	}
	return &u, nil
}

// HasAdmin reports whether any admin account exists, enabled or not.
func (db *DB) HasAdmin(ctx context.Context) (bool, error) {
	n, err := db.C(colUsers).CountDocuments(ctx, bson.D{{Key: "role", Value: schemas.RoleAdmin}}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n > 0, nil
}

// UserFilter selects users for a listing page.
type UserFilter struct {
	Role  schemas.Role
	Team  string // "": any
	After string // the last id of the previous page
	Limit int
}

// ListUsers returns one page of users in id order (ids are time-ordered).
func (db *DB) ListUsers(ctx context.Context, f UserFilter) ([]schemas.User, error) {
	filter := bson.D{}
	if f.Role != "" {
		filter = append(filter, bson.E{Key: "role", Value: f.Role})
	}
	if f.Team != "" {
		filter = append(filter, bson.E{Key: "team", Value: f.Team})
	}
	if f.After != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	}
	cur, err := db.C(colUsers).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(f.Limit)))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users := []schemas.User{}
	if err := cur.All(ctx, &users); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UserChanges are the stored fields an update sets; nil means unchanged.
type UserChanges struct {
	Name         *string
	Disabled     *bool
	PasswordHash *string
	Team         *string
	Locale       *string
	WorkerID     *string
	CustomerID   *string
}

// UpdateUser applies ch to the user and returns the result, or ENOTFOUND.
func (db *DB) UpdateUser(ctx context.Context, id string, ch UserChanges, now time.Time) (*schemas.User, error) {
	set := bson.D{{Key: "updatedAt", Value: now.UTC()}}
	add := func(k string, v any) { set = append(set, bson.E{Key: k, Value: v}) }
	if ch.Name != nil {
		add("name", *ch.Name)
	}
	if ch.Disabled != nil {
		add("disabled", *ch.Disabled)
	}
	if ch.PasswordHash != nil {
		add("passwordHash", *ch.PasswordHash)
	}
	if ch.Team != nil {
		add("team", *ch.Team)
	}
	if ch.Locale != nil {
		add("locale", *ch.Locale)
	}
	if ch.WorkerID != nil {
		add("workerId", *ch.WorkerID)
	}
	if ch.CustomerID != nil {
		add("customerId", *ch.CustomerID)
	}
	var u schemas.User
	err := db.C(colUsers).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	if err != nil {
		if isNoDocs(err) {
			return nil, schemas.Errorf(schemas.ENOTFOUND, "user not found")
		}
		return nil, fmt.Errorf("update user: %w", err)
	}
	return &u, nil
}
