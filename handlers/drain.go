package handlers

import (
	"context"
	"time"
)

// Drain waits until no handler of a push is running in this process (a
// handler that outlived the reply budget goes on after its answer), or
// until ctx ends, then returns ctx's error. Call it after the HTTP server
// has shut down and before the store is closed, so that every running
// handler records its outcome.
func (s *Server) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.inflight.count() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
