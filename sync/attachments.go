package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"fieldsync/schemas"
	"fieldsync/store"
)

// Photos and signatures are uploaded apart from operations, addressed by
// their SHA-256, in chunks a dropped connection can resume (the offsets of
// the tus protocol). Uploads are per uploader: knowing a hash gives
// nothing. Each uploader sends the whole content, which is verified once,
// when complete, against the hash and the declared type; the content is
// stored once (by fieldsync/store's Attachments, in chunks) however many
// upload it. Who uploaded a content may
// read it, and so may whoever may see a visit that references it.
//
// An operation may name any hash, before its upload is even announced (a
// phone pushes its operations while its photos are on their way): the
// reference is recorded, and the link it makes records its user. It lets
// those who may see the visit read the content only once that user's own
// upload of it has completed, unless the user named it from a visit it may
// see already. Naming or announcing a hash proves nothing.

// AttachmentStore is the storage of attachments (fieldsync/store's
// Attachments) that the engine uses.
type AttachmentStore interface {
	Uploader(ctx context.Context, userID, sha string) (*store.AttachmentUploader, error)
	Upload(ctx context.Context, userID, sha string) (*store.AttachmentUpload, error)
	Announce(ctx context.Context, userID, sha string, size int64, contentType string, ttl time.Duration) (*store.AttachmentUpload, error)
	Withdraw(ctx context.Context, up *store.AttachmentUpload) error
	PendingUploads(ctx context.Context, userID string, limit int) ([]store.AttachmentUpload, error)
	Append(ctx context.Context, up *store.AttachmentUpload, data []byte, ttl time.Duration) (*store.AttachmentUpload, error)
	ReadUpload(ctx context.Context, up *store.AttachmentUpload) ([]byte, error)
	Reset(ctx context.Context, up *store.AttachmentUpload) error
	Drop(ctx context.Context, up *store.AttachmentUpload) error
	DropExpired(ctx context.Context, up *store.AttachmentUpload) error
	SweepExpired(ctx context.Context, limit int) (int, error)
	Finish(ctx context.Context, up *store.AttachmentUpload, data []byte) (*store.AttachmentUploader, error)
	Open(ctx context.Context, sha string) (*store.AttachmentContent, io.ReadCloser, error)
	Links(ctx context.Context, sha string) ([]store.AttachmentLink, error)
	Link(ctx context.Context, sha, visitID, userID string, shared bool) error
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

func uploadView(u *store.AttachmentUpload) *Attachment {
	exp := u.ExpiresAt
	return &Attachment{SHA256: u.SHA256, Size: u.Size, ContentType: u.ContentType, Offset: u.Offset, CreatedAt: u.CreatedAt, ExpiresAt: &exp}
}

func uploaderView(u *store.AttachmentUploader) *Attachment {
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
	if _, err := e.att.SweepExpired(ctx, 20); err != nil {
		e.log.WarnContext(ctx, "sweeping expired uploads failed", "err", err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		if done, err := e.uploader(ctx, a.UserID, n.SHA256); err != nil || done != nil {
			if err != nil {
				return nil, false, err
			}
			return uploaderView(done), false, nil
		}
		up, err := e.att.Announce(ctx, a.UserID, n.SHA256, n.Size, n.ContentType, e.attLimits.UploadTTL)
		if err == nil {
			// Inserted first, counted after: each announcement counts
			// itself and every one inserted before, so concurrent ones may
			// all be refused but never together pass the quota.
			if err := e.withinQuota(ctx, a.UserID, now); err != nil {
				if werr := e.att.Withdraw(ctx, up); werr != nil {
					return nil, false, werr
				}
				return nil, false, err
			}
			return uploadView(up), true, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, false, fmt.Errorf("start upload: %w", err)
		}
		cur, err := e.upload(ctx, a.UserID, n.SHA256)
		if err != nil {
			return nil, false, err
		}
		switch {
		case cur == nil: // finished or swept meanwhile: look again
			continue
		case !cur.ExpiresAt.After(now):
			if err := e.att.DropExpired(ctx, cur); err != nil {
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
		return uploadView(cur), false, nil
	}
	return nil, false, schemas.Errorf(schemas.ECONFLICT, "the upload changed while being announced; announce it again")
}

// withinQuota checks the user's unfinished uploads against the limits.
func (e *Engine) withinQuota(ctx context.Context, userID string, now time.Time) error {
	l := e.attLimits
	// One more than allowed is enough to tell: below that, all are read.
	ups, err := e.att.PendingUploads(ctx, userID, l.MaxPending+1)
	if err != nil {
		return err
	}
	var total int64
	first := now.Add(l.UploadTTL)
	for _, u := range ups {
		total += u.Size
		if u.ExpiresAt.Before(first) {
			first = u.ExpiresAt
		}
	}
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
		return uploaderView(done), nil
	}
	up, err := e.liveUpload(ctx, a.UserID, sha)
	if err != nil {
		return nil, err
	}
	return uploadView(up), nil
}

// uploader is the record of the user's finished upload of a content, or
// nil.
func (e *Engine) uploader(ctx context.Context, userID, sha string) (*store.AttachmentUploader, error) {
	u, err := e.att.Uploader(ctx, userID, sha)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// upload is the user's unfinished upload of a content, expired or not, or
// nil.
func (e *Engine) upload(ctx context.Context, userID, sha string) (*store.AttachmentUpload, error) {
	u, err := e.att.Upload(ctx, userID, sha)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// liveUpload is the user's unfinished, unexpired upload of a content.
func (e *Engine) liveUpload(ctx context.Context, userID, sha string) (*store.AttachmentUpload, error) {
	up, err := e.upload(ctx, userID, sha)
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
		return uploaderView(done), nil // uploaded already (perhaps by this very request, retried)
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
	next, err := e.att.Append(ctx, up, data, l.UploadTTL)
	if errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrNotFound) { // a concurrent chunk moved it, or it expired
		if done, err := e.uploader(ctx, a.UserID, sha); err != nil || done != nil { // this very chunk, sent twice, completed it
			if err != nil {
				return nil, err
			}
			return uploaderView(done), nil
		}
		cur, err := e.liveUpload(ctx, a.UserID, sha)
		if err != nil {
			return nil, err
		}
		return nil, schemas.Errorf(schemas.ECONFLICT, "upload is at offset %d", cur.Offset).With("offset", cur.Offset)
	}
	if err != nil {
		return nil, err
	}
	if !last {
		return uploadView(next), nil
	}
	return e.complete(ctx, next)
}

// complete verifies a fully received upload, and stores its content and
// uploader once it passes the content checks.
func (e *Engine) complete(ctx context.Context, up *store.AttachmentUpload) (*Attachment, error) {
	data, err := e.att.ReadUpload(ctx, up)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != up.Size || hex.EncodeToString(sum[:]) != up.SHA256 {
		// A twin request may have finished it, and dropped its chunks,
		// while this one read them.
		if done, err := e.uploader(ctx, up.UserID, up.SHA256); err != nil || done != nil {
			if err != nil {
				return nil, err
			}
			return uploaderView(done), nil
		}
		if err := e.att.Reset(ctx, up); err != nil {
			return nil, err
		}
		return nil, schemas.Errorf(schemas.EINVALID, "the content does not match its sha256; the upload was reset, send it again from offset 0").With("offset", 0)
	}
	if err := checkContent(up.ContentType, data); err != nil {
		// The same bytes will never pass as this type: drop the upload.
		if derr := e.att.Drop(ctx, up); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	u, err := e.att.Finish(ctx, up, data)
	if err != nil {
		return nil, err
	}
	return uploaderView(u), nil
}

// OpenAttachment returns a stored content to an admin, to a user who
// uploaded it, and to whoever may see a visit with a reference to it that
// counts. Anyone else gets not-found, whether or not it exists; the
// actor's own unfinished upload is a conflict. The reader streams the
// content a few chunks at a time with ctx, which must stay alive until
// it is closed.
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
	c, rc, err := e.att.Open(ctx, sha)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open attachment: %w", err)
	}
	return &Attachment{SHA256: c.SHA256, Size: c.Size, ContentType: c.ContentType, Offset: c.Size, Complete: true, CreatedAt: c.CreatedAt}, rc, nil
}

// onVisibleVisit says whether the actor may see a visit whose reference to
// the content counts: one made by a user who uploaded it, or one made as a
// share of a content visible to its maker.
func (e *Engine) onVisibleVisit(ctx context.Context, a *schemas.Actor, sha string) (bool, error) {
	if e.canSee == nil {
		return false, nil
	}
	links, err := e.att.Links(ctx, sha)
	if err != nil {
		return false, err
	}
	proven := map[string]bool{}
	for _, l := range links {
		if !l.Shared {
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
		if err := e.att.Link(ctx, h, visitID, r.UserID, slices.Contains(r.SharedRefs, h)); err != nil {
			return err
		}
	}
	return nil
}
