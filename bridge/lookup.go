package bridge

import (
	"context"
	"fmt"
)

// lookupWorkers is how many goroutines read the store for waiters.
const lookupWorkers = 8

// lookupJob is a Result call run by a lookup worker for a waiter.
type lookupJob struct {
	ctx  context.Context
	id   string
	res  *Result
	err  error
	done chan struct{}
}

// resultByWorker is Result run by a lookup worker. Thousands of waiters
// registering at once then queue here instead of on the database pool, and
// each waiter's goroutine (often a held HTTP request) never grows the deep
// stack a database call needs: a held waiter costs a few KiB, not 16.
func (b *Bridge) resultByWorker(ctx context.Context, id string) (*Result, error) {
	j := &lookupJob{ctx: ctx, id: id, done: make(chan struct{})}
	select {
	case b.lookups <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.ctx.Done():
		return nil, fmt.Errorf("bridge: await: %w", ErrClosed)
	}
	<-j.done // a worker that took the job always finishes it; ctx bounds it
	return j.res, j.err
}

// lookupLoop serves lookup jobs until the Bridge closes.
func (b *Bridge) lookupLoop() {
	for {
		select {
		case j := <-b.lookups:
			j.res, j.err = b.Result(j.ctx, j.id)
			close(j.done)
		case <-b.ctx.Done():
			return
		}
	}
}
