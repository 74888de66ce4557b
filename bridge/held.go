package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// AwaitFunc is Await without a goroutine, for waits held by the thousand
// (an HTTP long poll whose connection was taken from net/http, say): a held
// wait costs a hub entry, a timer and a few words.
//
// AwaitFunc registers the wait, then looks the result up on the caller's
// goroutine (through the lookup workers, as Await does; an arrival racing the
// look is not missed). When that settles it, AwaitFunc returns what Await
// would: the result, ErrExpired, ErrClosed or a storage error, with a nil
// stop; done is never called. Otherwise it returns ErrPending and a stop
// func, and holds the wait: done is then called exactly once, with the
// result once it arrives, with ErrPending once timeout has passed (after a
// last look, in case a wake-up was missed), with ErrExpired, with ErrClosed
// when the Bridge closes, or with a storage error.
//
// done always runs on a goroutine of its own, never AwaitFunc's caller's nor
// the waker's, so it may block for a while (write to a socket, say) without
// holding up arrivals, and it may run before AwaitFunc has returned. Close
// waits for the done calls it causes to return, so done must not call Close.
//
// stop withdraws a held wait: it reports true if done will not be called,
// false if done has been called or is about to be. Waiting counts held waits.
func (b *Bridge) AwaitFunc(requestID string, timeout time.Duration, done func(*Result, error)) (res *Result, stop func() bool, err error) {
	b.mu.Lock() // Close cancels under mu: an Add here happens before its Wait
	closed := b.ctx.Err() != nil
	if !closed {
		b.wg.Add(1) // Done once done returns, or when the wait ends without it
	}
	b.mu.Unlock()
	if closed {
		return nil, nil, fmt.Errorf("bridge: await: %w", ErrClosed)
	}

	// One hook for every held wait: per wait, context.AfterFunc would queue
	// thousands of registrations on b.ctx's lock.
	b.hub.closeHeld.Do(func() { context.AfterFunc(b.ctx, b.closeHeld) })

	w := &held{b: b, id: requestID, done: done}
	// Register first, then look: an arrival that races the registration is
	// either seen by the look or wakes the slot.
	w.mu.Lock()
	w.slot = b.hub.hold(requestID, w)
	w.mu.Unlock()
	r, err := w.look()
	if !errors.Is(err, ErrPending) {
		if w.end() {
			b.wg.Done()
			return r, nil, err
		}
		// A wake-up (with the result, most likely) ended w first: its done
		// call answers.
		return nil, w.stop, fmt.Errorf("bridge: result %q: %w", requestID, ErrPending)
	}
	w.mu.Lock()
	if !w.ended {
		w.timer = time.AfterFunc(timeout, w.expire)
		w.parked = true
		b.parked.Add(1)
	}
	w.mu.Unlock()
	if b.ctx.Err() != nil { // closed during the look: closeHeld may have missed w
		go w.closed()
	}
	return nil, w.stop, err
}

// closeHeld ends every held wait with ErrClosed, once b.ctx has ended. A wait
// registering meanwhile looks at b.ctx once in the hub (see AwaitFunc and
// woken), so none is missed.
func (b *Bridge) closeHeld() {
	for _, w := range b.hub.allHeld() {
		go w.closed()
	}
}

// held is a wait registered by AwaitFunc. Whichever of AwaitFunc's first
// look, a wake, the timer, Close and stop comes first ends it; the others
// then do nothing.
type held struct {
	b    *Bridge
	id   string
	done func(*Result, error)

	mu     sync.Mutex
	slot   *slot       // registration in the hub; nil once ended
	timer  *time.Timer // set once the first look found nothing
	parked bool        // counted in b.parked
	ended  bool
}

// wake is called by the hub, after it let go of its locks, when w's slot is
// woken with res (nil: look again). The rest runs on a fresh goroutine.
func (w *held) wake(res *Result) {
	if !w.isEnded() {
		go w.woken(res)
	}
}

func (w *held) woken(res *Result) {
	if res != nil {
		w.finish(w.b.valid(res))
		return
	}
	// Woken without the result (another replica stored it, or the listener
	// reconnected): register again, then look, as Await does.
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.slot = w.b.hub.hold(w.id, w)
	w.mu.Unlock()
	if w.b.ctx.Err() != nil { // closeHeld may have missed w
		w.closed()
		return
	}
	if r, err := w.look(); !errors.Is(err, ErrPending) {
		w.finish(r, err)
	}
}

// expire runs on the timer's goroutine: a last look, then the answer,
// ErrPending if the result is still missing.
func (w *held) expire() {
	if !w.isEnded() {
		w.finish(w.look())
	}
}

// closed runs on a goroutine of its own when the Bridge closes.
func (w *held) closed() { w.finish(nil, fmt.Errorf("bridge: await: %w", ErrClosed)) }

// heldLookTimeout bounds a held wait's look in the store: a stalled
// database must not keep a held poll unanswered long past its timeout. It is
// generous, as thousands of polls taken at once queue for the lookup workers.
const heldLookTimeout = 10 * time.Second

// look reads the result through a lookup worker, for at most
// heldLookTimeout. A failure caused by Close is reported as ErrClosed.
func (w *held) look() (*Result, error) {
	ctx, cancel := context.WithTimeout(w.b.ctx, heldLookTimeout)
	defer cancel()
	r, err := w.b.resultByWorker(ctx, w.id)
	if err != nil && !errors.Is(err, ErrPending) && !errors.Is(err, ErrExpired) && w.b.ctx.Err() != nil {
		err = fmt.Errorf("bridge: await: %w", ErrClosed)
	}
	return r, err
}

// finish ends w and calls done, unless w had ended.
func (w *held) finish(r *Result, err error) {
	if !w.end() {
		return
	}
	defer w.b.wg.Done()
	w.done(r, err)
}

// stop ends w without calling done; see AwaitFunc.
func (w *held) stop() bool {
	if !w.end() {
		return false
	}
	w.b.wg.Done()
	return true
}

// end marks w ended and withdraws it from the hub and the timer. It reports
// whether this call ended it.
func (w *held) end() bool {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return false
	}
	w.ended = true
	s, parked, timer := w.slot, w.parked, w.timer
	w.slot = nil
	w.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if s != nil {
		w.b.hub.unhold(w.id, s, w)
	}
	if parked {
		w.b.parked.Add(-1)
	}
	return true
}

func (w *held) isEnded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended
}
