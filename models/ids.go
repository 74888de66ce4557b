package models

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// Layout of an id: milliseconds since idEpoch (41 bits, enough until 2089),
// a random node number (10 bits), a sequence within the millisecond (12 bits).
const (
	idNodeBits = 10
	idSeqBits  = 12
	idSeqMask  = 1<<idSeqBits - 1
	idNodeMask = 1<<idNodeBits - 1
	idTimeLeft = idNodeBits + idSeqBits
)

// idEpoch is the zero of the id clock: 2020-01-01T00:00:00Z.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// processIDs is the generator every Store in this process shares, so that two
// Store values in one process never collide. Its node bits are chosen at random
// when the process starts.
var processIDs = newIDGen(randomNode())

// idGen makes time-ordered int64 ids. Time-ordered primary keys keep SQLite's
// B-tree appends local, which is several times faster than random keys.
type idGen struct {
	node int64
	last atomic.Int64
}

func newIDGen(node int64) *idGen { return &idGen{node: node & idNodeMask} }

func randomNode() int64 {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano() & idNodeMask
	}
	return int64(binary.BigEndian.Uint16(b[:])) & idNodeMask
}

// next returns an id greater than every id this generator returned before,
// even if the wall clock steps back or more than 4096 ids are asked within one
// millisecond (then it borrows the next millisecond).
func (g *idGen) next() int64 {
	ms := time.Since(idEpoch).Milliseconds()
	fresh := ms<<idTimeLeft | g.node<<idSeqBits
	for {
		last := g.last.Load()
		id := fresh
		if id <= last {
			if last&idSeqMask == idSeqMask {
				id = (last>>idTimeLeft+1)<<idTimeLeft | g.node<<idSeqBits
			} else {
				id = last + 1
			}
		}
		if g.last.CompareAndSwap(last, id) {
			return id
		}
	}
}

// IDTime returns the time encoded in an id made by Store.NewID (millisecond
// precision).
func IDTime(id int64) time.Time {
	return idEpoch.Add(time.Duration(id>>idTimeLeft) * time.Millisecond)
}

// FirstIDAt returns the smallest id Store.NewID can make at time t: every
// id made before t is smaller, so "id < FirstIDAt(t)" selects rows created
// before t.
func FirstIDAt(t time.Time) int64 {
	return t.Sub(idEpoch).Milliseconds() << idTimeLeft
}
