package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
)

const ttl = 24 * time.Hour

func content(n int, seed uint64) ([]byte, string) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// received announces data for userID and sends it in chunks of chunk
// bytes.
func received(t *testing.T, a *Attachments, userID string, data []byte, sha string, chunk int) *AttachmentUpload {
	t.Helper()
	ctx := t.Context()
	up, err := a.Announce(ctx, userID, sha, int64(len(data)), "image/png", ttl)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += chunk {
		if up, err = a.Append(ctx, up, data[off:min(off+chunk, len(data))], ttl); err != nil {
			t.Fatal(err)
		}
	}
	return up
}

func count(t *testing.T, s *Store, coll string) int {
	t.Helper()
	n := 0
	if err := s.Each(t.Context(), func(name string, _ bson.Raw) error {
		if name == coll {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttachmentContentRoundTrip: what is read back is the bytes sent,
// through chunk documents none larger than ChunkSize, and a damaged chunk
// is an error, never other bytes.
func TestAttachmentContentRoundTrip(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := s.Attachments
	for i, c := range []struct {
		size, chunk int
	}{
		{1, 1},
		{ChunkSize - 1, 16 << 10},
		{ChunkSize, 100 << 10},
		{ChunkSize + 1, 1 << 20},
		{3*ChunkSize + 17, 48 << 10},
		{10 << 20, 1 << 20},
	} {
		t.Run(fmt.Sprint(c.size), func(t *testing.T) {
			data, sha := content(c.size, uint64(i))
			up := received(t, a, "u1", data, sha, c.chunk)
			got, err := a.ReadUpload(ctx, up)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read the upload: %d bytes, %v", len(got), err)
			}
			u, err := a.Finish(ctx, up, got)
			if err != nil || u.SHA256 != sha || u.UserID != "u1" || u.Size != int64(c.size) || !u.CompletedAt.Equal(epoch) {
				t.Fatalf("finish: %+v, %v", u, err)
			}
			meta, rc, err := a.Open(ctx, sha)
			if err != nil {
				t.Fatal(err)
			}
			wantChunks := int64((c.size + ChunkSize - 1) / ChunkSize)
			if meta.Size != int64(c.size) || meta.Chunks != wantChunks || meta.ContentType != "image/png" {
				t.Fatalf("content %+v, want %d chunks", meta, wantChunks)
			}
			var buf bytes.Buffer
			_, err = io.Copy(&buf, iotest.HalfReader(rc)) // reads of odd sizes, across chunk ends
			rc.Close()
			sum := sha256.Sum256(buf.Bytes())
			if err != nil || !bytes.Equal(buf.Bytes(), data) || hex.EncodeToString(sum[:]) != sha {
				t.Fatalf("read back %d bytes of %d, %v", buf.Len(), c.size, err)
			}
			for n := range wantChunks {
				ch, _, err := doc.Get[chunkDoc](ctx, s.engine, colAttChunks, chunkID(sha, n))
				if err != nil || len(ch.Data) > ChunkSize || len(ch.Data) == 0 {
					t.Fatalf("chunk %d: %d bytes, %v", n, len(ch.Data), err)
				}
			}
			if _, err := a.Upload(ctx, "u1", sha); !errors.Is(err, ErrNotFound) {
				t.Fatalf("the finished upload is still there: %v", err)
			}
		})
	}
	if n := count(t, s, colParts); n != 0 {
		t.Fatalf("%d parts left", n)
	}

	// Bytes that are not the content of the hash are never stored.
	data, sha := content(1000, 99)
	up := received(t, a, "u1", data, sha, 1000)
	bad := append([]byte(nil), data...)
	bad[500] ^= 1
	if _, err := a.Finish(ctx, up, bad); !errors.Is(err, ErrContentMismatch) {
		t.Fatalf("finish with other bytes: %v", err)
	}
	if _, err := a.Content(ctx, sha); !errors.Is(err, ErrNotFound) {
		t.Fatalf("content stored from other bytes: %v", err)
	}

	// A damaged chunk: the reader fails rather than serve other bytes.
	data, sha = content(2*ChunkSize+5, 7)
	up = received(t, a, "u1", data, sha, 1<<20)
	if _, err := a.Finish(ctx, up, data); err != nil {
		t.Fatal(err)
	}
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { b[3] ^= 0xff; return b },
		func(b []byte) []byte { return b[:len(b)-1] },
	} {
		d, err := s.engine.Get(ctx, colAttChunks, chunkID(sha, 1))
		if err != nil {
			t.Fatal(err)
		}
		var ch chunkDoc
		if err := d.Decode(&ch); err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), ch.Data...)
		ch.Data = damage(ch.Data)
		v, err := doc.Replace(ctx, s.engine, colAttChunks, d.Version, ch)
		if err != nil {
			t.Fatal(err)
		}
		_, rc, err := a.Open(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err == nil {
			t.Fatalf("a damaged chunk read as %d bytes without an error", len(b))
		}
		ch.Data = orig
		if _, err := doc.Replace(ctx, s.engine, colAttChunks, v, ch); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAttachmentConcurrentFinish: requests that finish one upload at once,
// and uploaders of one content finishing at once, all succeed and store
// one content.
func TestAttachmentConcurrentFinish(t *testing.T) {
	for _, c := range []struct {
		name  string
		users []string
	}{
		{"one upload, eight requests", []string{"u1", "u1", "u1", "u1", "u1", "u1", "u1", "u1"}},
		{"four uploaders, two requests each", []string{"u1", "u2", "u3", "u4", "u1", "u2", "u3", "u4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := t.Context()
			a := s.Attachments
			data, sha := content(3*ChunkSize+100, 3)
			ups := map[string]*AttachmentUpload{}
			for _, u := range c.users {
				if ups[u] == nil {
					ups[u] = received(t, a, u, data, sha, 1<<20)
				}
			}
			// Each request has read the whole upload before any finishes,
			// as when two arrive together.
			start := make(chan struct{})
			errs := make([]error, len(c.users))
			var wg sync.WaitGroup
			for i, u := range c.users {
				got, err := a.ReadUpload(ctx, ups[u])
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read: %v", err)
				}
				wg.Go(func() {
					<-start
					var done *AttachmentUploader
					done, errs[i] = a.Finish(ctx, ups[u], got)
					if errs[i] == nil && done.UserID != u {
						errs[i] = fmt.Errorf("finished as %s", done.UserID)
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			for coll, want := range map[string]int{
				colAttachments: 1, colAttChunks: 4, colUploaders: len(ups), colUploads: 0, colParts: 0,
			} {
				if n := count(t, s, coll); n != want {
					t.Errorf("%s: %d documents, want %d", coll, n, want)
				}
			}
			_, rc, err := a.Open(ctx, sha)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("read back %d bytes, %v", len(b), err)
			}
		})
	}
}

// TestAttachmentResume: the upload's offset is where it resumes; a chunk
// sent on a stale view of it is refused, and of chunks sent at once at one
// offset exactly one moves it.
func TestAttachmentResume(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Attachments
	data, sha := content(100<<10, 5)
	up, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/jpeg", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/jpeg", ttl); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("announce twice: %v", err)
	}
	stale := up
	c.advance(time.Minute)
	if up, err = a.Append(ctx, up, data[:30<<10], ttl); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, stale, data[:30<<10], ttl); !errors.Is(err, ErrVersion) {
		t.Fatalf("a chunk on a stale view: %v", err)
	}
	// The connection drops; the server's offset is where to resume.
	cur, err := a.Upload(ctx, "u1", sha)
	if err != nil || cur.Offset != 30<<10 || !cur.ExpiresAt.Equal(epoch.Add(time.Minute+ttl)) {
		t.Fatalf("upload after one chunk: %+v, %v", cur, err)
	}

	// Eight requests send the next chunk at once: one moves the offset.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := a.Append(ctx, cur, data[30<<10:60<<10], ttl)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrVersion):
				lost++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != 7 {
		t.Fatalf("%d chunks moved the offset, %d were refused", won, lost)
	}
	if cur, err = a.Upload(ctx, "u1", sha); err != nil || cur.Offset != 60<<10 {
		t.Fatalf("upload after the race: %+v, %v", cur, err)
	}
	if cur, err = a.Append(ctx, cur, data[60<<10:], ttl); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ReadUpload(ctx, cur); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if _, err := a.Append(ctx, cur, []byte{1}, ttl); !errors.Is(err, doc.ErrInvalid) {
		t.Fatalf("a chunk past the size: %v", err)
	}
}

// TestAttachmentUploadHole: a chunk is accepted without reading the
// others, so a missing one shows only at completion, as a short read; a
// reset forgets every chunk and starts again at 0.
func TestAttachmentUploadHole(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := s.Attachments
	data, sha := content(90<<10, 8)
	// Three chunks; the first one is lost after the offset moved past it.
	up, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/png", ttl)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 30 << 10 {
		if off == 30<<10 {
			if err := s.engine.Delete(ctx, colParts, partID(up.Gen, 0), 0); err != nil {
				t.Fatal(err)
			}
		}
		if up, err = a.Append(ctx, up, data[off:off+30<<10], ttl); err != nil {
			t.Fatalf("a chunk after a lost one: %v", err)
		}
	}
	if got, err := a.ReadUpload(ctx, up); err != nil || len(got) != 0 {
		t.Fatalf("read past a hole: %d bytes, %v", len(got), err)
	}
	if err := a.Reset(ctx, up); err != nil {
		t.Fatal(err)
	}
	cur, err := a.Upload(ctx, "u1", sha)
	if err != nil || cur.Offset != 0 || cur.Gen == up.Gen {
		t.Fatalf("after the reset: %+v, %v", cur, err)
	}
	if n := count(t, s, colParts); n != 0 {
		t.Fatalf("%d parts left after the reset", n)
	}
	if _, err := a.Append(ctx, up, data[:30<<10], ttl); !errors.Is(err, doc.ErrInvalid) {
		t.Fatalf("a chunk on the view from before the reset: %v", err)
	}
	if cur, err = a.Append(ctx, cur, data[:30<<10], ttl); err != nil || cur.Offset != 30<<10 {
		t.Fatalf("the first chunk again: %+v, %v", cur, err)
	}
}

// TestAttachmentExpiry: unfinished uploads expire; the sweep finds them
// through the expiry index, the first to expire first, drops them with
// their chunks and leaves renewed ones; quotas count only live ones.
func TestAttachmentExpiry(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	a := s.Attachments
	var ups []*AttachmentUpload
	for i := range 5 {
		data, sha := content(40<<10, uint64(100+i))
		up, err := a.Announce(ctx, fmt.Sprintf("u%d", i%2), sha, int64(len(data)), "image/png", ttl)
		if err != nil {
			t.Fatal(err)
		}
		if up, err = a.Append(ctx, up, data[:20<<10], ttl); err != nil {
			t.Fatal(err)
		}
		ups = append(ups, up)
		c.advance(time.Hour)
	}
	// u0 holds uploads 0, 2 and 4, by expiry.
	pending, err := a.PendingUploads(ctx, "u0", 10)
	if err != nil || len(pending) != 3 || pending[0].ID != ups[0].ID || pending[2].ID != ups[4].ID {
		t.Fatalf("u0's pending uploads: %d, %v", len(pending), err)
	}
	if pending, _ := a.PendingUploads(ctx, "u0", 2); len(pending) != 2 {
		t.Fatalf("limit: %d", len(pending))
	}
	// Upload 1 is renewed by a chunk just before it would expire.
	c.t = ups[1].ExpiresAt.Add(-time.Minute)
	data, _ := content(40<<10, 101)
	if _, err := a.Append(ctx, ups[1], data[20<<10:30<<10], ttl); err != nil {
		t.Fatal(err)
	}
	// Now 0 and 1 would have expired, 2 just has (expiry is inclusive).
	c.t = ups[2].ExpiresAt
	if n, err := a.SweepExpired(ctx, 10); n != 2 || err != nil { // 0 and 2
		t.Fatalf("swept %d, %v", n, err)
	}
	if pending, _ := a.PendingUploads(ctx, "u0", 10); len(pending) != 1 || pending[0].ID != ups[4].ID {
		t.Fatalf("u0's pending uploads after the sweep: %+v", pending)
	}
	for i, want := range []bool{false, true, false, true, true} {
		_, err := a.Upload(ctx, ups[i].UserID, ups[i].SHA256)
		if (err == nil) != want {
			t.Fatalf("upload %d: %v, want kept %v", i, err, want)
		}
	}
	if n := count(t, s, colParts); n != 4 { // 1 (two chunks), 3, 4
		t.Fatalf("%d parts left", n)
	}
	// The sweep takes the first to expire first, limit at a time.
	c.advance(30 * 24 * time.Hour)
	if n, err := a.SweepExpired(ctx, 2); n != 2 || err != nil {
		t.Fatalf("swept %d, %v", n, err)
	}
	if _, err := a.Upload(ctx, ups[1].UserID, ups[1].SHA256); err != nil { // renewed: expires last
		t.Fatalf("the last to expire went first: %v", err)
	}
	if n, err := a.SweepExpired(ctx, 2); n != 1 || err != nil {
		t.Fatalf("swept %d, %v", n, err)
	}
	if n := count(t, s, colUploads) + count(t, s, colParts); n != 0 {
		t.Fatalf("%d documents left", n)
	}
	// An expired upload dropped on its own.
	data, sha := content(10, 1)
	up, err := a.Announce(ctx, "u9", sha, int64(len(data)), "image/png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DropExpired(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Upload(ctx, "u9", sha); err != nil {
		t.Fatalf("an unexpired upload was dropped: %v", err)
	}
	c.advance(time.Minute)
	if _, err := a.Append(ctx, up, data, time.Minute); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a chunk to an expired upload: %v", err)
	}
	if err := a.DropExpired(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Upload(ctx, "u9", sha); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the expired upload is still there: %v", err)
	}
}

// TestAttachmentLinks: one link per content, visit and user, shared once
// said so; every link of a content is read, page after page.
func TestAttachmentLinks(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := s.Attachments
	_, sha := content(1, 1)
	_, other := content(1, 2)
	for _, l := range []struct {
		visit, user string
		shared      bool
	}{
		{"v1", "u1", false}, {"v1", "u1", false}, {"v1", "u2", true}, {"v1", "u2", false}, {"v2", "u3", false}, {"v2", "u3", true},
	} {
		if err := a.Link(ctx, sha, l.visit, l.user, l.shared); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Link(ctx, other, "v1", "u1", false); err != nil {
		t.Fatal(err)
	}
	links, err := a.Links(ctx, sha)
	if err != nil || len(links) != 3 {
		t.Fatalf("links %+v, %v", links, err)
	}
	for _, l := range links {
		if l.SHA256 != sha || l.Shared != (l.UserID != "u1") {
			t.Fatalf("link %+v", l)
		}
	}
	var wg sync.WaitGroup
	for i := range 205 {
		wg.Go(func() {
			if err := a.Link(context.WithoutCancel(ctx), other, fmt.Sprintf("v%03d", i), "u1", false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if links, err := a.Links(ctx, other); err != nil || len(links) != 206 {
		t.Fatalf("%d links, %v", len(links), err)
	}
}

// TestAttachmentChunkOnADeadUpload: a chunk sent on a view of an upload
// that is dropped, finished or reset before the chunk lands is refused,
// and its part is not left behind.
func TestAttachmentChunkOnADeadUpload(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(ctx context.Context, a *Attachments, up *AttachmentUpload, data []byte) error
		want error
	}{
		{"dropped", func(ctx context.Context, a *Attachments, up *AttachmentUpload, _ []byte) error {
			return a.Drop(ctx, up)
		}, ErrNotFound},
		{"reset", func(ctx context.Context, a *Attachments, up *AttachmentUpload, _ []byte) error {
			return a.Reset(ctx, up)
		}, ErrVersion},
		{"finished by a twin", func(ctx context.Context, a *Attachments, up *AttachmentUpload, data []byte) error {
			up, err := a.Append(ctx, up, data[up.Offset:], ttl)
			if err == nil {
				_, err = a.Finish(ctx, up, data)
			}
			return err
		}, ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := t.Context()
			a := s.Attachments
			data, sha := content(64<<10, 4)
			up, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/png", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if up, err = a.Append(ctx, up, data[:32<<10], ttl); err != nil {
				t.Fatal(err)
			}
			if err := c.end(ctx, a, up, data); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Append(ctx, up, data[32<<10:], ttl); !errors.Is(err, c.want) {
				t.Fatalf("a chunk on the view from before: %v, want %v", err, c.want)
			}
			var left []string
			_ = s.Each(ctx, func(coll string, d bson.Raw) error {
				if coll == colParts {
					id, _ := doc.ID(d)
					left = append(left, id)
				}
				return nil
			})
			if len(left) != 0 {
				t.Fatalf("parts left behind: %v", left)
			}
		})
	}
}

// BenchmarkAttachmentUpload: a 10 MiB photo sent in 32 KiB chunks,
// finished, and read back.
func BenchmarkAttachmentUpload(b *testing.B) {
	s, _ := openTest(b)
	ctx := b.Context()
	a := s.Attachments
	for i := 0; b.Loop(); i++ {
		data, sha := content(10<<20, uint64(i))
		up, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/png", ttl)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += 32 << 10 {
			if up, err = a.Append(ctx, up, data[off:off+32<<10], ttl); err != nil {
				b.Fatal(err)
			}
		}
		got, err := a.ReadUpload(ctx, up)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Finish(ctx, up, got); err != nil {
			b.Fatal(err)
		}
		_, rc, err := a.Open(ctx, sha)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}

// BenchmarkAttachmentDownload: a stored 10 MiB content read back.
func BenchmarkAttachmentDownload(b *testing.B) {
	s, _ := openTest(b)
	ctx := b.Context()
	a := s.Attachments
	data, sha := content(10<<20, 1)
	up, err := a.Announce(ctx, "u1", sha, int64(len(data)), "image/png", ttl)
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 20 {
		if up, err = a.Append(ctx, up, data[off:off+1<<20], ttl); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := a.Finish(ctx, up, data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, rc, err := a.Open(ctx, sha)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}
