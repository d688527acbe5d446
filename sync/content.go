package sync

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"fieldsync/schemas"
)

// An attachment is served with the type its uploader declared, so the
// whole content must be of that type: a browser, a mail client or an
// office tool that guesses the type from the bytes must never find a page
// to run. PNG, JPEG and WebP are decoded in full (PNG with nothing after
// its end); HEIC, which the standard library cannot decode, gets a
// structural check of its boxes. Every type is then scanned for the tags
// that start an HTML document or script: a decoder ignores what sits in
// metadata, in a trailer or in HEIC's coded data.

// maxPixels bounds the decoded size of an image, so a small file cannot
// claim a huge canvas and exhaust memory (a 48 MP phone photo fits).
const maxPixels = 50_000_000

// decodeSlots bounds how many images are decoded at once: each may take a
// few hundred MB while it is.
var decodeSlots = make(chan struct{}, 2)

// checkContent says whether data is entirely content of the declared type.
func checkContent(contentType string, data []byte) error {
	var err error
	switch contentType {
	case "image/png":
		err = decodeImage(data, png.DecodeConfig, png.Decode, true)
	case "image/jpeg":
		// Phones append data after the image's end (motion photos, maker
		// trailers): it may stay, but is scanned below.
		err = decodeImage(data, jpeg.DecodeConfig, jpeg.Decode, false)
	case "image/webp":
		err = decodeImage(data, webp.DecodeConfig, webp.Decode, false)
		if err == nil {
			err = checkRIFF(data)
		}
	case "image/heic":
		err = checkHEIF(data)
	default:
		err = fmt.Errorf("%s is not accepted", contentType)
	}
	if err == nil {
		err = findMarkup(data)
	}
	if err != nil {
		return schemas.Errorf(schemas.EMEDIATYPE, "the content is not a valid %s: %v", contentType, err).With("contentType", contentType)
	}
	return nil
}

func decodeImage(data []byte, config func(r io.Reader) (image.Config, error), decode func(r io.Reader) (image.Image, error), exact bool) error {
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return fmt.Errorf("%dx%d pixels is outside 1 to %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	decodeSlots <- struct{}{}
	defer func() { <-decodeSlots }()
	r := bytes.NewReader(data)
	if _, err := decode(r); err != nil {
		return err
	}
	if exact && r.Len() > 0 {
		return fmt.Errorf("%d bytes follow the image's end", r.Len())
	}
	return nil
}

// checkRIFF checks that the RIFF container of a WebP is the whole file.
func checkRIFF(data []byte) error {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return fmt.Errorf("no RIFF WEBP header")
	}
	if n := int64(binary.LittleEndian.Uint32(data[4:8])) + 8; n != int64(len(data)) {
		return fmt.Errorf("the RIFF container is %d bytes, the file %d", n, len(data))
	}
	return nil
}

// heicBrands are the ftyp brands of HEVC-coded HEIF images (ISO/IEC
// 23008-12 annex B). mif1 alone is not enough: AVIF files carry it too.
var heicBrands = []string{"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"}

type box struct {
	typ  string
	body []byte
}

// boxes splits data into ISO base media boxes that must tile it exactly.
func boxes(data []byte) ([]box, error) {
	var out []box
	for len(data) > 0 {
		if len(data) < 8 {
			return nil, fmt.Errorf("%d stray bytes where a box header should be", len(data))
		}
		size, hdr := uint64(binary.BigEndian.Uint32(data)), uint64(8)
		typ := data[4:8]
		for _, c := range typ {
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("box type %q is not a four-character code", typ)
			}
		}
		switch size {
		case 0: // to the end
			size = uint64(len(data))
		case 1:
			if len(data) < 16 {
				return nil, fmt.Errorf("box %q: truncated size", typ)
			}
			size, hdr = binary.BigEndian.Uint64(data[8:]), 16
		}
		if size < hdr || size > uint64(len(data)) {
			return nil, fmt.Errorf("box %q of %d bytes does not fit in %d", typ, size, len(data))
		}
		out = append(out, box{typ: string(typ), body: data[hdr:size]})
		data = data[size:]
	}
	return out, nil
}

// checkHEIF walks the boxes of a HEIC image: an ftyp with a HEVC image
// brand first, then boxes that tile the file, among them one meta box
// whose own boxes tile it and name a picture handler, a primary item, its
// location and its info. The coded data itself is not decoded.
func checkHEIF(data []byte) error {
	top, err := boxes(data)
	if err != nil {
		return err
	}
	if len(top) == 0 || top[0].typ != "ftyp" || len(top[0].body) < 8 || len(top[0].body)%4 != 0 {
		return fmt.Errorf("no ftyp box first")
	}
	ftyp := top[0].body
	brand := false
	for i := 0; i < len(ftyp); i += 4 {
		if i == 4 {
			continue // minor version
		}
		for _, b := range heicBrands {
			brand = brand || string(ftyp[i:i+4]) == b
		}
	}
	if !brand {
		return fmt.Errorf("no HEIC brand in ftyp")
	}
	var meta []byte
	for _, b := range top[1:] {
		switch b.typ {
		case "ftyp":
			return fmt.Errorf("a second ftyp box")
		case "meta":
			if meta != nil {
				return fmt.Errorf("a second meta box")
			}
			meta = b.body
		}
	}
	if len(meta) < 4 {
		return fmt.Errorf("no meta box")
	}
	inner, err := boxes(meta[4:]) // after the full box's version and flags
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	need := map[string]bool{"hdlr": false, "pitm": false, "iloc": false, "iinf": false}
	for _, b := range inner {
		if _, ok := need[b.typ]; ok {
			need[b.typ] = true
		}
		if b.typ == "hdlr" && (len(b.body) < 12 || string(b.body[8:12]) != "pict") {
			return fmt.Errorf("meta handler is not pict")
		}
	}
	for typ, ok := range need {
		if !ok {
			return fmt.Errorf("meta has no %s box", typ)
		}
	}
	return nil
}

// markupTags start an HTML document or script. A tag counts only when a
// space, '>' or '/' follows its name, which leaves about one chance in
// 10^12 per byte that compressed image data spells one: about one photo
// in 300,000 at the 10 MiB limit, far fewer at a phone photo's size.
var markupTags = []string{"<!doctype", "<html", "<head", "<body", "<script", "<iframe", "<object", "<embed"}

// findMarkup reports the first HTML or script tag in data, in any case.
func findMarkup(data []byte) error {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return nil
		}
		i += j
		for _, tag := range markupTags {
			end := i + len(tag)
			if end < len(data) && bytes.EqualFold(data[i:end], []byte(tag)) && bytes.IndexByte([]byte(" \t\r\n\f>/"), data[end]) >= 0 {
				return fmt.Errorf("it holds %s markup at byte %d", tag, i)
			}
		}
		i++
	}
}
