package sync

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	"fieldsync/server/store/storetest"
)

// TestMigrateUploadsPerUploader: content finished before uploads were per
// uploader stays readable by its uploader and through the links made
// then; unfinished uploads of the old shape are dropped with their parts.
func TestMigrateUploadsPerUploader(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	e := New(db, func() time.Time { return t0 }, slog.New(slog.DiscardHandler), DefaultRules, DefaultLimits, nil)
	e.SetVisitChecker(func(_ context.Context, _ *schemas.Actor, visitID string) (bool, error) { return visitID == "v1", nil })
	done, open := strings.Repeat("a", 64), strings.Repeat("b", 64)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.C(colAttachments).InsertOne(ctx, bson.D{{Key: "_id", Value: done}, {Key: "size", Value: 5}, {Key: "contentType", Value: "image/png"},
		{Key: "uploaderId", Value: "u1"}, {Key: "complete", Value: true}, {Key: "createdAt", Value: t0}, {Key: "completedAt", Value: t0}}))
	must(db.C(colAttachments).InsertOne(ctx, bson.D{{Key: "_id", Value: open}, {Key: "size", Value: 5}, {Key: "contentType", Value: "image/png"},
		{Key: "uploaderId", Value: "u1"}, {Key: "complete", Value: false}, {Key: "createdAt", Value: t0}}))
	must(db.C(colParts).InsertOne(ctx, bson.D{{Key: "_id", Value: open + "/0"}, {Key: "sha256", Value: open}, {Key: "offset", Value: 0}, {Key: "len", Value: 2}, {Key: "data", Value: []byte("ab")}}))
	must(db.C(colLinks).InsertOne(ctx, bson.D{{Key: "_id", Value: done + "/v1"}, {Key: "sha256", Value: done}, {Key: "visitId", Value: "v1"}}))
	must(nil, db.DB.GridFSBucket().UploadFromStreamWithID(ctx, done, done, bytes.NewReader([]byte("hello"))))
	for range 2 { // idempotent
		must(nil, migrateUploads(ctx, db))
	}

	read := func(userID string) (string, error) {
		_, rc, err := e.OpenAttachment(ctx, &schemas.Actor{UserID: userID, Role: schemas.RoleWorker}, done)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if got, err := read("u1"); got != "hello" || err != nil {
		t.Fatalf("the uploader reads %q, %v", got, err)
	}
	if got, err := read("u2"); got != "hello" || err != nil { // through the old link to a visit it may see
		t.Fatalf("through the old link: %q, %v", got, err)
	}
	if att, err := e.Attachment(ctx, &schemas.Actor{UserID: "u1"}, done); err != nil || !att.Complete {
		t.Fatalf("the uploader's upload %+v, %v", att, err)
	}
	if _, err := e.Attachment(ctx, &schemas.Actor{UserID: "u1"}, open); schemas.ErrorCode(err) != schemas.ENOTFOUND {
		t.Fatalf("the unfinished old upload: %v", err)
	}
	for col, want := range map[string]int64{colAttachments: 1, colParts: 0, colUploaders: 1} {
		if n, err := db.C(col).CountDocuments(ctx, bson.D{}); n != want || err != nil {
			t.Fatalf("%s: %d documents, want %d (%v)", col, n, want, err)
		}
	}
}
