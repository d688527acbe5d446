package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"fieldsync/schemas"
	"fieldsync/server/store"
)

// Photos and signatures are uploaded apart from operations, addressed by
// their SHA-256, in chunks a dropped connection can resume (the offsets of
// the tus protocol). Uploads are per uploader: knowing a hash gives
// nothing. Each uploader sends the whole content, which is verified once,
// when complete, against the hash and the declared type; the content is
// stored once in GridFS however many upload it. Who uploaded a content may
// read it, and so may whoever may see a visit that references it.
//
// An operation may name any hash, before its upload is even announced (a
// phone pushes its operations while its photos are on their way): the
// reference is recorded, and the link it makes records its user. It lets
// those who may see the visit read the content only once that user's own
// upload of it has completed, unless the user named it from a visit it may
// see already. Naming or announcing a hash proves nothing.

const (
	colAttachments = "attachments"          // stored content, once per hash
	colUploaders   = "attachment_uploaders" // who sent a content in full: userId/sha
	colUploads     = "attachment_uploads"   // unfinished uploads: userId/sha
	colParts       = "attachment_parts"     // their chunks: userId/sha/offset
	colLinks       = "attachment_links"     // visits that reference a content
)

func init() {
	store.Register(store.Migration{Version: 11, Name: "attachments", Up: func(ctx context.Context, db *store.DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colParts:       {{Keys: bson.D{{Key: "sha256", Value: 1}, {Key: "offset", Value: 1}}}},
			colLinks:       {{Keys: bson.D{{Key: "sha256", Value: 1}}}},
			colAttachments: nil,
		})
	}})
	store.Register(store.Migration{Version: 12, Name: "attachment uploads per uploader", Up: migrateUploads})
}

// migrateUploads moves to uploads per uploader: a finished upload's
// uploader keeps it; unfinished uploads are dropped (the phone announces
// them again and starts over, as after any expiry); links made before
// keep counting.
func migrateUploads(ctx context.Context, db *store.DB) error {
	if err := db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
		colUploads:   {{Keys: bson.D{{Key: "userId", Value: 1}}}, {Keys: bson.D{{Key: "expiresAt", Value: 1}}}},
		colParts:     {{Keys: bson.D{{Key: "uploadId", Value: 1}}}},
		colUploaders: nil,
	}); err != nil {
		return err
	}
	cur, err := db.C(colAttachments).Find(ctx, bson.D{{Key: "complete", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	var old []struct {
		SHA256      string     `bson:"_id"`
		Size        int64      `bson:"size"`
		ContentType string     `bson:"contentType"`
		UploaderID  string     `bson:"uploaderId"`
		Complete    bool       `bson:"complete"`
		CreatedAt   time.Time  `bson:"createdAt"`
		CompletedAt *time.Time `bson:"completedAt"`
	}
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	for _, o := range old {
		id := bson.D{{Key: "_id", Value: o.SHA256}}
		if !o.Complete {
			if _, err := db.C(colAttachments).DeleteOne(ctx, id); err != nil {
				return fmt.Errorf("drop unfinished upload: %w", err)
			}
			continue
		}
		done := o.CreatedAt
		if o.CompletedAt != nil {
			done = *o.CompletedAt
		}
		u := uploaderDoc{ID: uploadKey(o.UploaderID, o.SHA256), SHA256: o.SHA256, UserID: o.UploaderID, CompletedAt: done}
		if _, err := db.C(colUploaders).InsertOne(ctx, u); err != nil && !store.IsDuplicate(err) {
			return fmt.Errorf("record uploader: %w", err)
		}
		if _, err := db.C(colAttachments).UpdateOne(ctx, id, bson.D{
			{Key: "$set", Value: bson.D{{Key: "fileId", Value: o.SHA256}}},
			{Key: "$unset", Value: bson.D{{Key: "complete", Value: ""}, {Key: "uploaderId", Value: ""}, {Key: "completedAt", Value: ""}}},
		}); err != nil {
			return fmt.Errorf("migrate attachment: %w", err)
		}
	}
	if _, err := db.C(colParts).DeleteMany(ctx, bson.D{{Key: "uploadId", Value: bson.D{{Key: "$exists", Value: false}}}}); err != nil {
		return fmt.Errorf("drop old parts: %w", err)
	}
	return nil
}

// AttachmentTypes are the content types accepted.
var AttachmentTypes = []string{"image/jpeg", "image/png", "image/webp", "image/heic"}

// Attachment is what an uploader sees of its own upload.
type Attachment struct {
	SHA256      string     `json:"sha256"`
	Size        int64      `json:"size"`
	ContentType string     `json:"contentType"`
	Offset      int64      `json:"offset"` // bytes received so far
	Complete    bool       `json:"complete"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"` // an unfinished upload untouched until then is dropped
}

// blobDoc is stored content.
type blobDoc struct {
	SHA256      string    `bson:"_id"`
	FileID      string    `bson:"fileId"` // its GridFS file
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	CreatedAt   time.Time `bson:"createdAt"`
}

// uploaderDoc records that a user sent a content in full.
type uploaderDoc struct {
	ID          string    `bson:"_id"` // userId/sha
	SHA256      string    `bson:"sha256"`
	UserID      string    `bson:"userId"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	CreatedAt   time.Time `bson:"createdAt"`
	CompletedAt time.Time `bson:"completedAt"`
}

// uploadDoc is an unfinished upload. Offset is authoritative: a chunk is
// accepted by moving it, conditionally, so no chunk reads the others.
type uploadDoc struct {
	ID          string    `bson:"_id"` // userId/sha
	SHA256      string    `bson:"sha256"`
	UserID      string    `bson:"userId"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	Offset      int64     `bson:"offset"`
	CreatedAt   time.Time `bson:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt"`
	ExpiresAt   time.Time `bson:"expiresAt"`
}

type part struct {
	ID       string `bson:"_id"` // uploadId/offset
	UploadID string `bson:"uploadId"`
	Offset   int64  `bson:"offset"`
	Len      int64  `bson:"len"`
	Data     []byte `bson:"data"`
}

type linkDoc struct {
	ID      string `bson:"_id"` // sha/visitId/userId; sha/visitId before uploads were per uploader
	SHA256  string `bson:"sha256"`
	VisitID string `bson:"visitId"`
	UserID  string `bson:"userId,omitempty"` // who referenced it; empty on links made before
	Shared  bool   `bson:"shared,omitempty"` // named as one on a visit the user could see, not as its upload
}

func uploadKey(userID, sha string) string { return userID + "/" + sha }

func (u *uploadDoc) view() *Attachment {
	exp := u.ExpiresAt
	return &Attachment{SHA256: u.SHA256, Size: u.Size, ContentType: u.ContentType, Offset: u.Offset, CreatedAt: u.CreatedAt, ExpiresAt: &exp}
}

func (u *uploaderDoc) view() *Attachment {
	done := u.CompletedAt
	return &Attachment{SHA256: u.SHA256, Size: u.Size, ContentType: u.ContentType, Offset: u.Size, Complete: true, CreatedAt: u.CreatedAt, CompletedAt: &done}
}

// NewUpload announces an upload.
type NewUpload struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
}

// AttachmentLimits bound uploads.
type AttachmentLimits struct {
	MaxBytes        int64         // whole file
	MaxChunk        int64         // one PATCH
	MinChunk        int64         // one PATCH but the last: bounds the parts of an upload
	MaxPending      int           // unfinished uploads per user
	MaxPendingBytes int64         // their declared sizes together
	UploadTTL       time.Duration // an unfinished upload untouched this long is dropped
}

// DefaultAttachmentLimits fit phone photos and signatures: eight photos,
// or two of the largest files, on their way at once per user.
var DefaultAttachmentLimits = AttachmentLimits{MaxBytes: 10 << 20, MaxChunk: 1 << 20, MinChunk: 16 << 10,
	MaxPending: 8, MaxPendingBytes: 24 << 20, UploadTTL: 24 * time.Hour}

// SetAttachmentLimits replaces the defaults.
func (e *Engine) SetAttachmentLimits(l AttachmentLimits) { e.attLimits = l }

// VisitChecker says whether the actor may see a visit. A visit it may not
// see is (false, nil); an error is a failure to tell.
type VisitChecker func(ctx context.Context, a *schemas.Actor, visitID string) (bool, error)

// SetVisitChecker tells the engine who may see which visit (the office's
// rules). Without one, only uploaders and admins read attachments.
func (e *Engine) SetVisitChecker(c VisitChecker) { e.canSee = c }

// Validate checks the announcement.
func (n *NewUpload) Validate() error {
	n.SHA256 = strings.ToLower(n.SHA256)
	if !ValidHash(n.SHA256) {
		return schemas.FieldError("sha256", "sha256 must be the content's SHA-256 in hex")
	}
	if !slices.Contains(AttachmentTypes, n.ContentType) {
		return schemas.FieldError("contentType", "contentType must be one of %s", strings.Join(AttachmentTypes, ", "))
	}
	if n.Size < 1 {
		return schemas.FieldError("size", "size must be at least 1 byte")
	}
	return nil
}

var errUploadNotFound = schemas.Errorf(schemas.ENOTFOUND, "no upload of this hash under way; announce it with POST /v1/attachments")

// StartUpload creates the actor's upload of a content, or returns the one
// under way (with the offset to resume from) or finished. It answers the
// same whether or not anyone else stored the content: each uploader sends
// it in full. The bool says whether the upload is new.
func (e *Engine) StartUpload(ctx context.Context, a *schemas.Actor, n NewUpload) (*Attachment, bool, error) {
	if err := n.Validate(); err != nil {
		return nil, false, err
	}
	if n.Size > e.attLimits.MaxBytes {
		return nil, false, schemas.Errorf(schemas.ETOOLARGE, "attachments are at most %d bytes", e.attLimits.MaxBytes).With("maxBytes", e.attLimits.MaxBytes)
	}
	now := e.now().UTC()
	if err := e.SweepUploads(ctx, 20); err != nil {
		e.log.WarnContext(ctx, "sweeping expired uploads failed", "err", err)
	}
	id := uploadKey(a.UserID, n.SHA256)
	for attempt := 0; attempt < 5; attempt++ {
		if done, err := e.uploader(ctx, a.UserID, n.SHA256); err != nil || done != nil {
			if err != nil {
				return nil, false, err
			}
			return done.view(), false, nil
		}
		up := &uploadDoc{ID: id, SHA256: n.SHA256, UserID: a.UserID, Size: n.Size, ContentType: n.ContentType,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(e.attLimits.UploadTTL)}
		_, err := e.db.C(colUploads).InsertOne(ctx, up)
		if err == nil {
			// Inserted first, counted after: each announcement counts
			// itself and every one inserted before, so concurrent ones may
			// all be refused but never together pass the quota.
			if err := e.withinQuota(ctx, a.UserID, now); err != nil {
				if _, derr := e.db.C(colUploads).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "offset", Value: 0}}); derr != nil {
					return nil, false, fmt.Errorf("withdraw upload: %w", derr)
				}
				return nil, false, err
			}
			return up.view(), true, nil
		}
		if !store.IsDuplicate(err) {
			return nil, false, fmt.Errorf("start upload: %w", err)
		}
		cur, err := e.upload(ctx, id)
		if err != nil {
			return nil, false, err
		}
		switch {
		case cur == nil: // finished or swept meanwhile: look again
			continue
		case !cur.ExpiresAt.After(now):
			if err := e.dropUpload(ctx, cur, true); err != nil {
				return nil, false, err
			}
			continue
		case cur.Size != n.Size || cur.ContentType != n.ContentType:
			return nil, false, schemas.Errorf(schemas.ECONFLICT, "your upload of this hash under way has another size or type").
				With("size", cur.Size).With("contentType", cur.ContentType)
		case cur.Offset == cur.Size: // all received, but the completion was interrupted
			att, err := e.complete(ctx, cur)
			return att, false, err
		}
		return cur.view(), false, nil
	}
	return nil, false, schemas.Errorf(schemas.ECONFLICT, "the upload changed while being announced; announce it again")
}

// withinQuota checks the user's unfinished uploads against the limits.
func (e *Engine) withinQuota(ctx context.Context, userID string, now time.Time) error {
	cur, err := e.db.C(colUploads).Find(ctx, bson.D{{Key: "userId", Value: userID}, {Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}}},
		options.Find().SetProjection(bson.D{{Key: "size", Value: 1}, {Key: "expiresAt", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read uploads: %w", err)
	}
	var ups []uploadDoc
	if err := cur.All(ctx, &ups); err != nil {
		return fmt.Errorf("read uploads: %w", err)
	}
	var total int64
	first := now.Add(e.attLimits.UploadTTL)
	for _, u := range ups {
		total += u.Size
		if u.ExpiresAt.Before(first) {
			first = u.ExpiresAt
		}
	}
	l := e.attLimits
	if len(ups) <= l.MaxPending && total <= l.MaxPendingBytes {
		return nil
	}
	// Finishing an upload frees its share at once; otherwise the oldest
	// expires then.
	retry := max(1, int((first.Sub(now)+time.Second-1)/time.Second))
	return schemas.Errorf(schemas.ERATELIMIT, "at most %d unfinished uploads of %d bytes in all per user; finish one, or wait for it to expire", l.MaxPending, l.MaxPendingBytes).
		With("quota", "unfinished_uploads").With("maxPending", l.MaxPending).With("maxPendingBytes", l.MaxPendingBytes).With("retryAfter", retry)
}

// Attachment returns the actor's own upload of a content, finished or
// not; anyone else's is not found.
func (e *Engine) Attachment(ctx context.Context, a *schemas.Actor, sha string) (*Attachment, error) {
	if done, err := e.uploader(ctx, a.UserID, sha); err != nil || done != nil {
		if err != nil {
			return nil, err
		}
		return done.view(), nil
	}
	up, err := e.liveUpload(ctx, a.UserID, sha)
	if err != nil {
		return nil, err
	}
	return up.view(), nil
}

func (e *Engine) uploader(ctx context.Context, userID, sha string) (*uploaderDoc, error) {
	var u uploaderDoc
	err := e.db.C(colUploaders).FindOne(ctx, bson.D{{Key: "_id", Value: uploadKey(userID, sha)}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read uploader: %w", err)
	}
	return &u, nil
}

func (e *Engine) upload(ctx context.Context, id string) (*uploadDoc, error) {
	var u uploadDoc
	err := e.db.C(colUploads).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	return &u, nil
}

// liveUpload is the user's unfinished, unexpired upload of a content.
func (e *Engine) liveUpload(ctx context.Context, userID, sha string) (*uploadDoc, error) {
	up, err := e.upload(ctx, uploadKey(userID, sha))
	if err != nil {
		return nil, err
	}
	if up == nil || !up.ExpiresAt.After(e.now()) {
		return nil, errUploadNotFound
	}
	return up, nil
}

// AppendChunk adds bytes at offset to the actor's own upload; offset must
// be the current one (tus: a mismatch is 409 with the offset to resume
// from). The last chunk completes the upload: the content is read once,
// hashed, checked against its type, and stored unless it is already.
func (e *Engine) AppendChunk(ctx context.Context, a *schemas.Actor, sha string, offset int64, data []byte) (*Attachment, error) {
	if done, err := e.uploader(ctx, a.UserID, sha); err != nil || done != nil {
		if err != nil {
			return nil, err
		}
		return done.view(), nil // uploaded already (perhaps by this very request, retried)
	}
	up, err := e.liveUpload(ctx, a.UserID, sha)
	if err != nil {
		return nil, err
	}
	if up.Offset == up.Size {
		return e.complete(ctx, up) // all received, but the completion was interrupted
	}
	if offset != up.Offset {
		return nil, schemas.Errorf(schemas.ECONFLICT, "upload is at offset %d", up.Offset).With("offset", up.Offset)
	}
	n, l := int64(len(data)), e.attLimits
	last := offset+n == up.Size
	if n == 0 || n > l.MaxChunk || offset+n > up.Size || (!last && n < l.MinChunk) {
		return nil, schemas.Errorf(schemas.EINVALID, "a chunk is %d to %d bytes (the last one may be shorter) and may not pass the declared size", l.MinChunk, l.MaxChunk).
			With("minChunk", l.MinChunk).With("maxChunk", l.MaxChunk)
	}
	p := part{ID: up.ID + "/" + strconv.FormatInt(offset, 10), UploadID: up.ID, Offset: offset, Len: n, Data: data}
	if _, err := e.db.C(colParts).InsertOne(ctx, p); err != nil {
		if !store.IsDuplicate(err) {
			return nil, fmt.Errorf("store chunk: %w", err)
		}
		// Left by an attempt that died before moving the offset, or sent
		// twice at once by this uploader: the last one written stands, and
		// the completion checks the whole content anyway.
		if _, err := e.db.C(colParts).ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.ID}}, p); err != nil {
			return nil, fmt.Errorf("store chunk: %w", err)
		}
	}
	now := e.now().UTC()
	res, err := e.db.C(colUploads).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: up.ID}, {Key: "offset", Value: offset}, {Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "offset", Value: offset + n}, {Key: "updatedAt", Value: now}, {Key: "expiresAt", Value: now.Add(l.UploadTTL)}}}})
	if err != nil {
		return nil, fmt.Errorf("advance upload: %w", err)
	}
	if res.MatchedCount == 0 { // a concurrent chunk moved it, or it expired
		cur, err := e.liveUpload(ctx, a.UserID, sha)
		if err != nil {
			return nil, err
		}
		return nil, schemas.Errorf(schemas.ECONFLICT, "upload is at offset %d", cur.Offset).With("offset", cur.Offset)
	}
	up.Offset, up.UpdatedAt, up.ExpiresAt = offset+n, now, now.Add(l.UploadTTL)
	if !last {
		return up.view(), nil
	}
	return e.complete(ctx, up)
}

// complete verifies a fully received upload and records its uploader.
func (e *Engine) complete(ctx context.Context, up *uploadDoc) (*Attachment, error) {
	data, err := e.assemble(ctx, up)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != up.Size || hex.EncodeToString(sum[:]) != up.SHA256 {
		if err := e.resetUpload(ctx, up); err != nil {
			return nil, err
		}
		return nil, schemas.Errorf(schemas.EINVALID, "the content does not match its sha256; the upload was reset, send it again from offset 0").With("offset", 0)
	}
	if err := checkContent(up.ContentType, data); err != nil {
		// The same bytes will never pass as this type: drop the upload.
		if derr := e.dropUpload(ctx, up, false); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	now := e.now().UTC()
	if err := e.storeBlob(ctx, up, data, now); err != nil {
		return nil, err
	}
	u := &uploaderDoc{ID: up.ID, SHA256: up.SHA256, UserID: up.UserID, Size: up.Size, ContentType: up.ContentType, CreatedAt: up.CreatedAt, CompletedAt: now}
	if err := e.insertOnce(ctx, colUploaders, u); err != nil {
		return nil, err
	}
	if err := e.dropUpload(ctx, up, false); err != nil {
		e.log.WarnContext(ctx, "left upload parts behind", "upload", up.ID, "err", err)
	}
	return u.view(), nil
}

// assemble reads an upload's chunks once, in order, by id.
func (e *Engine) assemble(ctx context.Context, up *uploadDoc) ([]byte, error) {
	buf := make([]byte, 0, up.Size)
	for off := int64(0); off < up.Size; {
		var p part
		err := e.db.C(colParts).FindOne(ctx, bson.D{{Key: "_id", Value: up.ID + "/" + strconv.FormatInt(off, 10)}}).Decode(&p)
		if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && (p.Len < 1 || int64(len(p.Data)) != p.Len)) {
			break // a hole: the hash check fails and resets the upload
		}
		if err != nil {
			return nil, fmt.Errorf("read chunk: %w", err)
		}
		buf = append(buf, p.Data...)
		off += p.Len
	}
	return buf, nil
}

// storeBlob stores the content unless it is stored already. Each attempt
// writes a GridFS file of its own id and the first to record it wins, so
// concurrent uploads of one content never write the same file.
func (e *Engine) storeBlob(ctx context.Context, up *uploadDoc, data []byte, now time.Time) error {
	if b, err := e.blob(ctx, up.SHA256); err != nil || b != nil {
		return err
	}
	fileID := schemas.NewIDAt(now)
	bucket := e.db.DB.GridFSBucket()
	if err := bucket.UploadFromStreamWithID(ctx, fileID, up.SHA256, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	// GridFS stamps uploadDate with the wall clock; the store keeps to the
	// injected one.
	if _, err := e.db.C("fs.files").UpdateOne(ctx, bson.D{{Key: "_id", Value: fileID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "uploadDate", Value: now}}}}); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	b := blobDoc{SHA256: up.SHA256, FileID: fileID, Size: up.Size, ContentType: up.ContentType, CreatedAt: now}
	if _, err := e.db.C(colAttachments).InsertOne(ctx, b); err != nil {
		if !store.IsDuplicate(err) {
			return fmt.Errorf("record attachment: %w", err)
		}
		if err := bucket.Delete(ctx, fileID); err != nil { // stored meanwhile by another uploader
			e.log.WarnContext(ctx, "left a duplicate attachment file behind", "file", fileID, "err", err)
		}
	}
	return nil
}

func (e *Engine) blob(ctx context.Context, sha string) (*blobDoc, error) {
	var b blobDoc
	err := e.db.C(colAttachments).FindOne(ctx, bson.D{{Key: "_id", Value: sha}}).Decode(&b)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read attachment: %w", err)
	}
	return &b, nil
}

// resetUpload forgets an upload's chunks: it starts again at offset 0.
// Chunks first, so no chunk sent after the reset is deleted.
func (e *Engine) resetUpload(ctx context.Context, up *uploadDoc) error {
	if _, err := e.db.C(colParts).DeleteMany(ctx, bson.D{{Key: "uploadId", Value: up.ID}}); err != nil {
		return fmt.Errorf("reset upload: %w", err)
	}
	if _, err := e.db.C(colUploads).UpdateOne(ctx, bson.D{{Key: "_id", Value: up.ID}, {Key: "offset", Value: up.Offset}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "offset", Value: 0}, {Key: "updatedAt", Value: e.now().UTC()}}}}); err != nil {
		return fmt.Errorf("reset upload: %w", err)
	}
	return nil
}

// dropUpload deletes an upload and its chunks; expired deletes it only if
// it is still expired (a sweep racing a new announcement).
func (e *Engine) dropUpload(ctx context.Context, up *uploadDoc, expired bool) error {
	if _, err := e.db.C(colParts).DeleteMany(ctx, bson.D{{Key: "uploadId", Value: up.ID}}); err != nil {
		return fmt.Errorf("drop upload: %w", err)
	}
	filter := bson.D{{Key: "_id", Value: up.ID}}
	if expired {
		filter = append(filter, bson.E{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: e.now().UTC()}}})
	}
	if _, err := e.db.C(colUploads).DeleteOne(ctx, filter); err != nil {
		return fmt.Errorf("drop upload: %w", err)
	}
	return nil
}

// SweepUploads drops up to limit unfinished uploads past their expiry,
// with their chunks. Announcing an upload sweeps a few, so storage left by
// abandoned uploads is reclaimed as uploads go on.
func (e *Engine) SweepUploads(ctx context.Context, limit int) error {
	cur, err := e.db.C(colUploads).Find(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: e.now().UTC()}}}},
		options.Find().SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("find expired uploads: %w", err)
	}
	var ups []uploadDoc
	if err := cur.All(ctx, &ups); err != nil {
		return fmt.Errorf("find expired uploads: %w", err)
	}
	for i := range ups {
		if err := e.dropUpload(ctx, &ups[i], true); err != nil {
			return err
		}
	}
	return nil
}

// OpenAttachment returns a stored content to an admin, to a user who
// uploaded it, and to whoever may see a visit with a reference to it that
// counts. Anyone else gets not-found, whether or not it exists; the
// actor's own unfinished upload is a conflict.
func (e *Engine) OpenAttachment(ctx context.Context, a *schemas.Actor, sha string) (*Attachment, io.ReadCloser, error) {
	notFound := schemas.Errorf(schemas.ENOTFOUND, "attachment not found")
	if !ValidHash(sha) {
		return nil, nil, notFound
	}
	allowed := a.Role == schemas.RoleAdmin
	if !allowed {
		done, err := e.uploader(ctx, a.UserID, sha)
		if err != nil {
			return nil, nil, err
		}
		allowed = done != nil
	}
	if !allowed {
		seen, err := e.onVisibleVisit(ctx, a, sha)
		if err != nil {
			return nil, nil, err
		}
		allowed = seen
	}
	if !allowed {
		if up, err := e.liveUpload(ctx, a.UserID, sha); err == nil {
			return nil, nil, schemas.Errorf(schemas.ECONFLICT, "the upload is not finished").With("offset", up.Offset)
		}
		return nil, nil, notFound
	}
	b, err := e.blob(ctx, sha)
	if err != nil {
		return nil, nil, err
	}
	if b == nil {
		return nil, nil, notFound
	}
	rc, err := e.db.DB.GridFSBucket().OpenDownloadStream(ctx, b.FileID)
	if err != nil {
		return nil, nil, fmt.Errorf("open attachment: %w", err)
	}
	return &Attachment{SHA256: b.SHA256, Size: b.Size, ContentType: b.ContentType, Offset: b.Size, Complete: true, CreatedAt: b.CreatedAt}, rc, nil
}

// onVisibleVisit says whether the actor may see a visit whose reference to
// the content counts: one made by a user who uploaded it, one made as a
// share of a content visible to its maker, or one made before uploads were
// per uploader.
func (e *Engine) onVisibleVisit(ctx context.Context, a *schemas.Actor, sha string) (bool, error) {
	if e.canSee == nil {
		return false, nil
	}
	cur, err := e.db.C(colLinks).Find(ctx, bson.D{{Key: "sha256", Value: sha}})
	if err != nil {
		return false, fmt.Errorf("read links: %w", err)
	}
	var links []linkDoc
	if err := cur.All(ctx, &links); err != nil {
		return false, fmt.Errorf("read links: %w", err)
	}
	proven := map[string]bool{}
	for _, l := range links {
		if l.UserID != "" && !l.Shared {
			ok, seen := proven[l.UserID]
			if !seen {
				u, err := e.uploader(ctx, l.UserID, sha)
				if err != nil {
					return false, err
				}
				ok = u != nil
				proven[l.UserID] = ok
			}
			if !ok {
				continue
			}
		}
		ok, err := e.canSee(ctx, a, l.VisitID)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func refs(p *Payload) []string {
	var hs []string
	for _, h := range append(append([]string(nil), p.Photos...), p.SignatureRef) {
		if h != "" && !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	return hs
}

// checkRefs sorts each record's references: shared ones (on a visit the
// user may see, not uploaded by the user) count at once; every other one
// is the user's own, whether uploaded, under way or not yet announced (a
// phone queues its operations apart from its uploads), and counts only
// once the user's upload of it completes. No reference is refused: a
// worker's note is never dropped for a photo still on its way, and the
// answer is the same whether or not someone else stored the content.
func (e *Engine) checkRefs(ctx context.Context, a *schemas.Actor, recs []*Record) error {
	for _, r := range recs {
		r.SharedRefs = nil
		if r.Status == StatusRejected {
			continue
		}
		for _, h := range refs(&r.Payload) {
			shared, err := e.sharedRef(ctx, a, h)
			if err != nil {
				return err
			}
			if shared {
				r.SharedRefs = append(r.SharedRefs, h)
			}
		}
	}
	return nil
}

// sharedRef says whether the actor names a content as shared from a visit
// it may see rather than as its own upload. Own uploads are looked up
// first, by id; the links are read only for a hash the actor has not
// uploaded.
func (e *Engine) sharedRef(ctx context.Context, a *schemas.Actor, sha string) (bool, error) {
	done, err := e.uploader(ctx, a.UserID, sha)
	if err != nil || done != nil {
		return false, err
	}
	return e.onVisibleVisit(ctx, a, sha)
}

// link records that a visit references attachments, which lets those who
// may see the visit read them: at once for a shared one, once its user's
// upload is complete otherwise.
func (e *Engine) link(ctx context.Context, visitID string, r *Record) error {
	for _, h := range refs(&r.Payload) {
		l := linkDoc{ID: h + "/" + visitID + "/" + r.UserID, SHA256: h, VisitID: visitID, UserID: r.UserID}
		if !slices.Contains(r.SharedRefs, h) {
			if err := e.insertOnce(ctx, colLinks, l); err != nil {
				return err
			}
			continue
		}
		_, err := e.db.C(colLinks).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.ID}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "shared", Value: true}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "sha256", Value: h}, {Key: "visitId", Value: visitID}, {Key: "userId", Value: r.UserID}}},
		}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("link attachment: %w", err)
		}
	}
	return nil
}
