package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/doc"
)

// Attachments (photos, signatures) are addressed by their SHA-256 and
// uploaded per uploader in chunks a dropped connection can resume. What
// each collection holds:
//
//   - attachment_uploads: unfinished uploads, one per user and hash
//     (userId/sha). The offset is authoritative: a chunk is accepted by
//     replacing the upload at the version it was read at, so no chunk
//     reads the others.
//   - attachment_parts: the chunks received, <generation>/<offset>. Each
//     announcement (and each reset) is a new generation, so dropping one's
//     parts never touches a later one's.
//   - attachment_uploaders: who sent a content in full (userId/sha).
//   - attachments: stored content, once per hash (sha); its bytes in
//     attachment_chunks (sha/n) of at most ChunkSize each, written before
//     it, so a content is visible only once all its chunks are. The
//     insert of this document decides which finalisation stored it.
//   - attachment_links: visits that reference a content (sha/visitId/userId).
const (
	colAttachments = "attachments"
	colAttChunks   = "attachment_chunks"
	colUploaders   = "attachment_uploaders"
	colUploads     = "attachment_uploads"
	colParts       = "attachment_parts"
	colLinks       = "attachment_links"
)

// Index names of the attachments' collections.
const (
	ixUploadsByUser   = "by_user"   // a user's unfinished uploads by expiry: quotas
	ixUploadsByExpiry = "by_expiry" // every unfinished upload by expiry: the sweep
	ixLinksBySHA      = "by_sha"    // the visits that reference a content
)

// ChunkSize bounds one stored chunk of a content: far below any
// document limit, and what a download holds in memory at a time (times
// readAhead).
const ChunkSize = 255 << 10

// readAhead is how many chunks a download reads per round trip.
const readAhead = 4

// writeAhead is how many chunks one batch writes: one transaction on
// SQLite, a few MiB.
const writeAhead = 8

// attachmentCollections are the collections Attachments writes.
var attachmentCollections = []doc.Collection{
	{Name: colAttachments},
	{Name: colAttChunks},
	{Name: colUploaders},
	{Name: colUploads, Indexes: []doc.Index{
		{Name: ixUploadsByUser, Fields: []string{"userId", "expiresAt"}},
		{Name: ixUploadsByExpiry, Fields: []string{"expiresAt"}},
	}},
	{Name: colParts},
	{Name: colLinks, Indexes: []doc.Index{
		{Name: ixLinksBySHA, Fields: []string{"sha256"}},
	}},
}

// Attachments stores attachments: contents, uploads, links.
type Attachments struct{ s *Store }

// AttachmentContent is a stored content.
type AttachmentContent struct {
	SHA256      string    `bson:"_id"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	ChunkSize   int64     `bson:"chunkSize"`
	Chunks      int64     `bson:"chunks"`
	CreatedAt   time.Time `bson:"createdAt"`
}

// AttachmentUploader records that a user sent a content in full.
type AttachmentUploader struct {
	ID          string    `bson:"_id"` // userId/sha
	SHA256      string    `bson:"sha256"`
	UserID      string    `bson:"userId"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	CreatedAt   time.Time `bson:"createdAt"`
	CompletedAt time.Time `bson:"completedAt"`
}

// AttachmentUpload is an unfinished upload.
type AttachmentUpload struct {
	ID          string    `bson:"_id"` // userId/sha
	SHA256      string    `bson:"sha256"`
	UserID      string    `bson:"userId"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"contentType"`
	Offset      int64     `bson:"offset"`
	Gen         string    `bson:"gen"`    // names its parts; new at each announcement and reset
	OldGen      string    `bson:"oldGen"` // the generation before a reset, whose parts go with the upload
	CreatedAt   time.Time `bson:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt"`
	ExpiresAt   time.Time `bson:"expiresAt"`
	Version     int64     `bson:"-"`
}

// AttachmentLink records that a visit references a content.
type AttachmentLink struct {
	ID      string `bson:"_id"` // sha/visitId/userId
	SHA256  string `bson:"sha256"`
	VisitID string `bson:"visitId"`
	UserID  string `bson:"userId"` // who made the reference
	Shared  bool   `bson:"shared"` // named as a content on a visit the user could see, not as its upload
}

type partDoc struct {
	ID   string `bson:"_id"` // gen/offset
	Data []byte `bson:"data"`
}

type chunkDoc struct {
	ID   string `bson:"_id"` // sha/n
	Data []byte `bson:"data"`
}

// ErrContentMismatch: the bytes given for a content are not the content
// of its hash or size.
var ErrContentMismatch = errors.New("content does not match its hash")

func uploadID(userID, sha string) string { return userID + "/" + sha }

func partID(gen string, offset int64) string { return fmt.Sprintf("%s/%012d", gen, offset) }

func chunkID(sha string, n int64) string { return fmt.Sprintf("%s/%06d", sha, n) }

// Uploader returns the record of userID's finished upload of sha, or
// ErrNotFound.
func (a *Attachments) Uploader(ctx context.Context, userID, sha string) (*AttachmentUploader, error) {
	u, _, err := doc.Get[AttachmentUploader](ctx, a.s.engine, colUploaders, uploadID(userID, sha))
	if err != nil {
		return nil, fmt.Errorf("attachment uploader: %w", err)
	}
	return &u, nil
}

// Upload returns userID's unfinished upload of sha, expired or not, or
// ErrNotFound.
func (a *Attachments) Upload(ctx context.Context, userID, sha string) (*AttachmentUpload, error) {
	u, v, err := doc.Get[AttachmentUpload](ctx, a.s.engine, colUploads, uploadID(userID, sha))
	if err != nil {
		return nil, fmt.Errorf("attachment upload: %w", err)
	}
	u.Version = v
	return &u, nil
}

// Announce creates userID's upload of sha, expiring after ttl unless a
// chunk comes; ErrDuplicate if one exists.
func (a *Attachments) Announce(ctx context.Context, userID, sha string, size int64, contentType string, ttl time.Duration) (*AttachmentUpload, error) {
	now := a.s.now().UTC()
	u := AttachmentUpload{ID: uploadID(userID, sha), SHA256: sha, UserID: userID, Size: size, ContentType: contentType,
		Gen: schemas.NewIDAt(now), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl)}
	v, err := doc.Insert(ctx, a.s.engine, colUploads, u)
	if err != nil {
		return nil, fmt.Errorf("announce upload: %w", err)
	}
	u.Version = v
	return &u, nil
}

// Withdraw deletes an upload just announced, unless it changed since.
func (a *Attachments) Withdraw(ctx context.Context, up *AttachmentUpload) error {
	err := a.s.engine.Delete(ctx, colUploads, up.ID, up.Version)
	if err != nil && !errors.Is(err, doc.ErrNotFound) && !errors.Is(err, doc.ErrVersion) {
		return fmt.Errorf("withdraw upload: %w", err)
	}
	return nil
}

// PendingUploads returns up to limit of userID's unexpired unfinished
// uploads, the first to expire first.
func (a *Attachments) PendingUploads(ctx context.Context, userID string, limit int) ([]AttachmentUpload, error) {
	p, err := a.s.engine.Scan(ctx, colUploads, doc.Query{Index: ixUploadsByUser, Eq: []any{userID},
		Range: doc.Range{Gt: a.s.now().UTC()}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("read pending uploads: %w", err)
	}
	ups, err := doc.DecodeAll[AttachmentUpload](p.Docs)
	if err != nil {
		return nil, fmt.Errorf("read pending uploads: %w", err)
	}
	for i := range ups {
		ups[i].Version = p.Docs[i].Version
	}
	return ups, nil
}

// Append stores data as the chunk at up's offset and moves the offset
// past it, if up is still as read (ErrVersion: a concurrent chunk moved
// it, or it was reset) and unexpired (ErrNotFound). The upload's expiry
// moves to ttl from now. The caller checks the chunk's bounds.
func (a *Attachments) Append(ctx context.Context, up *AttachmentUpload, data []byte, ttl time.Duration) (*AttachmentUpload, error) {
	now := a.s.now().UTC()
	if !up.ExpiresAt.After(now) {
		return nil, fmt.Errorf("append to upload %s: expired: %w", up.ID, doc.ErrNotFound)
	}
	n := int64(len(data))
	if n == 0 || up.Offset+n > up.Size {
		return nil, fmt.Errorf("%w: append %d bytes at %d of %d", doc.ErrInvalid, n, up.Offset, up.Size)
	}
	// Left by an attempt that died before moving the offset, or sent twice
	// at once by this uploader: the last one written stands, and the
	// completion checks the whole content anyway.
	p := partDoc{ID: partID(up.Gen, up.Offset), Data: data}
	if err := a.put(ctx, colParts, p.ID, p); err != nil {
		return nil, fmt.Errorf("store chunk: %w", err)
	}
	next := *up
	next.Offset, next.UpdatedAt, next.ExpiresAt = up.Offset+n, now, now.Add(ttl)
	v, err := doc.Replace(ctx, a.s.engine, colUploads, up.Version, next)
	if err != nil {
		if errors.Is(err, doc.ErrVersion) || errors.Is(err, doc.ErrNotFound) {
			a.dropIfDead(ctx, up, p.ID)
		}
		return nil, fmt.Errorf("advance upload: %w", err)
	}
	next.Version = v
	return &next, nil
}

// dropIfDead deletes a part just written if its generation died
// meanwhile (the upload was dropped, reset or expired): whoever ended the
// generation may have deleted its parts before this one was written.
// Otherwise the part stays: a chunk at the same offset that won the race
// has the same id.
func (a *Attachments) dropIfDead(ctx context.Context, up *AttachmentUpload, id string) {
	cur, err := a.Upload(ctx, up.UserID, up.SHA256)
	if err == nil && cur.Gen == up.Gen && cur.ExpiresAt.After(a.s.now()) {
		return
	}
	if err != nil && !errors.Is(err, doc.ErrNotFound) {
		a.s.log.WarnContext(ctx, "may have left an upload part behind", "part", id, "err", err)
		return
	}
	if err := a.s.engine.Delete(ctx, colParts, id, 0); err != nil && !errors.Is(err, doc.ErrNotFound) {
		a.s.log.WarnContext(ctx, "left an upload part behind", "part", id, "err", err)
	}
}

// put inserts v under id, or replaces what is there.
func (a *Attachments) put(ctx context.Context, coll, id string, v any) error {
	for {
		_, err := doc.Insert(ctx, a.s.engine, coll, v)
		if !errors.Is(err, doc.ErrDuplicate) {
			return err
		}
		d, err := a.s.engine.Get(ctx, coll, id)
		if errors.Is(err, doc.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := doc.Replace(ctx, a.s.engine, coll, d.Version, v); !errors.Is(err, doc.ErrVersion) && !errors.Is(err, doc.ErrNotFound) {
			return err
		}
	}
}

// ReadUpload reads a received upload's chunks once, in order. It stops at
// a hole, so what it returns is shorter than the upload: the hash check
// then fails.
func (a *Attachments) ReadUpload(ctx context.Context, up *AttachmentUpload) ([]byte, error) {
	buf := make([]byte, 0, up.Offset)
	for off := int64(0); off < up.Offset; {
		p, _, err := doc.Get[partDoc](ctx, a.s.engine, colParts, partID(up.Gen, off))
		if errors.Is(err, doc.ErrNotFound) || err == nil && len(p.Data) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read chunk: %w", err)
		}
		buf = append(buf, p.Data...)
		off += int64(len(p.Data))
	}
	return buf, nil
}

// Reset forgets a received upload's chunks: it starts again at offset 0,
// unless it changed since read (then it is left as it is).
func (a *Attachments) Reset(ctx context.Context, up *AttachmentUpload) error {
	// A new generation first, so that a chunk written to the old one
	// after its parts are deleted is seen dead and deleted by its writer;
	// the old one is kept in OldGen until the upload ends, in case this
	// stops before its parts are gone.
	now := a.s.now().UTC()
	next := *up
	next.Offset, next.OldGen, next.Gen, next.UpdatedAt = 0, up.Gen, schemas.NewIDAt(now), now
	_, err := doc.Replace(ctx, a.s.engine, colUploads, up.Version, next)
	if errors.Is(err, doc.ErrVersion) || errors.Is(err, doc.ErrNotFound) {
		return nil
	}
	if err == nil {
		err = a.dropParts(ctx, up.Gen)
	}
	if err != nil {
		return fmt.Errorf("reset upload: %w", err)
	}
	return nil
}

// Drop deletes an upload and its chunks.
func (a *Attachments) Drop(ctx context.Context, up *AttachmentUpload) error {
	// Expired first, so that no chunk is accepted any more and one written
	// meanwhile is seen dead by its writer; if this stops half way, the
	// sweep finds the rest.
	cur, v, err := doc.Modify(ctx, a.s.engine, colUploads, up.ID, func(u *AttachmentUpload) error {
		u.ExpiresAt = a.s.now().UTC()
		return nil
	})
	switch {
	case errors.Is(err, doc.ErrNotFound):
		cur, v = *up, 0
	case err != nil:
		return fmt.Errorf("drop upload: %w", err)
	}
	cur.Version = v
	return a.drop(ctx, &cur)
}

// dropExpired drops an expired upload if it is as read. A chunk may still
// come on a view read before it expired: writing the upload first makes
// that chunk's offset move fail, so that its writer sees the upload dead
// and deletes the part itself, instead of renewing an upload whose parts
// are going.
func (a *Attachments) dropExpired(ctx context.Context, up *AttachmentUpload) error {
	fenced := *up
	fenced.UpdatedAt = a.s.now().UTC()
	v, err := doc.Replace(ctx, a.s.engine, colUploads, up.Version, fenced)
	if errors.Is(err, doc.ErrVersion) || errors.Is(err, doc.ErrNotFound) {
		return nil // renewed, or dropped, meanwhile
	}
	if err != nil {
		return fmt.Errorf("drop upload: %w", err)
	}
	fenced.Version = v
	return a.drop(ctx, &fenced)
}

// drop deletes the parts of an upload that takes no more chunks, then the
// upload if it is as read (version 0: any).
func (a *Attachments) drop(ctx context.Context, up *AttachmentUpload) error {
	for _, gen := range []string{up.Gen, up.OldGen} {
		if gen == "" {
			continue
		}
		if err := a.dropParts(ctx, gen); err != nil {
			return fmt.Errorf("drop upload: %w", err)
		}
	}
	err := a.s.engine.Delete(ctx, colUploads, up.ID, up.Version)
	if err != nil && !errors.Is(err, doc.ErrNotFound) && !errors.Is(err, doc.ErrVersion) {
		return fmt.Errorf("drop upload: %w", err)
	}
	return nil
}

// dropParts deletes the parts of one generation of an upload: their ids
// share its prefix.
func (a *Attachments) dropParts(ctx context.Context, gen string) error {
	q := doc.Query{Index: doc.ByID, Range: doc.Range{Gte: gen + "/", Lt: gen + "0"}, Limit: 100}
	for {
		p, err := a.s.engine.Scan(ctx, colParts, q)
		if err != nil {
			return err
		}
		for _, d := range p.Docs {
			if err := a.s.engine.Delete(ctx, colParts, d.ID, 0); err != nil && !errors.Is(err, doc.ErrNotFound) {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		q.After = p.Next
	}
}

// SweepExpired drops up to limit unfinished uploads past their expiry,
// with their chunks, through the expiry index, and returns how many it
// found. One renewed meanwhile is left alone.
func (a *Attachments) SweepExpired(ctx context.Context, limit int) (int, error) {
	p, err := a.s.engine.Scan(ctx, colUploads, doc.Query{Index: ixUploadsByExpiry, Range: doc.Range{Lte: a.s.now().UTC()}, Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	ups, err := doc.DecodeAll[AttachmentUpload](p.Docs)
	if err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	for i := range ups {
		ups[i].Version = p.Docs[i].Version
		if err := a.dropExpired(ctx, &ups[i]); err != nil {
			return i, fmt.Errorf("sweep: %w", err)
		}
	}
	return len(ups), nil
}

// DropExpired drops up if it is expired and as read.
func (a *Attachments) DropExpired(ctx context.Context, up *AttachmentUpload) error {
	if up.ExpiresAt.After(a.s.now()) {
		return nil
	}
	return a.dropExpired(ctx, up)
}

// Finish stores a verified upload's content, unless it is stored already,
// records its uploader and drops the upload. data must be the content of
// up's hash and size (ErrContentMismatch otherwise), and must have passed
// the content checks: once stored, anyone the caller lets read it may.
// Any number of requests may finish one upload, or uploads of one
// content, at once: the content's chunks have ids derived from its hash
// and hold the same bytes whoever writes them, the content becomes
// visible once, when its document is inserted (the first insert wins), and
// each uploader is recorded once.
func (a *Attachments) Finish(ctx context.Context, up *AttachmentUpload, data []byte) (*AttachmentUploader, error) {
	sum := sha256.Sum256(data)
	if int64(len(data)) != up.Size || hex.EncodeToString(sum[:]) != up.SHA256 {
		return nil, fmt.Errorf("finish upload %s: %w", up.ID, ErrContentMismatch)
	}
	now := a.s.now().UTC()
	if err := a.storeContent(ctx, up, data, now); err != nil {
		return nil, err
	}
	u := AttachmentUploader{ID: up.ID, SHA256: up.SHA256, UserID: up.UserID, Size: up.Size, ContentType: up.ContentType,
		CreatedAt: up.CreatedAt, CompletedAt: now}
	if _, err := doc.Insert(ctx, a.s.engine, colUploaders, u); err != nil {
		if !errors.Is(err, doc.ErrDuplicate) {
			return nil, fmt.Errorf("record uploader: %w", err)
		}
		first, err := a.Uploader(ctx, up.UserID, up.SHA256) // finished meanwhile by a twin request
		if err != nil {
			return nil, err
		}
		u = *first
	}
	if err := a.Drop(ctx, up); err != nil {
		a.s.log.WarnContext(ctx, "left upload parts behind", "upload", up.ID, "err", err)
	}
	return &u, nil
}

func (a *Attachments) storeContent(ctx context.Context, up *AttachmentUpload, data []byte, now time.Time) error {
	if _, err := a.s.engine.Get(ctx, colAttachments, up.SHA256); !errors.Is(err, doc.ErrNotFound) {
		if err != nil {
			return fmt.Errorf("read attachment: %w", err)
		}
		return nil
	}
	chunks := (int64(len(data)) + ChunkSize - 1) / ChunkSize
	for first := int64(0); first < chunks; first += writeAhead {
		var b doc.Batch
		for n := first; n < min(first+writeAhead, chunks); n++ {
			b.Insert(colAttChunks, chunkDoc{ID: chunkID(up.SHA256, n), Data: data[n*ChunkSize : min((n+1)*ChunkSize, int64(len(data)))]})
		}
		if _, err := b.Apply(ctx, a.s.engine); err == nil {
			continue
		} else if !errors.Is(err, doc.ErrDuplicate) {
			return fmt.Errorf("store attachment: %w", err)
		}
		// Another finalisation wrote some of them: one at a time, keeping
		// what holds the same bytes.
		for n := first; n < min(first+writeAhead, chunks); n++ {
			if err := a.putChunk(ctx, chunkDoc{ID: chunkID(up.SHA256, n), Data: data[n*ChunkSize : min((n+1)*ChunkSize, int64(len(data)))]}); err != nil {
				return fmt.Errorf("store attachment: %w", err)
			}
		}
	}
	c := AttachmentContent{SHA256: up.SHA256, Size: up.Size, ContentType: up.ContentType, ChunkSize: ChunkSize, Chunks: chunks, CreatedAt: now}
	if _, err := doc.Insert(ctx, a.s.engine, colAttachments, c); err != nil && !errors.Is(err, doc.ErrDuplicate) {
		return fmt.Errorf("record attachment: %w", err)
	}
	return nil
}

// putChunk writes a chunk unless it is there with the same bytes (it may
// not be, if an earlier attempt used another chunk size and died before
// recording the content).
func (a *Attachments) putChunk(ctx context.Context, c chunkDoc) error {
	old, _, err := doc.Get[chunkDoc](ctx, a.s.engine, colAttChunks, c.ID)
	if err == nil && bytes.Equal(old.Data, c.Data) {
		return nil
	}
	if err != nil && !errors.Is(err, doc.ErrNotFound) {
		return err
	}
	return a.put(ctx, colAttChunks, c.ID, c)
}

// Content returns the stored content of sha, or ErrNotFound.
func (a *Attachments) Content(ctx context.Context, sha string) (*AttachmentContent, error) {
	c, _, err := doc.Get[AttachmentContent](ctx, a.s.engine, colAttachments, sha)
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", sha, err)
	}
	return &c, nil
}

// Open returns the stored content of sha and a reader of its bytes, which
// reads a few chunks at a time with ctx (the caller keeps it alive until
// the reader is closed). The reader checks each chunk's length and, at
// the end, the hash: damaged content is an error, never other bytes.
func (a *Attachments) Open(ctx context.Context, sha string) (*AttachmentContent, io.ReadCloser, error) {
	c, err := a.Content(ctx, sha)
	if err != nil {
		return nil, nil, err
	}
	return c, &contentReader{ctx: ctx, e: a.s.engine, c: c, h: sha256.New()}, nil
}

type contentReader struct {
	ctx  context.Context
	e    doc.Engine
	c    *AttachmentContent
	next int64    // the next chunk to fetch
	bufs [][]byte // the chunks fetched and not yet read, in the documents as read
	h    hash.Hash
	err  error
}

func (r *contentReader) Read(p []byte) (int, error) {
	if len(r.bufs) == 0 && r.err == nil {
		r.err = r.fill()
	}
	if len(r.bufs) == 0 {
		return 0, r.err
	}
	n := copy(p, r.bufs[0])
	if r.bufs[0] = r.bufs[0][n:]; len(r.bufs[0]) == 0 {
		r.bufs = r.bufs[1:]
	}
	return n, nil
}

// fill fetches the next chunks, or checks the hash once all are read.
func (r *contentReader) fill() error {
	c := r.c
	if r.next == c.Chunks {
		if hex.EncodeToString(r.h.Sum(nil)) != c.SHA256 {
			return fmt.Errorf("read attachment %s: %w", c.SHA256, ErrContentMismatch)
		}
		return io.EOF
	}
	var ids []string
	for n := r.next; n < min(r.next+readAhead, c.Chunks); n++ {
		ids = append(ids, chunkID(c.SHA256, n))
	}
	docs, err := r.e.GetMany(r.ctx, colAttChunks, ids)
	if err != nil {
		return fmt.Errorf("read attachment %s: %w", c.SHA256, err)
	}
	if len(docs) != len(ids) {
		return fmt.Errorf("read attachment %s: %d of chunks %d to %d missing", c.SHA256, len(ids)-len(docs), r.next, r.next+int64(len(ids))-1)
	}
	for _, d := range docs {
		// The bytes as they sit in the document read: no copy.
		v, err := d.Raw.LookupErr("data")
		if err != nil {
			return fmt.Errorf("read attachment %s: chunk %d: %w", c.SHA256, r.next, err)
		}
		_, data, ok := v.BinaryOK()
		if !ok {
			return fmt.Errorf("read attachment %s: chunk %d holds %s", c.SHA256, r.next, v.Type)
		}
		if want := min(c.ChunkSize, c.Size-r.next*c.ChunkSize); int64(len(data)) != want {
			return fmt.Errorf("read attachment %s: chunk %d holds %d bytes, not %d", c.SHA256, r.next, len(data), want)
		}
		r.h.Write(data)
		r.bufs = append(r.bufs, data)
		r.next++
	}
	return nil
}

func (r *contentReader) Close() error {
	r.bufs, r.err = nil, errors.New("read attachment: reader closed")
	return nil
}

// Links returns the visits that reference sha.
func (a *Attachments) Links(ctx context.Context, sha string) ([]AttachmentLink, error) {
	var out []AttachmentLink
	q := doc.Query{Index: ixLinksBySHA, Eq: []any{sha}, Limit: 200}
	for {
		p, err := a.s.engine.Scan(ctx, colLinks, q)
		if err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		ls, err := doc.DecodeAll[AttachmentLink](p.Docs)
		if err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		out = append(out, ls...)
		if p.Next == "" {
			return out, nil
		}
		q.After = p.Next
	}
}

// Link records that userID referenced sha on a visit; shared says it
// named a content it could read through a visit it may see, which stays
// once said.
func (a *Attachments) Link(ctx context.Context, sha, visitID, userID string, shared bool) error {
	l := AttachmentLink{ID: sha + "/" + visitID + "/" + userID, SHA256: sha, VisitID: visitID, UserID: userID, Shared: shared}
	for {
		_, err := doc.Insert(ctx, a.s.engine, colLinks, l)
		if err == nil || errors.Is(err, doc.ErrDuplicate) && !shared {
			return nil
		}
		if !errors.Is(err, doc.ErrDuplicate) {
			return fmt.Errorf("link attachment: %w", err)
		}
		_, _, err = doc.Modify(ctx, a.s.engine, colLinks, l.ID, func(old *AttachmentLink) error {
			if old.Shared {
				return errUnchanged
			}
			old.Shared = true
			return nil
		})
		if !errors.Is(err, doc.ErrNotFound) {
			if errors.Is(err, errUnchanged) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("link attachment: %w", err)
			}
			return nil
		}
	}
}
