package stream

import (
	"context"
	"fmt"
	"time"
)

// Reconnection back-off of the PostgreSQL listener.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// startListener runs the LISTEN loop and returns once it listens, or with
// the first attempt's error.
func (h *Hub) startListener(ctx context.Context) error {
	ready := make(chan error, 1)
	h.wg.Go(func() { h.listenLoop(ready) })
	select {
	case err := <-ready:
		return err
	case <-ctx.Done():
		return fmt.Errorf("stream: start: %w", ctx.Err())
	}
}

// listenLoop keeps a LISTEN on models.EventsChannel open, reconnecting with
// back-off. Each (re)connection wakes the reader: announcements made while
// disconnected were not heard.
func (h *Hub) listenLoop(ready chan<- error) {
	first := true
	backoff := listenBackoffMin
	for {
		err := h.store.ListenEvents(h.ctx, func() {
			signal(h.wake)
			backoff = listenBackoffMin
			if first {
				first = false
				ready <- nil
			}
		}, h.seen)
		if first {
			if h.ctx.Err() != nil {
				err = h.ctx.Err()
			}
			ready <- fmt.Errorf("stream: start: events listener: %w", err)
			return
		}
		if h.ctx.Err() != nil {
			return
		}
		h.log.Warn("stream: events listener lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// announceLoop tells the other replicas of the events committed here, one
// NOTIFY for however many commits happened meanwhile.
func (h *Hub) announceLoop() {
	var said int64
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.announce:
		}
		id := h.toSay.Load()
		if id <= said {
			continue
		}
		ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
		err := h.store.AnnounceEvent(ctx, id)
		cancel()
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Warn("stream: announcing events", "id", id, "err", err)
			}
			continue // the others' periodic look finds it
		}
		said = id
	}
}
