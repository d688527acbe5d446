package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
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
// the tus protocol), verified when complete and stored once in GridFS.
// Operations may name a hash before its upload finishes.

const (
	colAttachments = "attachments"
	colParts       = "attachment_parts"
	colLinks       = "attachment_links"
)

func init() {
	store.Register(store.Migration{Version: 11, Name: "attachments", Up: func(ctx context.Context, db *store.DB) error {
		return db.CreateIndexes(ctx, map[string][]mongo.IndexModel{
			colParts:       {{Keys: bson.D{{Key: "sha256", Value: 1}, {Key: "offset", Value: 1}}}},
			colLinks:       {{Keys: bson.D{{Key: "sha256", Value: 1}}}},
			colAttachments: nil,
		})
	}})
}

// AttachmentTypes are the content types accepted.
var AttachmentTypes = []string{"image/jpeg", "image/png", "image/webp", "image/heic"}

// Attachment is an upload, finished or not.
type Attachment struct {
	SHA256      string     `json:"sha256" bson:"_id"`
	Size        int64      `json:"size" bson:"size"`
	ContentType string     `json:"contentType" bson:"contentType"`
	UploaderID  string     `json:"-" bson:"uploaderId"`
	Offset      int64      `json:"offset" bson:"-"` // bytes received so far
	Complete    bool       `json:"complete" bson:"complete"`
	CreatedAt   time.Time  `json:"createdAt" bson:"createdAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty" bson:"completedAt,omitempty"`
}

// NewUpload announces an upload.
type NewUpload struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
}

// AttachmentLimits bound uploads.
type AttachmentLimits struct {
	MaxBytes int64 // whole file
	MaxChunk int64 // one PATCH
}

// DefaultAttachmentLimits fit phone photos and signatures.
var DefaultAttachmentLimits = AttachmentLimits{MaxBytes: 10 << 20, MaxChunk: 1 << 20}

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

// StartUpload creates an upload or returns the one under way (with the
// offset to resume from) or the finished one: content is stored once.
func (e *Engine) StartUpload(ctx context.Context, a *schemas.Actor, n NewUpload) (*Attachment, bool, error) {
	if err := n.Validate(); err != nil {
		return nil, false, err
	}
	if n.Size > e.attLimits.MaxBytes {
		return nil, false, schemas.Errorf(schemas.ETOOLARGE, "attachments are at most %d bytes", e.attLimits.MaxBytes).With("maxBytes", e.attLimits.MaxBytes)
	}
	att := &Attachment{SHA256: n.SHA256, Size: n.Size, ContentType: n.ContentType, UploaderID: a.UserID, CreatedAt: e.now().UTC()}
	_, err := e.db.C(colAttachments).InsertOne(ctx, att)
	if err != nil && !store.IsDuplicate(err) {
		return nil, false, fmt.Errorf("start upload: %w", err)
	}
	created := err == nil
	got, err := e.Attachment(ctx, n.SHA256)
	if err != nil {
		return nil, false, err
	}
	if !got.Complete && (got.Size != n.Size || got.ContentType != n.ContentType) {
		return nil, false, schemas.Errorf(schemas.ECONFLICT, "an upload of this hash with another size or type is under way")
	}
	return got, created, nil
}

// Attachment returns an upload with its current offset.
func (e *Engine) Attachment(ctx context.Context, sha string) (*Attachment, error) {
	var att Attachment
	if err := e.db.C(colAttachments).FindOne(ctx, bson.D{{Key: "_id", Value: sha}}).Decode(&att); err != nil {
		if err == mongo.ErrNoDocuments {
			return nil, schemas.Errorf(schemas.ENOTFOUND, "attachment not found")
		}
		return nil, fmt.Errorf("read attachment: %w", err)
	}
	if att.Complete {
		att.Offset = att.Size
		return &att, nil
	}
	parts, err := e.parts(ctx, sha, false)
	if err != nil {
		return nil, err
	}
	att.Offset = contiguous(parts)
	return &att, nil
}

type part struct {
	ID     string `bson:"_id"` // sha/offset
	SHA    string `bson:"sha256"`
	Offset int64  `bson:"offset"`
	Len    int64  `bson:"len"`
	Data   []byte `bson:"data,omitempty"`
}

func (e *Engine) parts(ctx context.Context, sha string, withData bool) ([]part, error) {
	opts := options.Find().SetSort(bson.D{{Key: "offset", Value: 1}})
	if !withData {
		opts.SetProjection(bson.D{{Key: "data", Value: 0}})
	}
	cur, err := e.db.C(colParts).Find(ctx, bson.D{{Key: "sha256", Value: sha}}, opts)
	if err != nil {
		return nil, fmt.Errorf("read parts: %w", err)
	}
	var ps []part
	if err := cur.All(ctx, &ps); err != nil {
		return nil, fmt.Errorf("read parts: %w", err)
	}
	return ps, nil
}

// contiguous is how many bytes from the start the parts cover without a hole.
func contiguous(ps []part) int64 {
	var off int64
	for _, p := range ps {
		if p.Offset != off {
			break
		}
		off += p.Len
	}
	return off
}

// AppendChunk adds bytes at offset, which must be the current offset (tus:
// a mismatch is 409 with the offset to resume from). The last chunk
// completes the upload: the content is hashed and must match.
func (e *Engine) AppendChunk(ctx context.Context, a *schemas.Actor, sha string, offset int64, data []byte) (*Attachment, error) {
	att, err := e.Attachment(ctx, sha)
	if err != nil {
		return nil, err
	}
	// Anyone may add to an upload: the content is checked against its hash.
	if att.Complete {
		return att, nil // uploaded already (perhaps by this very request, retried)
	}
	if offset != att.Offset {
		return nil, schemas.Errorf(schemas.ECONFLICT, "upload is at offset %d", att.Offset).With("offset", att.Offset)
	}
	if len(data) == 0 || int64(len(data)) > e.attLimits.MaxChunk || offset+int64(len(data)) > att.Size {
		return nil, schemas.Errorf(schemas.EINVALID, "a chunk is 1 to %d bytes and may not pass the declared size", e.attLimits.MaxChunk)
	}
	p := part{ID: sha + "/" + strconv.FormatInt(offset, 10), SHA: sha, Offset: offset, Len: int64(len(data)), Data: data}
	if _, err := e.db.C(colParts).InsertOne(ctx, p); err != nil {
		if store.IsDuplicate(err) { // a concurrent upload of the same offset won
			cur, err := e.Attachment(ctx, sha)
			if err != nil {
				return nil, err
			}
			return nil, schemas.Errorf(schemas.ECONFLICT, "upload is at offset %d", cur.Offset).With("offset", cur.Offset)
		}
		return nil, fmt.Errorf("store chunk: %w", err)
	}
	att.Offset += p.Len
	if att.Offset < att.Size {
		return att, nil
	}
	return e.complete(ctx, att)
}

func (e *Engine) complete(ctx context.Context, att *Attachment) (*Attachment, error) {
	ps, err := e.parts(ctx, att.SHA256, true)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	var buf bytes.Buffer
	var off int64
	for _, p := range ps {
		if p.Offset != off {
			break
		}
		h.Write(p.Data)
		buf.Write(p.Data)
		off += p.Len
	}
	reset := func(msg string) (*Attachment, error) {
		if _, err := e.db.C(colParts).DeleteMany(ctx, bson.D{{Key: "sha256", Value: att.SHA256}}); err != nil {
			return nil, fmt.Errorf("reset upload: %w", err)
		}
		return nil, schemas.Errorf(schemas.EINVALID, "%s; the upload was reset, send it again from offset 0", msg).With("offset", 0)
	}
	if hex.EncodeToString(h.Sum(nil)) != att.SHA256 {
		return reset("the content does not match its sha256")
	}
	if sniffed := http.DetectContentType(buf.Bytes()); att.ContentType != "image/heic" && sniffed != att.ContentType {
		return reset("the content is " + sniffed + ", not " + att.ContentType)
	}
	bucket := e.db.DB.GridFSBucket()
	now := e.now().UTC()
	if err := bucket.UploadFromStreamWithID(ctx, att.SHA256, att.SHA256, bytes.NewReader(buf.Bytes())); err != nil && !store.IsDuplicate(err) {
		return nil, fmt.Errorf("store attachment: %w", err)
	} else if err == nil {
		// GridFS stamps uploadDate with the wall clock; the store keeps to
		// the injected one.
		if _, err := e.db.C("fs.files").UpdateOne(ctx, bson.D{{Key: "_id", Value: att.SHA256}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "uploadDate", Value: now}}}}); err != nil {
			return nil, fmt.Errorf("store attachment: %w", err)
		}
	}
	if _, err := e.db.C(colAttachments).UpdateOne(ctx, bson.D{{Key: "_id", Value: att.SHA256}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "complete", Value: true}, {Key: "completedAt", Value: now}}}}); err != nil {
		return nil, fmt.Errorf("complete attachment: %w", err)
	}
	if _, err := e.db.C(colParts).DeleteMany(ctx, bson.D{{Key: "sha256", Value: att.SHA256}}); err != nil {
		e.log.Warn("left upload parts behind", "sha256", att.SHA256, "err", err)
	}
	att.Complete, att.CompletedAt = true, &now
	return att, nil
}

// VisitChecker says whether the actor may see a visit.
type VisitChecker func(ctx context.Context, a *schemas.Actor, visitID string) bool

// OpenAttachment returns a finished attachment's content to someone who
// uploaded it, an admin, or anyone who may see a visit that references it.
// Anyone else gets not-found.
func (e *Engine) OpenAttachment(ctx context.Context, a *schemas.Actor, sha string, canSee VisitChecker) (*Attachment, io.ReadCloser, error) {
	if !ValidHash(sha) {
		return nil, nil, schemas.Errorf(schemas.ENOTFOUND, "attachment not found")
	}
	att, err := e.Attachment(ctx, sha)
	if err != nil {
		return nil, nil, err
	}
	allowed := a.Role == schemas.RoleAdmin || att.UploaderID == a.UserID
	if !allowed {
		cur, err := e.db.C(colLinks).Find(ctx, bson.D{{Key: "sha256", Value: sha}})
		if err != nil {
			return nil, nil, fmt.Errorf("read links: %w", err)
		}
		var links []struct {
			VisitID string `bson:"visitId"`
		}
		if err := cur.All(ctx, &links); err != nil {
			return nil, nil, fmt.Errorf("read links: %w", err)
		}
		for _, l := range links {
			if canSee(ctx, a, l.VisitID) {
				allowed = true
				break
			}
		}
	}
	if !allowed {
		return nil, nil, schemas.Errorf(schemas.ENOTFOUND, "attachment not found")
	}
	if !att.Complete {
		return nil, nil, schemas.Errorf(schemas.ECONFLICT, "the upload is not finished").With("offset", att.Offset)
	}
	rc, err := e.db.DB.GridFSBucket().OpenDownloadStream(ctx, sha)
	if err != nil {
		return nil, nil, fmt.Errorf("open attachment: %w", err)
	}
	return att, rc, nil
}

// link records that a visit references attachments, which lets those who
// may see the visit read them.
func (e *Engine) link(ctx context.Context, visitID string, r *Record) error {
	hashes := append(append([]string(nil), r.Payload.Photos...), r.Payload.SignatureRef)
	for _, h := range hashes {
		if h == "" {
			continue
		}
		if err := e.insertOnce(ctx, colLinks, bson.D{{Key: "_id", Value: h + "/" + visitID}, {Key: "sha256", Value: h}, {Key: "visitId", Value: visitID}}); err != nil {
			return err
		}
	}
	return nil
}
