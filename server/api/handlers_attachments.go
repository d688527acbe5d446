package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

const tusVersion = "1.0.0"

func shaParam(c *fiber.Ctx) (string, error) {
	sha := strings.ToLower(c.Params("sha"))
	if !fsync.ValidHash(sha) {
		return "", schemas.Errorf(schemas.ENOTFOUND, "attachment not found")
	}
	return sha, nil
}

func (a *API) startUpload(c *fiber.Ctx) error {
	var in fsync.NewUpload
	if err := decode(c, &in); err != nil {
		return err
	}
	att, created, err := a.sync.StartUpload(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Set("Tus-Resumable", tusVersion)
	c.Set("Upload-Offset", strconv.FormatInt(att.Offset, 10))
	c.Set(fiber.HeaderLocation, "/v1/attachments/"+att.SHA256+"/upload")
	c.Set(fiber.HeaderCacheControl, "no-store")
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(att)
}

func (a *API) uploadOffset(c *fiber.Ctx) error {
	sha, err := shaParam(c)
	if err != nil {
		return err
	}
	att, err := a.sync.Attachment(c.UserContext(), actor(c), sha)
	if err != nil {
		return err
	}
	c.Set("Tus-Resumable", tusVersion)
	c.Set("Upload-Offset", strconv.FormatInt(att.Offset, 10))
	c.Set("Upload-Length", strconv.FormatInt(att.Size, 10))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendStatus(http.StatusOK)
}

func (a *API) uploadChunk(c *fiber.Ctx) error {
	sha, err := shaParam(c)
	if err != nil {
		return err
	}
	if c.Get(fiber.HeaderContentType) != "application/offset+octet-stream" {
		return schemas.Errorf(schemas.EMEDIATYPE, "chunks are sent as application/offset+octet-stream")
	}
	off, err := strconv.ParseInt(c.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 {
		return schemas.Errorf(schemas.EINVALID, "Upload-Offset header must be the offset to append at")
	}
	att, err := a.sync.AppendChunk(c.UserContext(), actor(c), sha, off, c.Body())
	if err != nil {
		var e *schemas.Error
		if asErr(err, &e) && e.Details["offset"] != nil {
			c.Set("Upload-Offset", fmt.Sprint(e.Details["offset"]))
		}
		return err
	}
	c.Set("Tus-Resumable", tusVersion)
	c.Set("Upload-Offset", strconv.FormatInt(att.Offset, 10))
	if att.Complete {
		c.Set("Upload-Complete", "1")
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) getAttachment(c *fiber.Ctx) error {
	sha, err := shaParam(c)
	if err != nil {
		return err
	}
	// The content is streamed after the handler returns, so its reads
	// outlive the request's deadline context: they get one of their own,
	// ended when the server closes the stream.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), a.cfg.RequestTimeout)
	att, rc, err := a.sync.OpenAttachment(ctx, actor(c), sha)
	if err != nil {
		cancel()
		return err
	}
	// Photos of homes and signatures: never cached by a shared cache or
	// kept on disk, never sniffed into another type, and inert even if
	// opened as a page.
	c.Set(fiber.HeaderContentType, att.ContentType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+att.SHA256+extensionOf[att.ContentType]+`"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderETag, `"`+att.SHA256+`"`)
	return c.Status(http.StatusOK).SendStream(&stream{ReadCloser: rc, cancel: cancel}, int(att.Size))
}

// stream is a content being sent; the server closes it when done.
type stream struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (s *stream) Close() error {
	defer s.cancel()
	return s.ReadCloser.Close()
}

var extensionOf = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic"}
