package inlet

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. Stores translate driver errors into
// these; the HTTP layer maps each code to one status code.
const (
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	EINVALID      = "invalid"      // the request is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the named thing does not exist
	ECONFLICT     = "conflict"     // the thing exists already
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials, unknown source
	EFORBIDDEN    = "forbidden"    // the credentials are right but their scope does not allow the call
	ETOOLARGE     = "too_large"    // a body or a value over its limit
	EUNAVAILABLE  = "unavailable"  // overloaded or the store is down; retry later
	ERATELIMITED  = "rate_limited" // the sender is over its rate limit; retry later
	EUNSUPPORTED  = "unsupported"  // a method or media type the endpoint does not take
)

// Error is an error with a stable machine code and a message a person can act
// on. Reason, when set, is a more specific code (for example "bad_json")
// that is answered to the client beside the general code.
type Error struct {
	Code    string
	Reason  string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("inlet error: code=%s reason=%s message=%s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("inlet error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Reasonf returns an *Error with a general code, a specific reason and a
// formatted message.
func Reasonf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorReason returns the specific reason of err's *Error, falling back to
// its code.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Code
	}
	return ErrorCode(err)
}

// ErrorMessage returns the message of err's *Error, or "internal error" for
// any other error so that internals never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorMessageOrText returns the message of err's *Error, or err's own
// text: for command-line output, where the reader is the operator.
func ErrorMessageOrText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
