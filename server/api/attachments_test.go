package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
	if int64(len(data)) < 3*fsync.DefaultAttachmentLimits.MinChunk {
		t.Fatalf("test image too small: %d", len(data))
	}
	p := w.phone("wk.one", "phone-1")
	start := map[string]any{"sha256": sha, "size": len(data), "contentType": "image/png"}
	var att fsync.Attachment
	f.do("POST", "/v1/attachments", start, p.token).want(201).decode(&att)
	if att.Offset != 0 || att.Complete {
		t.Fatalf("new upload %+v", att)
	}
	// The operation naming the photo arrives before the photo's bytes.
	resp := p.mustPush(p.ops(opSpec{fsync.KindProgress, w.v1.ID, w.v1.ScheduledStart, map[string]any{"itemId": "kitchen", "done": true, "photos": []string{sha}}}))
	if got := statuses(resp); got != "applied" {
		t.Fatalf("progress naming an announced photo: %s", got)
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
	if files := f.stored("attachments"); files != 1 {
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
	f.patch(p.token, tsha, 0, text).wantError(415, schemas.EMEDIATYPE)
	// Chunks past the declared size, and the wrong content type.
	f.patch(p.token, sha, 0, append(data, 1)).wantError(400, schemas.EINVALID)
	f.do("PATCH", "/v1/attachments/"+sha+"/upload", "x", p.token, "Content-Type", "application/json").wantError(415, schemas.EMEDIATYPE)
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// upload announces data and sends it in chunks that fit the fixture's
// body limit; it returns the answer to the last chunk.
func (f *fixture) upload(token string, data []byte, contentType string) *result {
	f.t.Helper()
	f.do("POST", "/v1/attachments", map[string]any{"sha256": hashOf(data), "size": len(data), "contentType": contentType}, token).want(201)
	return f.send(token, data)
}

// send sends data in chunks to an announced upload.
func (f *fixture) send(token string, data []byte) *result {
	f.t.Helper()
	const chunk = 48 << 10
	for off := 0; ; off += chunk {
		end := min(off+chunk, len(data))
		r := f.patch(token, hashOf(data), off, data[off:end])
		if end == len(data) || r.status != 204 {
			return r
		}
	}
}

// account creates a user and signs it in on a device.
func (w *world) account(u schemas.NewUser, device string) string {
	w.f.t.Helper()
	u.Password, u.Name = testPassword, u.Login
	if _, err := w.f.auth.CreateUser(w.f.t.Context(), u); err != nil {
		w.f.t.Fatal(err)
	}
	return w.f.login(u.Login, device).AccessToken
}

// TestAttachmentReferencesNeedTheBytes: knowing a hash gives nothing. A
// worker of another team and a customer who name someone else's photo in
// their own operations have them applied (nothing they record is lost)
// but cannot read it; announcing the hash tells nothing and, until the
// bytes are sent, grants nothing; a second uploader is served once it has
// sent the content itself; nobody touches another's unfinished upload.
func TestAttachmentReferencesNeedTheBytes(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	data := testPNG(t, 400, 300)
	sha := hashOf(data)
	p1 := w.phone("wk.one", "phone-1")
	f.upload(p1.token, data, "image/png").want(204)
	if got := statuses(p1.mustPush(p1.ops(opSpec{fsync.KindNote, w.v1.ID, w.v1.ScheduledStart, map[string]any{"text": "厨房", "photos": []string{sha}}}))); got != "applied" {
		t.Fatalf("the uploader's own note: %s", got)
	}
	f.do("GET", "/v1/attachments/"+sha, nil, w.cu1).want(200) // the visit's customer

	// A worker of team-2 names it in a note on its own visit.
	p2 := &phone{w: w, device: "phone-2", token: w.account(schemas.NewUser{Login: "wk.two", Role: schemas.RoleWorker, WorkerID: w.w2.ID, Team: "team-2"}, "phone-2")}
	resp := p2.mustPush(p2.ops(
		opSpec{fsync.KindNote, w.v2.ID, w.v2.ScheduledStart, map[string]any{"text": "看", "photos": []string{sha}}},
		opSpec{fsync.KindCheckIn, w.v2.ID, w.v2.ScheduledStart, map[string]any{"location": near}},
		opSpec{fsync.KindCheckOut, w.v2.ID, w.v2.ScheduledStart.Add(2 * time.Hour), map[string]any{"location": near}},
	))
	if got := statuses(resp); got != "applied,applied,applied" {
		t.Fatalf("another team's note naming the photo: %s", got)
	}
	if notes := w.visit(w.v2.ID).Field.Notes; len(notes) != 1 || !slices.Equal(notes[0].Photos, []string{sha}) {
		t.Fatalf("the note naming the photo was not recorded as sent: %+v", notes)
	}
	f.do("GET", "/v1/attachments/"+sha, nil, p2.token).wantError(404, schemas.ENOTFOUND)

	// The household of that visit names it as its signature.
	cu2 := w.account(schemas.NewUser{Login: "cu.two", Role: schemas.RoleCustomer, CustomerID: w.c2.ID}, "phone")
	signOff := func(ref string) map[string]any {
		return map[string]any{"opId": f.newID(), "signerName": "徐女士", "signatureRef": ref,
			"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}
	}
	f.do("POST", "/v1/visits/"+w.v2.ID+"/signoff", signOff(sha), cu2).want(200)
	if v := w.visit(w.v2.ID); v.Field.SignOff == nil || v.Field.SignOff.SignatureRef != sha {
		t.Fatalf("the sign-off naming the photo was not recorded: %+v", v.Field.SignOff)
	}
	f.do("GET", "/v1/attachments/"+sha, nil, cu2).wantError(404, schemas.ENOTFOUND)
	f.do("GET", "/v1/attachments/"+sha, nil, p2.token).wantError(404, schemas.ENOTFOUND)

	// Dedupe tells nothing: the hash is new to this user.
	f.do("HEAD", "/v1/attachments/"+sha+"/upload", nil, p2.token).want(404)
	var att fsync.Attachment
	f.do("POST", "/v1/attachments", map[string]any{"sha256": sha, "size": len(data), "contentType": "image/png"}, p2.token).want(201).decode(&att)
	if att.Complete || att.Offset != 0 {
		t.Fatalf("someone else's content announced: %+v", att)
	}
	// Announced, not sent: a reference to it is the uploader's own and
	// counts only once the bytes are in.
	if got := statuses(p2.mustPush(p2.ops(opSpec{fsync.KindNote, w.v2.ID, w.v2.ScheduledStart.Add(time.Hour), map[string]any{"text": "照片", "photos": []string{sha}}}))); got != "applied" {
		t.Fatalf("a note naming the user's own announced upload: %s", got)
	}
	f.do("GET", "/v1/attachments/"+sha, nil, p2.token).wantError(409, schemas.ECONFLICT)
	f.do("GET", "/v1/attachments/"+sha, nil, cu2).wantError(404, schemas.ENOTFOUND)
	// The second uploader sends the bytes: now it and its visit's household read it.
	done := f.send(p2.token, data).want(204)
	if done.header.Get("Upload-Complete") != "1" {
		t.Fatal("second uploader's upload did not complete")
	}
	f.do("GET", "/v1/attachments/"+sha, nil, p2.token).want(200)
	f.do("GET", "/v1/attachments/"+sha, nil, cu2).want(200)
	if files := f.stored("attachments"); files != 1 {
		t.Fatalf("%d files stored, want 1", files)
	}

	// Nobody resets another's unfinished upload.
	other := testPNG(t, 300, 300)
	osha := hashOf(other)
	f.do("POST", "/v1/attachments", map[string]any{"sha256": osha, "size": len(other), "contentType": "image/png"}, p1.token).want(201)
	half := len(other) / 2
	f.patch(p1.token, osha, 0, other[:half]).want(204)
	bad := append([]byte(nil), other[half:]...)
	bad[0] ^= 0xff
	f.patch(p2.token, osha, half, bad).wantError(404, schemas.ENOTFOUND)
	f.do("POST", "/v1/attachments", map[string]any{"sha256": osha, "size": len(other), "contentType": "image/png"}, p2.token).want(201)
	f.patch(p2.token, osha, 0, other[:half]).want(204)
	f.patch(p2.token, osha, half, bad).wantError(400, schemas.EINVALID) // its own upload resets
	if r := f.do("HEAD", "/v1/attachments/"+osha+"/upload", nil, p1.token).want(200); r.header.Get("Upload-Offset") != strconv.Itoa(half) {
		t.Fatalf("the first uploader's offset is %s after another's bad chunk, want %d", r.header.Get("Upload-Offset"), half)
	}
	f.patch(p1.token, osha, half, other[half:]).want(204)
}

// TestAttachmentReferenceBeforeAnnounce: a phone queues operations apart
// from its uploads, so an operation may name a photo whose upload is not
// even announced. It is applied, the visit shows the hash, and the content
// is served through the visit once that user's own upload has completed;
// another team's worker naming the same hash on its own visit is applied
// too, answered as for a hash nobody stored, and never served it.
func TestAttachmentReferenceBeforeAnnounce(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	data := testPNG(t, 300, 200)
	sha := hashOf(data)
	p1 := w.phone("wk.one", "phone-1")
	resp := p1.mustPush(p1.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near}},
		opSpec{fsync.KindProgress, w.v1.ID, w.v1.ScheduledStart.Add(time.Minute), map[string]any{"itemId": "kitchen", "done": true, "photos": []string{sha}}},
		opSpec{fsync.KindNote, w.v1.ID, w.v1.ScheduledStart.Add(2 * time.Minute), map[string]any{"text": "灶台有划痕", "photos": []string{sha}}},
	))
	if got := statuses(resp); got != "applied,applied,applied" {
		t.Fatalf("operations naming a photo not yet announced: %s", got)
	}
	notes := w.visit(w.v1.ID).Field.Notes // the progress's photos and the note
	if len(notes) != 2 || !slices.Equal(notes[0].Photos, []string{sha}) || !slices.Equal(notes[1].Photos, []string{sha}) {
		t.Fatalf("notes %+v, want two naming %s", notes, sha)
	}
	// Not uploaded yet: nobody reads it, the referrer included.
	for _, token := range []string{p1.token, w.s1, w.cu1, w.admin} {
		f.do("GET", "/v1/attachments/"+sha, nil, token).wantError(404, schemas.ENOTFOUND)
	}

	// Another team's worker names it on its own visit, and a hash nobody
	// stored: both are applied, and neither is served.
	p2 := &phone{w: w, device: "phone-2", token: w.account(schemas.NewUser{Login: "wk.two", Role: schemas.RoleWorker, WorkerID: w.w2.ID, Team: "team-2"}, "phone-2")}
	s2 := w.account(schemas.NewUser{Login: "sup.two", Role: schemas.RoleSupervisor, Team: "team-2"}, "office")
	nobody := fmt.Sprintf("%064x", 42)
	theirNote := func(at time.Time) string {
		return statuses(p2.mustPush(p2.ops(
			opSpec{fsync.KindNote, w.v2.ID, at, map[string]any{"text": "看", "photos": []string{sha}}},
			opSpec{fsync.KindNote, w.v2.ID, at.Add(time.Minute), map[string]any{"text": "看", "photos": []string{nobody}}},
		)))
	}
	if got := theirNote(w.v2.ScheduledStart); got != "applied,applied" {
		t.Fatalf("another team naming hashes before any upload: %s", got)
	}

	// The referrer's own upload completes: the visit now serves it.
	f.upload(p1.token, data, "image/png").want(204)
	for _, token := range []string{p1.token, w.s1, w.cu1, w.admin} {
		got := f.do("GET", "/v1/attachments/"+sha, nil, token).want(200)
		if !bytes.Equal(got.body, data) {
			t.Fatalf("content differs (%d bytes)", len(got.body))
		}
	}
	// Stored now, yet another team's reference answers as for a hash
	// nobody stored, and grants nothing.
	if got := theirNote(w.v2.ScheduledStart.Add(time.Hour)); got != "applied,applied" {
		t.Fatalf("another team naming a stored hash and an unknown one: %s", got)
	}
	for _, token := range []string{p2.token, s2} {
		mine := f.do("GET", "/v1/attachments/"+sha, nil, token).wantError(404, schemas.ENOTFOUND)
		none := f.do("GET", "/v1/attachments/"+nobody, nil, token).wantError(404, schemas.ENOTFOUND)
		if mine.Message != none.Message {
			t.Fatalf("a stored hash answers %q, an unknown one %q", mine.Message, none.Message)
		}
	}
	if n := len(w.visit(w.v2.ID).Field.Notes); n != 4 {
		t.Fatalf("%d notes on the other team's visit, want 4", n)
	}
}

// TestAttachmentSharedReference: a content already on a visit the user
// may see may be named again by that user (here the visit's household
// signs off with it); the reference counts at once.
func TestAttachmentSharedReference(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	data := testPNG(t, 200, 100)
	sha := hashOf(data)
	p1 := w.phone("wk.one", "phone-1")
	f.upload(p1.token, data, "image/png").want(204)
	resp := p1.mustPush(p1.ops(
		opSpec{fsync.KindCheckIn, w.v1.ID, w.v1.ScheduledStart, map[string]any{"location": near}},
		opSpec{fsync.KindNote, w.v1.ID, w.v1.ScheduledStart.Add(time.Minute), map[string]any{"text": "厨房", "photos": []string{sha}}},
		opSpec{fsync.KindCheckOut, w.v1.ID, w.v1.ScheduledStart.Add(2 * time.Hour), map[string]any{"location": near}},
	))
	if got := statuses(resp); got != "applied,applied,applied" {
		t.Fatalf("push: %s", got)
	}
	f.do("POST", "/v1/visits/"+w.v1.ID+"/signoff", map[string]any{"opId": f.newID(), "signerName": "林先生", "signatureRef": sha,
		"items": []map[string]any{{"itemId": "kitchen", "accepted": true}, {"itemId": "floors", "accepted": true}}}, w.cu1).want(200)
	links, err := f.db.Attachments.Links(t.Context(), sha)
	if err != nil || len(links) != 2 {
		t.Fatalf("links %v, %v", links, err)
	}
}

// testHEIC builds a minimal HEIC: an ftyp with the heic brand, a meta box
// with a picture handler, primary item, item info and locations, and an
// mdat with the given coded data.
func testHEIC(brand string, mdat []byte) []byte {
	bx := func(typ string, body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		out := binary.BigEndian.AppendUint32(nil, uint32(8+len(b)))
		return append(append(out, typ...), b...)
	}
	full := make([]byte, 4) // version and flags
	hdlr := bx("hdlr", full, make([]byte, 4), []byte("pict"), make([]byte, 12), []byte{0})
	meta := bx("meta", full, hdlr, bx("pitm", full, []byte{0, 1}), bx("iinf", full, []byte{0, 0}), bx("iloc", full, []byte{0x44, 0, 0, 0}))
	return bytes.Join([][]byte{bx("ftyp", []byte(brand), make([]byte, 4), []byte("mif1"), []byte(brand)), meta, bx("mdat", mdat)}, nil)
}

// hugePNG is a valid PNG header claiming a canvas far too large to decode.
func hugePNG(t *testing.T) []byte {
	b := testPNG(t, 1, 1)
	ihdr := b[8+8 : 8+8+13] // after the signature and the chunk's length and type
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[12:8+8+13]))
	return b
}

func testJPEG(t *testing.T) []byte {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAttachmentContentIsItsType: the whole content must be of the
// declared type, and what is served is inert.
func TestAttachmentContentIsItsType(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	page := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	png, png2 := testPNG(t, 40, 30), testPNG(t, 30, 40)
	coded := bytes.Repeat([]byte{0x26, 0x01, 0xaf, 0xc0, 0x3c, 0x7f}, 200) // stands in for HEVC data
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, c := range []struct {
		name, contentType string
		data              []byte
		ok                bool
	}{
		{"PNG", "image/png", png, true},
		{"JPEG", "image/jpeg", testJPEG(t), true},
		{"HEIC", "image/heic", testHEIC("heic", coded), true},
		{"WebP", "image/webp", webp, true},
		{"HTML declared HEIC", "image/heic", page, false},
		{"PNG signature then HTML", "image/png", cat(png[:8], page), false},
		{"PNG then HTML", "image/png", cat(png, page), false},
		{"PNG declared JPEG", "image/jpeg", png2, false},
		{"PNG of 10^10 pixels", "image/png", hugePNG(t), false},
		{"JPEG then HTML", "image/jpeg", cat(testJPEG(t), page), false},
		{"HEIC with HTML inside", "image/heic", testHEIC("heic", cat(coded, page)), false},
		{"HEIC then HTML", "image/heic", cat(testHEIC("heic", coded), page), false},
		{"AVIF declared HEIC", "image/heic", testHEIC("avif", coded), false},
		{"WebP then HTML", "image/webp", cat(webp, page), false},
	} {
		t.Logf("case %s", c.name)
		r := f.upload(p.token, c.data, c.contentType)
		if !c.ok {
			r.wantError(415, schemas.EMEDIATYPE)
			f.do("GET", "/v1/attachments/"+hashOf(c.data), nil, p.token).wantError(404, schemas.ENOTFOUND)
			f.do("HEAD", "/v1/attachments/"+hashOf(c.data)+"/upload", nil, p.token).want(404) // dropped: announce it with its real type
			continue
		}
		r.want(204)
		got := f.do("GET", "/v1/attachments/"+hashOf(c.data), nil, p.token).want(200)
		if !bytes.Equal(got.body, c.data) {
			t.Fatalf("%s: content differs", c.name)
		}
		for h, want := range map[string]string{
			"Content-Type":            c.contentType,
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; sandbox",
			"Cache-Control":           "private, no-store",
		} {
			if got.header.Get(h) != want {
				t.Errorf("%s: %s %q, want %q", c.name, h, got.header.Get(h), want)
			}
		}
		if d := got.header.Get("Content-Disposition"); !strings.HasPrefix(d, `inline; filename="`+hashOf(c.data)+".") {
			t.Errorf("%s: Content-Disposition %q", c.name, d)
		}
	}
}

// TestAttachmentQuota: unfinished uploads are bounded per user, in number
// and in bytes, and expire: the report's 27 MiB of never-finished uploads
// from one customer is refused, and the chunks of an abandoned upload are
// swept once it expires.
func TestAttachmentQuota(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	l := fsync.DefaultAttachmentLimits
	announce := func(token string, i, size int) *result {
		return f.do("POST", "/v1/attachments", map[string]any{"sha256": fmt.Sprintf("%064x", i), "size": size, "contentType": "image/jpeg"}, token)
	}
	// 27 MiB in three files of 9 MiB from one customer: the third is over.
	announce(w.cu1, 1, 9<<20).want(201)
	f.clock.Add(time.Minute)
	announce(w.cu1, 2, 9<<20).want(201)
	r := announce(w.cu1, 3, 9<<20)
	e := r.wantError(429, schemas.ERATELIMIT)
	if e.Details["quota"] != "unfinished_uploads" {
		t.Fatalf("details %v", e.Details)
	}
	// Retry-After: when the oldest unfinished upload expires.
	if want := strconv.Itoa(int((l.UploadTTL - time.Minute).Seconds())); r.header.Get("Retry-After") != want {
		t.Fatalf("Retry-After %q, want %q", r.header.Get("Retry-After"), want)
	}
	// Other users have their own quota.
	announce(w.wk1, 3, 9<<20).want(201)
	// A number of small ones: the count is bounded too.
	for i := 2; i < l.MaxPending; i++ {
		announce(w.cu1, 10+i, 1000).want(201)
	}
	announce(w.cu1, 99, 1000).wantError(429, schemas.ERATELIMIT)
	// Finishing one frees its share at once.
	sig := testPNG(t, 60, 20)
	f.do("POST", "/v1/attachments", map[string]any{"sha256": hashOf(sig), "size": len(sig), "contentType": "image/png"}, w.cu1).wantError(429, schemas.ERATELIMIT)
	f.do("POST", "/v1/attachments", map[string]any{"sha256": hashOf(sig), "size": len(sig), "contentType": "image/png"}, w.wk1).want(201)
	f.patch(w.wk1, hashOf(sig), 0, sig).want(204)
	announce(w.wk1, 4, 9<<20).want(201)

	// An abandoned upload with a chunk stored expires and is swept.
	chunk := bytes.Repeat([]byte{1}, int(l.MinChunk))
	f.patch(w.cu1, fmt.Sprintf("%064x", 1), 0, chunk).want(204)
	parts := func() int { return f.stored("attachment_parts") }
	if parts() != 1 {
		t.Fatalf("%d parts stored", parts())
	}
	f.clock.Add(l.UploadTTL + time.Minute)
	w.cu1 = f.login("cu.one", "phone").AccessToken
	announce(w.cu1, 3, 9<<20).want(201) // the expired ones count no more; announcing sweeps
	if parts() != 0 {
		t.Fatalf("%d parts of expired uploads left", parts())
	}
	f.do("HEAD", "/v1/attachments/"+fmt.Sprintf("%064x", 1)+"/upload", nil, w.cu1).want(404)
	f.patch(w.cu1, fmt.Sprintf("%064x", 1), int(l.MinChunk), chunk).wantError(404, schemas.ENOTFOUND)
}

// TestAttachmentChunksDoNotReread: a chunk is accepted on the upload's
// recorded offset; the content is read once, when complete. (That a chunk
// reads no other chunk, and that a hole found at completion shows, is
// tested in package store: TestAttachmentUploadHole.)
func TestAttachmentChunksDoNotReread(t *testing.T) {
	w := newSyncWorld(t)
	f := w.f
	p := w.phone("wk.one", "phone-1")
	data := testPNG(t, 400, 300)
	sha := hashOf(data)
	third := len(data) / 3
	f.do("POST", "/v1/attachments", map[string]any{"sha256": sha, "size": len(data), "contentType": "image/png"}, p.token).want(201)
	f.patch(p.token, sha, 0, data[:third]).want(204)
	if r := f.patch(p.token, sha, third, data[third:2*third]).want(204); r.header.Get("Upload-Offset") != strconv.Itoa(2*third) {
		t.Fatalf("offset %s", r.header.Get("Upload-Offset"))
	}
	if r := f.patch(p.token, sha, 2*third, data[2*third:]).want(204); r.header.Get("Upload-Complete") != "1" {
		t.Fatal("the last chunk did not complete the upload")
	}
	if n := f.stored("attachment_parts"); n != 0 {
		t.Fatalf("%d parts left after completion", n)
	}
	got := f.do("GET", "/v1/attachments/"+sha, nil, p.token).want(200)
	if !bytes.Equal(got.body, data) {
		t.Fatalf("content differs (%d bytes)", len(got.body))
	}
}

// stored counts the documents of a collection of the store.
func (f *fixture) stored(coll string) int {
	f.t.Helper()
	n := 0
	err := f.db.Each(f.t.Context(), func(name string, _ bson.Raw) error {
		if name == coll {
			n++
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}
