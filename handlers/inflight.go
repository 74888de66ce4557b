package handlers

import "sync"

// inflight tracks the pushes whose handler is still running in this
// process, so that a retry arriving meanwhile waits for the original's
// answer instead of answering early.
type inflight struct {
	mu      sync.Mutex
	flights map[int64]*flight
}

type flight struct {
	done  chan struct{}
	reply []byte
}

func newInflight() inflight { return inflight{flights: make(map[int64]*flight)} }

func (f *inflight) start(id int64) *flight {
	fl := &flight{done: make(chan struct{})}
	f.mu.Lock()
	f.flights[id] = fl
	f.mu.Unlock()
	return fl
}

// finish publishes the reply (nil: "success") to any waiting duplicate.
func (f *inflight) finish(id int64, fl *flight, reply []byte) {
	fl.reply = reply
	f.mu.Lock()
	delete(f.flights, id)
	f.mu.Unlock()
	close(fl.done)
}

func (f *inflight) get(id int64) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flights[id]
}

// count returns how many handlers of pushes are running.
func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.flights)
}
