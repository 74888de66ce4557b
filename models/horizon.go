package models

import (
	"sync"
	"time"
)

// inflight tracks the ids of events being saved by this process: taken by
// SaveEvent, not yet committed (or refused). Ids are made in increasing
// order under its lock, so pending stays sorted and its head is the
// smallest id whose row may still appear. A reader that reads only ids
// below that head (EventHorizon) never sees a later commit land behind it.
type inflight struct {
	mu       sync.Mutex
	pending  []int64            // ids taken and not finished, ascending
	finished map[int64]struct{} // finished ids still behind pending's head
}

// begin makes a new id with g and records it as in flight.
func (f *inflight) begin(g *idGen) int64 {
	f.mu.Lock()
	id := g.next()
	f.pending = append(f.pending, id)
	f.mu.Unlock()
	return id
}

// end records that id is committed, or will never be. Unknown ids and
// repeated calls are ignored.
func (f *inflight) end(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 || id < f.pending[0] {
		return
	}
	if id != f.pending[0] {
		if f.finished == nil {
			f.finished = make(map[int64]struct{})
		}
		f.finished[id] = struct{}{}
		return
	}
	f.pending = f.pending[1:]
	for len(f.pending) > 0 {
		if _, ok := f.finished[f.pending[0]]; !ok {
			break
		}
		delete(f.finished, f.pending[0])
		f.pending = f.pending[1:]
	}
	if len(f.pending) == 0 {
		f.pending = f.pending[:0:0] // let the old array go
	}
}

// horizon returns the smallest id that may still be committed by this
// process: the oldest in-flight id, or else the smallest id g may still
// make (above its last one, and not below the current millisecond's: g may
// have made none yet in this process).
func (f *inflight) horizon(g *idGen) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) > 0 {
		return f.pending[0]
	}
	return max(g.last.Load()+1, FirstIDAt(time.Now()))
}

// EventHorizon returns an id below which every event this process saves is
// already committed (or refused): events with smaller ids that are not
// visible now never will be, as far as this process is concerned. A feed
// that reads in id order up to the horizon misses no event saved by this
// Store, even though concurrent saves commit out of id order. Events saved
// by other processes sharing a PostgreSQL database are not covered: their
// commits may lag their ids (see the stream package's settle window).
func (s *Store) EventHorizon() int64 { return s.flight.horizon(s.ids) }
