package bridge

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/pushgate/pushgate/models"
)

// hubShards spreads the hub's lock so that thousands of waiters registering
// and waking at once do not queue on one mutex.
const hubShards = 64

// hub is the in-process rendezvous of waiters and arrivals: a map from request
// id to a slot that is closed, once, when a result for the id arrives.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
	// closeHeld registers, once, the ending of held waits at Close.
	closeHeld sync.Once
}

type hubShard struct {
	mu    sync.Mutex
	slots map[string]*slot
}

// slot is what the waiters on one request id share. ch is closed on wake; res
// is set before that when the waker had the result at hand (nil: re-read it).
// held lists the AwaitFunc waiters, which hold no goroutine to read ch: the
// waker tells each of them.
type slot struct {
	ch   chan struct{}
	res  *models.Result
	n    int     // waiters holding the slot; guarded by the shard's mu
	held []*held // guarded by the shard's mu
}

func newHub() *hub {
	h := &hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].slots = make(map[string]*slot)
	}
	return h
}

func (h *hub) shard(id string) *hubShard {
	return &h.shards[maphash.String(h.seed, id)%hubShards]
}

// watch registers a waiter on id. The caller must then check whether the
// result already exists (it may have arrived before the registration), and
// end with unwatch unless the slot was woken.
func (h *hub) watch(id string) *slot { return h.register(id, nil) }

// hold is watch for a waiter without a goroutine: the wake calls w.wake
// instead. It ends with unhold unless the slot was woken.
func (h *hub) hold(id string, w *held) *slot { return h.register(id, w) }

func (h *hub) register(id string, w *held) *slot {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.slots[id]
	if s == nil {
		s = &slot{ch: make(chan struct{})}
		sh.slots[id] = s
	}
	s.n++
	if w != nil {
		s.held = append(s.held, w)
	}
	return s
}

// unwatch withdraws a waiter registered by watch; the last one out removes
// the slot. Calling it after the slot was woken is harmless.
func (h *hub) unwatch(id string, s *slot) {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.drop(id, s)
}

// unhold withdraws a waiter registered by hold, like unwatch.
func (h *hub) unhold(id string, s *slot, w *held) {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i := slices.Index(s.held, w); i >= 0 {
		s.held = slices.Delete(s.held, i, i+1)
	}
	sh.drop(id, s)
}

// drop counts a waiter out of s, removing s once empty; sh.mu is held.
func (sh *hubShard) drop(id string, s *slot) {
	s.n--
	if s.n == 0 && sh.slots[id] == s {
		delete(sh.slots, id)
	}
}

// wake releases every waiter on id, handing them res (nil: they re-read the
// result from the store). It reports whether anyone was waiting.
func (h *hub) wake(id string, res *models.Result) bool {
	sh := h.shard(id)
	sh.mu.Lock()
	s := sh.slots[id]
	var held []*held
	if s != nil {
		delete(sh.slots, id)
		held, s.held = s.held, nil
	}
	sh.mu.Unlock()
	if s == nil {
		return false
	}
	s.res = res
	close(s.ch)
	for _, w := range held {
		w.wake(res)
	}
	return true
}

// wakeAll releases every waiter to re-read its result, for when arrivals may
// have been missed (the cross-replica listener was reconnecting).
func (h *hub) wakeAll() {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		slots := sh.slots
		sh.slots = make(map[string]*slot)
		var held []*held
		for _, s := range slots {
			held = append(held, s.held...)
			s.held = nil
		}
		sh.mu.Unlock()
		for _, s := range slots {
			close(s.ch)
		}
		for _, w := range held {
			w.wake(nil)
		}
	}
}

// allHeld returns every waiter registered by hold.
func (h *hub) allHeld() []*held {
	var all []*held
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for _, s := range sh.slots {
			all = append(all, s.held...)
		}
		sh.mu.Unlock()
	}
	return all
}

// waiting returns the number of request ids being waited on.
func (h *hub) waiting() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.slots)
		sh.mu.Unlock()
	}
	return n
}
