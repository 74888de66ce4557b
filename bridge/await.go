package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pushgate/pushgate/models"
)

// Result returns the result stored for requestID. It fails with ErrPending
// when none has arrived and with ErrExpired once it is past its validity.
// A result whose push was committed but not yet stored as a result (the
// process died in between) is rebuilt from the push and stored.
func (b *Bridge) Result(ctx context.Context, requestID string) (*Result, error) {
	r, err := b.lookup(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return b.valid(r)
}

// Await returns the result for requestID as soon as it is stored, by this
// process or (on PostgreSQL) another replica; if it exists already, at once.
// It fails with ErrExpired when the result exists but expired, with ctx.Err()
// when ctx ends first, and with ErrClosed when the Bridge is closed. When
// ctx's deadline passes it looks in the store once more before giving up: a
// wake-up can be missed (a replica that committed a push died before storing
// its result, whose commit carries the cross-replica notification), and the
// look rebuilds such a result from its push.
//
// A waiter costs its goroutine (which stays shallow: the store is read by a
// few lookup workers) and a map entry; it is woken by the arrival itself,
// never by polling.
func (b *Bridge) Await(ctx context.Context, requestID string) (res *Result, err error) {
	ctx, span := b.span(ctx, "bridge.wait")
	defer func() {
		if err != nil {
			failSpan(span, err.Error())
		}
		span.End()
	}()
	for {
		// Register first, then look: an arrival that races the registration
		// is either seen by the look or wakes the slot.
		s := b.hub.watch(requestID)
		r, err := b.resultByWorker(ctx, requestID)
		if !errors.Is(err, ErrPending) {
			b.hub.unwatch(requestID, s)
			return r, err
		}
		b.parked.Add(1)
		select {
		case <-s.ch:
			b.parked.Add(-1)
			b.hub.unwatch(requestID, s)
			if s.res != nil {
				return b.valid(s.res)
			}
			// Woken without the result (another replica stored it, or the
			// listener reconnected): look again.
		case <-ctx.Done():
			b.parked.Add(-1)
			b.hub.unwatch(requestID, s)
			return b.lastLook(ctx, requestID)
		case <-b.ctx.Done():
			b.parked.Add(-1)
			b.hub.unwatch(requestID, s)
			return nil, fmt.Errorf("bridge: await: %w", ErrClosed)
		}
	}
}

// lastLookTimeout bounds Await's last look in the store once its deadline passed.
const lastLookTimeout = 2 * time.Second

// lastLook is Await's answer once ctx ended: if ctx's deadline passed, the
// result if the store has it now (or ErrExpired), else ctx's error.
func (b *Bridge) lastLook(ctx context.Context, requestID string) (*Result, error) {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, ctx.Err()
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastLookTimeout)
	defer cancel()
	r, err := b.resultByWorker(lctx, requestID)
	if err == nil || errors.Is(err, ErrExpired) {
		return r, err
	}
	return nil, ctx.Err()
}

// Waiting returns how many waits are blocked waiting for an arrival (long
// polls and sync requests held): Await calls and AwaitFunc waits, for metrics.
func (b *Bridge) Waiting() int { return int(b.parked.Load()) }

// valid returns a copy of r, or ErrExpired if r expired.
func (b *Bridge) valid(r *Result) (*Result, error) {
	if r.Expired(b.now()) {
		return nil, fmt.Errorf("bridge: result %q expired at %s: %w", r.RequestID, r.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"), ErrExpired)
	}
	c := *r
	return &c, nil
}

// lookup reads the stored result, falling back to the stored push.
func (b *Bridge) lookup(ctx context.Context, id string) (*Result, error) {
	r, err := b.store.GetResult(ctx, id)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return nil, fmt.Errorf("bridge: result: %w", err)
	}
	r, err = b.store.ResultFromEvent(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, fmt.Errorf("bridge: result %q: %w", id, ErrPending)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: result: %w", err)
	}
	r.ExpiresAt = r.ReceivedAt.Add(b.resultValidity(r.Api))
	if r.Expired(b.now()) {
		return r, nil // pruned, or never stored: no point storing it now
	}
	created, err := b.store.SaveResult(ctx, r)
	switch {
	case err != nil:
		b.log.Warn("bridge: storing a result rebuilt from its push failed", "request_id", id, "err", err)
	case !created:
		// Stored meanwhile by Accepted: the stored one is authoritative.
		if stored, err := b.store.GetResult(ctx, id); err == nil {
			return stored, nil
		}
	}
	return r, nil
}
