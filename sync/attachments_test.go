package sync_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// TestTwinCompletions: requests that complete one upload together (the
// last chunk sent twice at once, announcements while it arrives) all get
// the finished upload or the offset to resume from, and the content is
// stored once, intact.
func TestTwinCompletions(t *testing.T) {
	db, _, a := setup(t)
	e := engine(db)
	ctx := t.Context()
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	n := fsync.NewUpload{SHA256: sha, Size: int64(len(data)), ContentType: "image/png"}
	if _, _, err := e.StartUpload(ctx, a, n); err != nil {
		t.Fatal(err)
	}
	last := len(data) - 20<<10
	if _, err := e.AppendChunk(ctx, a, sha, 0, data[:last]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			var att *fsync.Attachment
			var err error
			if i%2 == 0 {
				att, err = e.AppendChunk(ctx, a, sha, int64(last), data[last:])
			} else {
				att, _, err = e.StartUpload(ctx, a, n)
			}
			switch {
			case err == nil && (att.Complete || att.Offset == int64(last)):
			case schemas.ErrorCode(err) == schemas.ECONFLICT:
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a twin request: %v", err)
	}
	if att, err := e.Attachment(ctx, a, sha); err != nil || !att.Complete {
		t.Fatalf("after the twins: %+v, %v", att, err)
	}
	_, rc, err := e.OpenAttachment(ctx, a, sha)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	stored := map[string]int{}
	if err := db.Each(ctx, func(coll string, _ bson.Raw) error { stored[coll]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if stored["attachments"] != 1 || stored["attachment_uploaders"] != 1 || stored["attachment_uploads"] != 0 || stored["attachment_parts"] != 0 {
		t.Fatalf("stored %v", stored)
	}
}
