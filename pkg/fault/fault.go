// Package fault classifies errors at the boundary of an external system, so
// the code that retries or gives up never has to parse error strings.
//
// An adapter wraps what it returns: Retryable for timeouts, 5xx and 429 (with
// the delay it wants, if any), Permanent for what no retry can fix. Anything
// else is treated as retryable with the caller's own backoff.
package fault

import (
	"errors"
	"time"
)

type retryable struct {
	err   error
	after time.Duration
}

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Retryable marks err as worth another try after at least the given delay
// (zero: the caller's backoff decides). A nil err stays nil.
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryable{err: err, after: after}
}

// Permanent marks err as final: retrying cannot help. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// RetryAfter returns the delay a Retryable error asked for, and zero for any
// other error.
func RetryAfter(err error) time.Duration {
	var r *retryable
	if errors.As(err, &r) {
		return r.after
	}
	return 0
}
