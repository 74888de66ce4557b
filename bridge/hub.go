package bridge

import (
	"hash/maphash"
	"sync"

	"pushgate/models"
)

// hubShards spreads the hub's lock so that thousands of waiters registering
// and waking at once do not queue on one mutex.
const hubShards = 64

// hub is the in-process rendezvous of waiters and arrivals: a map from request
// id to a slot that is closed, once, when a result for the id arrives.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu    sync.Mutex
	slots map[string]*slot
}

// slot is what the waiters on one request id share. ch is closed on wake; res
// is set before that when the waker had the result at hand (nil: re-read it).
type slot struct {
	ch  chan struct{}
	res *models.Result
	n   int // waiters holding the slot; guarded by the shard's mu
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
func (h *hub) watch(id string) *slot {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.slots[id]
	if s == nil {
		s = &slot{ch: make(chan struct{})}
		sh.slots[id] = s
	}
	s.n++
	return s
}

// unwatch withdraws a waiter registered by watch; the last one out removes
// the slot. Calling it after the slot was woken is harmless.
func (h *hub) unwatch(id string, s *slot) {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
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
	if s != nil {
		delete(sh.slots, id)
	}
	sh.mu.Unlock()
	if s == nil {
		return false
	}
	s.res = res
	close(s.ch)
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
		sh.mu.Unlock()
		for _, s := range slots {
			close(s.ch)
		}
	}
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
