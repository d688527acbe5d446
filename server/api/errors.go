package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/store"
)

// statusOf is the one map from error codes to HTTP statuses.
var statusOf = map[string]int{
	schemas.EINVALID:      http.StatusBadRequest,
	schemas.EUNAUTHORIZED: http.StatusUnauthorized,
	schemas.EFORBIDDEN:    http.StatusForbidden,
	schemas.ENOTFOUND:     http.StatusNotFound,
	schemas.EMETHOD:       http.StatusMethodNotAllowed,
	schemas.ECONFLICT:     http.StatusConflict,
	schemas.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	schemas.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	schemas.EUPGRADE:      http.StatusUpgradeRequired,
	schemas.ERATELIMIT:    http.StatusTooManyRequests,
	schemas.EINTERNAL:     http.StatusInternalServerError,
	schemas.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of ErrorBody.
type ErrorDetail struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
}

// fromFiber turns Fiber's own errors (routing, body limit) into ours.
func fromFiber(fe *fiber.Error) *schemas.Error {
	switch fe.Code {
	case http.StatusNotFound:
		return schemas.Errorf(schemas.ENOTFOUND, "no such endpoint")
	case http.StatusMethodNotAllowed:
		return schemas.Errorf(schemas.EMETHOD, "method not allowed on this endpoint")
	case http.StatusRequestEntityTooLarge:
		return schemas.Errorf(schemas.ETOOLARGE, "request body too large")
	case http.StatusUnsupportedMediaType:
		return schemas.Errorf(schemas.EMEDIATYPE, "request body must be JSON")
	case http.StatusRequestHeaderFieldsTooLarge:
		return schemas.Errorf(schemas.EINVALID, "request headers too large")
	case http.StatusRequestTimeout:
		return schemas.Errorf(schemas.EINVALID, "request took too long to arrive")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return schemas.Errorf(schemas.EINVALID, "bad request")
	}
	return nil
}

// errorHandler writes err in the one error shape. Causes of internal errors
// are logged with the request id and never sent.
func (a *API) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if e := fromFiber(fe); e != nil {
			err = e
		}
	}
	code := schemas.ErrorCode(err)
	storeDown := code == schemas.EINTERNAL && (store.Unavailable(err) || store.Unavailable(err))
	if storeDown {
		code = schemas.EUNAVAILABLE
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	rid := requestID(c)
	if rid == "" {
		// Errors raised while reading the request (body limit, bad headers)
		// come here before any middleware ran.
		rid = schemas.NewID()
		c.Set(fiber.HeaderXRequestID, rid)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	}
	c.Locals(localErrorCode, code)
	if requestID(c) == "" && status < 500 {
		// No access line will be written for it: say it here.
		a.log.InfoContext(c.UserContext(), "http", "requestId", rid, "method", c.Method(), "status", status, "code", code)
	}
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: schemas.ErrorMessage(err), RequestID: rid}}
	var e *schemas.Error
	if errors.As(err, &e) {
		body.Error.Details = e.Details
		if secs, ok := e.Details["retryAfter"].(int); ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		}
	}
	if storeDown {
		body.Error.Message = "the store is not answering; retry later"
	}
	if code == schemas.EUNAVAILABLE {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	if status >= 500 {
		a.log.ErrorContext(c.UserContext(), "request failed", "requestId", rid, "method", c.Method(), "path", c.Path(), "err", err)
	}
	if status == http.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="fieldsync"`)
	}
	return c.Status(status).JSON(body)
}

func asErr(err error, target **schemas.Error) bool { return errors.As(err, target) }
