package schemas

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the API: clients switch on them, so they
// never change once published. Only server/api maps them to HTTP statuses.
const (
	EINVALID      = "invalid"            // the request is malformed or fails validation
	EUNAUTHORIZED = "unauthorized"       // no valid credentials
	EFORBIDDEN    = "forbidden"          // authenticated, but the role may not do this
	ENOTFOUND     = "not_found"          // no such thing, or not visible to the caller
	ECONFLICT     = "conflict"           // the change clashes with the stored state
	ETOOLARGE     = "too_large"          // the body or batch is over a limit
	EMEDIATYPE    = "unsupported_media"  // the body is not JSON
	EMETHOD       = "method_not_allowed" // the path exists, but not for this method
	ERATELIMIT    = "rate_limited"       // too many attempts; retry later
	EUPGRADE      = "upgrade_required"   // the app is older than the server supports
	EUNAVAILABLE  = "unavailable"        // a dependency (the store) is not answering
	EINTERNAL     = "internal"           // anything else; the cause is logged, not shown
)

// Error is an error a client may see: a machine code, a human message and
// optional structured details (a field name, a minimum version, ...).
type Error struct {
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("fieldsync: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError is an EINVALID error naming the offending field.
func FieldError(field, format string, args ...any) *Error {
	e := Errorf(EINVALID, format, args...)
	e.Details = map[string]any{"field": field}
	return e
}

// With returns a copy of e with one more detail.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// "internal error" for any other error so causes never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
