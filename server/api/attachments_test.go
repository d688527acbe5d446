package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http/httptest"
	"strconv"
	"testing"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

func testPNG(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.RGBA{uint8(x*7 + y*y), uint8(y*13 ^ x*x), uint8((x * y) % 251), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *fixture) patch(token, sha string, offset int, chunk []byte) *result {
	req := httptest.NewRequest("PATCH", "/v1/attachments/"+sha+"/upload", bytes.NewReader(chunk))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.Itoa(offset))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.api.App().Test(req, -1)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return &result{t: f.t, status: resp.StatusCode, header: resp.Header, body: b}
}

// TestAttachmentResumeAndDedupe: a photo uploaded in chunks survives a
// dropped connection (resume at the server's offset), is verified against
// its hash, stored once, referenced by an operation that arrived first,
// and readable only by those who may see the visit.
func TestAttachmentResumeAndDedupe(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	data := testPNG(t, 400, 300)
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	if len(data) < 3000 {
		t.Fatalf("test image too small: %d", len(data))
	}
	// The operation naming the photo arrives before the photo.
	p := w.phone("wk.one", "phone-1")
	p.mustPush(p.ops(opSpec{fsync.KindProgress, w.v1.ID, w.v1.ScheduledStart, map[string]any{"itemId": "kitchen", "done": true, "photos": []string{sha}}}))

	start := map[string]any{"sha256": sha, "size": len(data), "contentType": "image/png"}
	var att fsync.Attachment
	f.do("POST", "/v1/attachments", start, p.token).want(201).decode(&att)
	if att.Offset != 0 || att.Complete {
		t.Fatalf("new upload %+v", att)
	}
	third := len(data) / 3
	f.patch(p.token, sha, 0, data[:third]).want(204)
	// The connection drops; the phone asks where to resume.
	r := f.do("HEAD", "/v1/attachments/"+sha+"/upload", nil, p.token).want(200)
	if r.header.Get("Upload-Offset") != strconv.Itoa(third) || r.header.Get("Upload-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("HEAD offset %q length %q", r.header.Get("Upload-Offset"), r.header.Get("Upload-Length"))
	}
	f.do("POST", "/v1/attachments", start, p.token).want(200).decode(&att)
	if att.Offset != int64(third) {
		t.Fatalf("announcing again resumes at %d, want %d", att.Offset, third)
	}
	// A chunk at a stale offset is refused with the right one.
	stale := f.patch(p.token, sha, 0, data[:10])
	stale.wantError(409, schemas.ECONFLICT)
	if stale.header.Get("Upload-Offset") != strconv.Itoa(third) {
		t.Fatalf("409 offset header %q", stale.header.Get("Upload-Offset"))
	}
	f.patch(p.token, sha, third, data[third:2*third]).want(204)
	done := f.patch(p.token, sha, 2*third, data[2*third:]).want(204)
	if done.header.Get("Upload-Complete") != "1" {
		t.Fatal("last chunk did not complete the upload")
	}
	// Uploading the same content again stores nothing new.
	f.do("POST", "/v1/attachments", start, w.wk1).want(200).decode(&att)
	if !att.Complete {
		t.Fatal("second upload of the same content not recognised")
	}
	files, _ := f.db.DB.Collection("fs.files").CountDocuments(t.Context(), map[string]any{})
	if files != 1 {
		t.Fatalf("%d files stored, want 1", files)
	}
	// Who may read it: the uploader, the visit's supervisor and customer; not another customer.
	for _, c := range []struct {
		token string
		want  int
	}{{p.token, 200}, {w.s1, 200}, {w.cu1, 200}, {w.admin, 200}} {
		got := f.do("GET", "/v1/attachments/"+sha, nil, c.token).want(c.want)
		if !bytes.Equal(got.body, data) || got.header.Get("Content-Type") != "image/png" {
			t.Fatalf("content differs (%d bytes, %s)", len(got.body), got.header.Get("Content-Type"))
		}
	}
	other := otherCustomer(t, w)
	f.do("GET", "/v1/attachments/"+sha, nil, other).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/attachments/"+fmt.Sprintf("%064x", 7), nil, w.admin).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/attachments/not-a-hash", nil, w.admin).wantError(404, schemas.ENOTFOUND)
}

func otherCustomer(t *testing.T, w *world) string {
	_, err := w.f.auth.CreateUser(t.Context(), schemas.NewUser{Login: "cu.two", Password: testPassword, Name: "cu.two", Role: schemas.RoleCustomer, CustomerID: w.c2.ID})
	if err != nil {
		t.Fatal(err)
	}
	return w.f.login("cu.two", "phone").AccessToken
}

func TestAttachmentChecks(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	data := testPNG(t, 50, 50)
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	for _, bad := range []map[string]any{
		{"sha256": "abc", "size": len(data), "contentType": "image/png"},
		{"sha256": sha, "size": 0, "contentType": "image/png"},
		{"sha256": sha, "size": len(data), "contentType": "application/x-msdownload"},
	} {
		f.do("POST", "/v1/attachments", bad, p.token).wantError(400, schemas.EINVALID)
	}
	f.do("POST", "/v1/attachments", map[string]any{"sha256": sha, "size": 11 << 20, "contentType": "image/png"}, p.token).wantError(413, schemas.ETOOLARGE)

	// Content that does not match its hash is refused and the upload reset.
	f.do("POST", "/v1/attachments", map[string]any{"sha256": sha, "size": len(data), "contentType": "image/png"}, p.token).want(201)
	corrupt := append([]byte(nil), data...)
	corrupt[len(corrupt)/2] ^= 0xff
	f.patch(p.token, sha, 0, corrupt).wantError(400, schemas.EINVALID)
	r := f.do("HEAD", "/v1/attachments/"+sha+"/upload", nil, p.token).want(200)
	if r.header.Get("Upload-Offset") != "0" {
		t.Fatalf("offset after a bad upload %q", r.header.Get("Upload-Offset"))
	}
	// Not an image although declared one.
	text := []byte("#!/bin/sh\necho not a picture\n")
	tsum := sha256.Sum256(text)
	tsha := hex.EncodeToString(tsum[:])
	f.do("POST", "/v1/attachments", map[string]any{"sha256": tsha, "size": len(text), "contentType": "image/jpeg"}, p.token).want(201)
	f.patch(p.token, tsha, 0, text).wantError(400, schemas.EINVALID)
	// Chunks past the declared size, and the wrong content type.
	f.patch(p.token, sha, 0, append(data, 1)).wantError(400, schemas.EINVALID)
	f.do("PATCH", "/v1/attachments/"+sha+"/upload", "x", p.token, "Content-Type", "application/json").wantError(415, schemas.EMEDIATYPE)
}
