package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
)

// CreateSession inserts a new session (a refresh-token family).
func (db *DB) CreateSession(ctx context.Context, s *schemas.Session) error {
	if _, err := db.C(colSessions).InsertOne(ctx, s); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByID returns the session, or ENOTFOUND.
func (db *DB) SessionByID(ctx context.Context, id string) (*schemas.Session, error) {
	var s schemas.Session
	if err := db.C(colSessions).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&s); err != nil {
		if isNoDocs(err) {
			return nil, schemas.Errorf(schemas.ENOTFOUND, "session not found")
		}
		return nil, fmt.Errorf("find session: %w", err)
	}
	return &s, nil
}

// TouchSession records that the session was used at now.
func (db *DB) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.C(colSessions).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "lastUsedAt", Value: now.UTC()}}}})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RevokeSessions ends every live session of the user, or only those of one
// device when deviceID is not empty. Revoking twice keeps the first reason.
func (db *DB) RevokeSessions(ctx context.Context, userID, deviceID, reason string, now time.Time) error {
	filter := bson.D{{Key: "userId", Value: userID}, {Key: "revokedAt", Value: nil}}
	if deviceID != "" {
		filter = append(filter, bson.E{Key: "deviceId", Value: deviceID})
	}
	return db.revoke(ctx, filter, reason, now)
}

// RevokeSession ends one session.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, now time.Time) error {
	return db.revoke(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revokedAt", Value: nil}}, reason, now)
}

func (db *DB) revoke(ctx context.Context, filter bson.D, reason string, now time.Time) error {
	_, err := db.C(colSessions).UpdateMany(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "revokedAt", Value: now.UTC()},
		{Key: "revokeReason", Value: reason},
	}}})
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// InsertRefreshToken stores a refresh token's hash. The hash is the id, so
// storing the same token twice (two requests rotating to one successor) is
// a no-op.
func (db *DB) InsertRefreshToken(ctx context.Context, t *schemas.RefreshToken) error {
	if _, err := db.C(colRefreshTokens).InsertOne(ctx, t); err != nil && !isDup(err) {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// ClaimRefreshToken rotates the unused token with the hash to successor at
// now and returns it as stored afterwards; won reports whether this call
// rotated it. It is one conditional update of one document, so of
// concurrent claims on MongoDB exactly one wins, and a loser reads the
// winner's rotation (UsedAt and Successor, written by that same update). An
// unknown hash is ENOTFOUND.
func (db *DB) ClaimRefreshToken(ctx context.Context, hash, successor string, now time.Time) (t *schemas.RefreshToken, won bool, err error) {
	col := db.C(colRefreshTokens)
	t = new(schemas.RefreshToken)
	err = col.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: hash}, {Key: "used", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}, {Key: "usedAt", Value: now.UTC()}, {Key: "successor", Value: successor}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(t)
	if err == nil {
		return t, true, nil
	}
	if !isNoDocs(err) {
		return nil, false, fmt.Errorf("claim refresh token: %w", err)
	}
	if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(t); err != nil {
		if isNoDocs(err) {
			return nil, false, schemas.Errorf(schemas.ENOTFOUND, "refresh token not found")
		}
		return nil, false, fmt.Errorf("find refresh token: %w", err)
	}
	return t, false, nil
}
