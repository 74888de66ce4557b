package bridge

import (
	"context"
	"fmt"
	"time"
)

// Reconnection back-off of the cross-replica listener.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// startListener runs the listener under bg and returns once it listens (nil),
// or with the first attempt's error.
func (b *Bridge) startListener(ctx, bg context.Context) error {
	ready := make(chan error, 1)
	b.wg.Go(func() { b.listenLoop(bg, ready) })
	select {
	case err := <-ready:
		return err
	case <-ctx.Done():
		return fmt.Errorf("bridge: start: %w", ctx.Err())
	}
}

// listenLoop keeps a LISTEN on the results channel open until ctx ends,
// reconnecting with back-off. Every (re)connection wakes all local waiters to
// look again, since arrivals while disconnected were not heard.
func (b *Bridge) listenLoop(ctx context.Context, ready chan<- error) {
	first := true
	backoff := listenBackoffMin
	for {
		err := b.store.ListenResults(ctx, func() {
			b.hub.wakeAll()
			backoff = listenBackoffMin
			if first {
				first = false
				ready <- nil
			}
		}, func(id string) { b.hub.wake(id, nil) })
		if first {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			ready <- fmt.Errorf("bridge: start: results listener: %w", err)
			return
		}
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("bridge: results listener lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}
