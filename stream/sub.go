package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushgate/pushgate/models"
)

// catchUpPage is the page of a subscriber's reads from the store.
const catchUpPage = 256

// Sub is one subscription: the events matching its filter after its
// cursor, first read from the store, then from the hub's live fan-out. Its
// methods other than SetFilter and Close must be called from one goroutine.
type Sub struct {
	h      *Hub
	filter models.EventFilter // guarded by h.mu
	m      models.Matcher     // filter, compiled; guarded by h.mu
	key    indexKey           // where h.subs holds s; guarded by h.mu
	staged []*Item            // publish's, for s; guarded by h.mu
	live   atomic.Bool        // in h.subs; changed under h.mu
	cursor int64              // id of the last event Next returned
	page   []*Item            // read from the store, not yet returned

	mu       sync.Mutex
	buf      []*Item // from the fan-out, not yet returned
	slow     bool    // buf overflowed
	refilter *models.EventFilter
	closed   bool
	ready    chan struct{} // cap 1: buf, slow, refilter or closed changed
	notify   func()        // SubscribeFunc's; called with ready
}

// Subscribe starts a subscription to the events matching f (Limit and
// Cursor ignored) with ids greater than after (0: from the oldest stored
// event).
func (h *Hub) Subscribe(f models.EventFilter, after int64) *Sub {
	return &Sub{h: h, filter: f, cursor: after, ready: make(chan struct{}, 1)}
}

// SubscribeFunc is Subscribe for a subscriber without a goroutine of its
// own: notify is called whenever TryNext may have something new to return
// (events, or an end). It is called on the publisher's goroutine, with the
// hub's lock held: it must only schedule the work (start a goroutine that
// calls TryNext until it returns nothing, say), never block or call the
// hub. Call notify once yourself to start: the first events come from the
// store.
func (h *Hub) SubscribeFunc(f models.EventFilter, after int64, notify func()) *Sub {
	s := h.Subscribe(f, after)
	s.notify = notify
	return s
}

// wake tells the subscriber's reader to look again.
func (s *Sub) wake() {
	signal(s.ready)
	if s.notify != nil {
		s.notify()
	}
}

// Cursor returns the id of the last event Next returned (or the starting
// cursor): where to resume.
func (s *Sub) Cursor() int64 { return s.cursor }

// Buffered counts the events Next can return without waiting.
func (s *Sub) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.page) + len(s.buf)
}

// SetFilter replaces the filter, from the cursor on: Next then returns the
// events after the last one it returned that match f, reading the store
// again. It may be called from any goroutine.
func (s *Sub) SetFilter(f models.EventFilter) {
	s.mu.Lock()
	s.refilter = &f
	s.mu.Unlock()
	s.wake()
}

// Close ends the subscription; Next then returns ErrClosed.
func (s *Sub) Close() {
	s.leave()
	s.mu.Lock()
	s.closed, s.buf = true, nil
	s.mu.Unlock()
	s.wake()
}

// leave withdraws s from the live fan-out.
func (s *Sub) leave() {
	s.h.mu.Lock()
	s.h.subs.remove(s)
	s.live.Store(false)
	s.h.mu.Unlock()
}

// Next returns the next event, waiting for it up to idle (0: no limit). It
// returns ErrIdle when idle passed first, ErrSlow once the subscriber fell
// more than the hub's buffer behind (resume after Cursor), ErrClosed when
// the hub or s was closed, ctx's error when ctx ended, or a store error.
func (s *Sub) Next(ctx context.Context, idle time.Duration) (*Item, error) {
	return s.next(ctx, true, idle)
}

// TryNext is Next without the wait: when no event is ready it returns nil
// and no error (it may still read the store, to catch up). See
// SubscribeFunc.
func (s *Sub) TryNext(ctx context.Context) (*Item, error) {
	return s.next(ctx, false, 0)
}

// TryNextN appends to dst the events ready now, up to n in all (len(dst)
// included), as TryNext would return them one by one, and returns the
// slice. Events taken before an error are returned with it. A live
// subscriber's buffered events are taken under one lock: what a writer of
// many streams calls once per stream and publish.
func (s *Sub) TryNextN(ctx context.Context, dst []*Item, n int) ([]*Item, error) {
	for len(dst) < n {
		if len(s.page) == 0 && s.live.Load() {
			s.mu.Lock()
			if s.refilter == nil && !s.closed && !s.slow && len(s.buf) > 0 {
				k := min(len(s.buf), n-len(dst))
				dst = append(dst, s.buf[:k]...)
				clear(s.buf[:k])
				empty := k == len(s.buf)
				switch {
				case !empty:
					s.buf = s.buf[k:]
				case cap(s.buf) > 64:
					s.buf = nil // a burst's; not kept by every subscriber
				default:
					s.buf = s.buf[:0] // the next publish's
				}
				s.mu.Unlock()
				s.cursor = dst[len(dst)-1].ID
				if empty {
					return dst, nil // the rest comes with the next wake-up
				}
				continue
			}
			s.mu.Unlock()
		}
		it, err := s.next(ctx, false, 0)
		if err != nil || it == nil {
			return dst, err
		}
		dst = append(dst, it)
	}
	return dst, nil
}

func (s *Sub) next(ctx context.Context, wait bool, idle time.Duration) (*Item, error) {
	var timer <-chan time.Time
	for {
		if err := s.applyFilter(); err != nil {
			return nil, err
		}
		if len(s.page) > 0 {
			it := s.page[0]
			s.page[0] = nil
			s.page = s.page[1:]
			s.cursor = it.ID
			return it, nil
		}
		select {
		case <-s.h.done:
			return nil, ErrClosed
		default:
		}
		if !s.live.Load() {
			s.mu.Lock()
			slow := s.slow
			s.mu.Unlock()
			if slow {
				return nil, ErrSlow
			}
			s.h.mu.Lock()
			upto, f := s.h.cursor, s.filter
			s.h.mu.Unlock()
			if err := s.catchUp(ctx, f, upto); err != nil {
				return nil, err
			}
			continue
		}
		s.mu.Lock() // the live fast path: no hub lock
		if len(s.buf) > 0 {
			it := s.buf[0]
			s.buf[0] = nil
			s.buf = s.buf[1:]
			s.mu.Unlock()
			s.cursor = it.ID
			return it, nil
		}
		slow := s.slow
		s.mu.Unlock()
		if slow {
			return nil, ErrSlow
		}
		if !wait {
			return nil, nil
		}
		if timer == nil && idle > 0 {
			t := time.NewTimer(idle)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.h.done:
			return nil, ErrClosed
		case <-timer:
			return nil, ErrIdle
		}
	}
}

// catchUp reads the store after the cursor up to upto, the hub's cursor
// when looked at; when nothing is left it joins the live fan-out, if the hub
// has published nothing since (else it reads again).
func (s *Sub) catchUp(ctx context.Context, f models.EventFilter, upto int64) error {
	if upto > s.cursor {
		rows, err := s.h.store.EventsAfter(ctx, f, s.cursor, upto+1, catchUpPage)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			s.page = s.page[:0]
			for i := range rows {
				s.page = append(s.page, newItem(&rows[i]))
			}
			return nil
		}
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if s.h.cursor == upto && !s.h.closed {
		s.mu.Lock()
		stale := s.refilter != nil || s.closed
		s.mu.Unlock()
		if !stale {
			s.live.Store(true)
			s.m = s.filter.Matcher()
			s.h.subs.add(s)
		}
	}
	return nil
}

// applyFilter takes a filter given by SetFilter: s leaves the fan-out and
// reads the store again from its cursor.
func (s *Sub) applyFilter() error {
	s.mu.Lock()
	f, closed := s.refilter, s.closed
	s.refilter = nil
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if f == nil {
		return nil
	}
	s.h.mu.Lock() // offers happen under it: none lands after the buffer is dropped
	s.h.subs.remove(s)
	s.live.Store(false)
	s.filter = *f
	s.mu.Lock()
	s.buf, s.slow = nil, false
	s.mu.Unlock()
	s.h.mu.Unlock()
	s.page = nil
	return nil
}

// offer queues items for s; it reports false (and marks s slow, dropping
// its buffer) when they overflow it. The hub holds h.mu.
func (s *Sub) offer(items []*Item, limit int) bool {
	s.mu.Lock()
	if len(s.buf)+len(items) > limit {
		s.slow, s.buf = true, nil
		s.mu.Unlock()
		s.wake()
		return false
	}
	s.buf = append(s.buf, items...)
	s.mu.Unlock()
	s.wake()
	return true
}

// waiter is a held long poll (see Hub.Wait).
type waiter struct {
	h     *Hub
	m     models.Matcher
	after int64
	fn    func()
	timer *time.Timer
	once  sync.Once
}

// Wait calls fn once, on a goroutine of its own, when an event matching f
// with an id above after is published, when timeout has passed, or when the
// hub closes, whichever comes first; fn then reads what there is (Read). It
// holds no goroutine meanwhile. stop withdraws the wait: it reports false
// if fn has been or is about to be called.
func (h *Hub) Wait(f models.EventFilter, after int64, timeout time.Duration, fn func()) (stop func() bool) {
	w := &waiter{h: h, m: f.Matcher(), after: after, fn: fn}
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.waiters[w] = struct{}{}
		w.timer = time.AfterFunc(timeout, w.expire)
	}
	h.mu.Unlock()
	if closed {
		go w.fire()
	}
	return w.stop
}

func (w *waiter) expire() {
	w.h.mu.Lock()
	_, held := w.h.waiters[w]
	delete(w.h.waiters, w)
	w.h.mu.Unlock()
	if held {
		w.fire()
	}
}

func (w *waiter) fire() {
	w.once.Do(func() {
		if w.timer != nil {
			w.timer.Stop()
		}
		w.fn()
	})
}

func (w *waiter) stop() bool {
	w.h.mu.Lock()
	_, held := w.h.waiters[w]
	delete(w.h.waiters, w)
	w.h.mu.Unlock()
	if held && w.timer != nil {
		w.timer.Stop()
	}
	return held
}

// Held counts the held waits.
func (h *Hub) Held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters)
}
