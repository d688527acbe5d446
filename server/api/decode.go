package api

import (
	"bytes"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
)

// validator is implemented by request types that check themselves.
type validator interface{ Validate() error }

// decode reads the JSON body into dst strictly (schemas.DecodeJSON: no
// duplicate or case-folded keys, no unknown fields, no operator keys, the
// free-text rule), after checking the content type, then runs dst's own
// validation.
func decode(c *fiber.Ctx, dst any) error {
	if err := jsonContentType(c.Get(fiber.HeaderContentType)); err != nil {
		return err
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return schemas.Errorf(schemas.EINVALID, "request body is required")
	}
	if err := schemas.DecodeJSON(body, dst); err != nil {
		return err
	}
	if v, ok := dst.(validator); ok {
		return v.Validate()
	}
	return nil
}

// jsonContentType accepts application/json, optionally with
// charset=utf-8, and nothing else: application/jsonp, json-seq and
// friends are other formats.
func jsonContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	bad := schemas.Errorf(schemas.EMEDIATYPE, "request body must be application/json")
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}
