package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// ErrPanic wraps a panic that Recover turned into an error.
var ErrPanic = errors.New("handler panicked")

// Recover turns a panic in a handler into an error wrapping ErrPanic, with
// the stack, so one bad handler never takes the server down.
func Recover() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e Event) (r Reply, err error) {
			defer func() {
				if p := recover(); p != nil {
					r, err = nil, fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
				}
			}()
			return next.Handle(ctx, e)
		})
	}
}

// Timeout gives each handler a context that ends after d. A handler that
// ignores its context still runs to its end.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e Event) (Reply, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next.Handle(ctx, e)
		})
	}
}

// Log logs every dispatch at debug level, and failures at warn level.
func Log(l *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e Event) (Reply, error) {
			start := time.Now()
			r, err := next.Handle(ctx, e)
			if err != nil {
				l.WarnContext(ctx, "handler failed", "kind", e.Kind(), "from", e.Head().FromUserName, "err", err)
			} else {
				l.DebugContext(ctx, "handled", "kind", e.Kind(), "took", time.Since(start))
			}
			return r, err
		})
	}
}
