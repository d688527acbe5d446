package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
)

// maxDepth bounds the nesting of request bodies; no fieldsync document
// needs more, and deep nesting is a cheap way to burn CPU.
const maxDepth = 32

// validator is implemented by request types that check themselves.
type validator interface{ Validate() error }

// decode reads the JSON body into dst strictly: JSON content type, no
// unknown fields, no keys that start with "$" (MongoDB operators) anywhere,
// a single value, then dst's own validation.
func decode(c *fiber.Ctx, dst any) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return schemas.Errorf(schemas.EMEDIATYPE, "request body must be application/json")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return schemas.Errorf(schemas.EINVALID, "request body is required")
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return schemas.Errorf(schemas.EINVALID, "request body must be a single JSON value")
	}
	if v, ok := dst.(validator); ok {
		return v.Validate()
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return schemas.Errorf(schemas.EINVALID, "malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return schemas.Errorf(schemas.EINVALID, "malformed JSON: unexpected end")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return schemas.Errorf(schemas.EINVALID, "request body must be a JSON %s", jsonType(typ.Type.Kind().String()))
		}
		return schemas.FieldError(field, "%s must be %s, not %s", field, jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return schemas.FieldError(name, "unknown field %q", name)
	}
	return schemas.Errorf(schemas.EINVALID, "malformed JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "of another type"
}

// checkKeys walks the JSON tokens and refuses object keys that start with
// "$" or contain NUL, and nesting deeper than maxDepth. Syntax errors are
// left for the real decoder to report.
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct{ obj, wantKey bool }
	var stack []frame
	var path []string
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
			path = path[:len(path)-1]
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxDepth {
					return schemas.Errorf(schemas.EINVALID, "request body nested deeper than %d levels", maxDepth)
				}
				stack = append(stack, frame{obj: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				if strings.HasPrefix(t, "$") || strings.ContainsRune(t, 0) {
					field := strings.Join(append(path, t), ".")
					return schemas.FieldError(field, "field names may not start with $ or contain NUL: %q", t).With("reason", "operator_key")
				}
				stack[n-1].wantKey = false
				path = append(path, t)
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
