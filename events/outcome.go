package events

import (
	"errors"
	"fmt"
	"time"
)

// ErrPermanent marks a handler's error as final: see Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err to say that dispatching the event again would fail
// again: pushgate records the event as failed and never dispatches it on
// its own again (an operator may still replay it). A plain error is
// recorded the same way; Permanent says so explicitly, and wins over a
// RetryAfter deeper in err's chain. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }

// Is makes errors.Is(err, ErrPermanent) hold.
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

func (e *permanentError) Unwrap() error { return e.err }

// RetryError is a handler's request to be dispatched again later; see
// RetryAfter.
type RetryError struct {
	// After is the least time to wait before the next dispatch.
	After time.Duration
	// Err is why this dispatch failed.
	Err error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.After, e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter wraps err (a temporary failure: a service down, a limit hit)
// to ask pushgate to dispatch the event again after at least d, instead of
// recording it as failed. The attempt is recorded with err, and the event
// stays "received" for the periodic sweep, which takes it once d has passed
// and the event is older than the sweep's grace (two minutes), so the next
// dispatch comes after max(d, 2m since the push) and within the sweep's
// period (30s) after that. After MaxAttempts dispatches the event is
// recorded as failed. A nil err still asks for the retry.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("handler asked to be retried")
	}
	return &RetryError{After: max(d, 0), Err: err}
}

// MaxAttempts bounds the dispatches of an event whose handler keeps asking
// for a retry: the one that would be the next is not made, and the event
// is recorded as failed.
const MaxAttempts = 10

// RetryDelay reports whether err asks for the event to be dispatched again
// later (a RetryAfter in its chain and no Permanent), and after how long.
func RetryDelay(err error) (time.Duration, bool) {
	if err == nil || errors.Is(err, ErrPermanent) {
		return 0, false
	}
	var re *RetryError
	if !errors.As(err, &re) {
		return 0, false
	}
	return re.After, true
}
