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
	att, err := a.sync.Attachment(c.UserContext(), sha)
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
	canSee := func(ctx context.Context, act *schemas.Actor, visitID string) bool {
		_, err := a.office.Visit(ctx, act, visitID)
		return err == nil
	}
	att, rc, err := a.sync.OpenAttachment(c.UserContext(), actor(c), sha, canSee)
	if err != nil {
		return err
	}
	defer rc.Close()
	c.Set(fiber.HeaderContentType, att.ContentType)
	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	c.Set(fiber.HeaderETag, `"`+att.SHA256+`"`)
	buf := make([]byte, att.Size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return err
	}
	return c.Send(buf)
}
