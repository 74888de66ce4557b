package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/stream"
)

// heldStream serves a stream over HTTP/1.x without a goroutine of its own:
// its connection is taken from net/http (hijacked) and written by a small
// pool of writers (streamWriters) whenever the hub has something for it
// (see stream.Hub.SubscribeFunc), or the heartbeat is due. Between those, a
// stream costs its connection, its subscription and a timer. The response
// has no length and ends when the connection closes (Connection: close).
//
// A writer writes everything the stream has pending in one writev of the
// events' shared frames (stream.Item.SSE), so that a push fanned out to N
// streams costs N writes, and the events that arrive while a writer is busy
// elsewhere go out together. A write that cannot complete at once (the
// client reads slowly) is finished by a goroutine of the stream's own, so
// that one slow client does not hold up the others.
//
// Nobody reads the connection, so a client that went away is noticed when
// a write fails: at the next event or heartbeat.
type heldStream struct {
	f    Feed
	conn net.Conn
	raw  bool
	sub  *stream.Sub
	// sys is conn's descriptor, written without waiting (see writeNow);
	// nil where that is not possible: writes then wait poolWriteWait.
	// Written through the RawConn, the descriptor cannot be closed (and its
	// number reused by another connection) in the middle of a write.
	sys syscall.RawConn

	mu        sync.Mutex
	running   bool // queued, being drained, or finishing a write
	again     bool // kicked while running: look once more
	beat      bool // the heartbeat is due
	ended     bool
	timer     *time.Timer
	lastWrite time.Time
	// wrote is the time of the running writer's last write, moved to
	// lastWrite by next (one lock per drain); only the running writer
	// touches it.
	wrote time.Time
}

// holdStream takes c's connection and starts streaming q on it.
func (f Feed) holdStream(c *gin.Context, q feedQuery) {
	conn, rw, err := c.Writer.Hijack()
	if err != nil {
		f.logger().Warn("taking a stream's connection", "err", err)
		c.Abort()
		return
	}
	// net/http's buffers for this connection: ours now, and not needed.
	*rw.Reader, *rw.Writer = bufio.Reader{}, bufio.Writer{}
	s := &heldStream{f: f, conn: conn, raw: q.raw}
	if sc, ok := conn.(syscall.Conn); ok && directWrites {
		if rc, err := sc.SyscallConn(); err == nil {
			s.sys = rc
		}
	}
	s.sub = f.Hub.SubscribeFunc(q.filter, q.after, s.kick)
	s.mu.Lock()
	s.lastWrite = time.Now()
	s.timer = time.AfterFunc(f.heartbeat(), s.heartbeat)
	s.mu.Unlock()
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
		"X-Accel-Buffering: no\r\nConnection: close\r\nDate: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\n" +
		": pushgate feed\nretry: 2000\n\n"
	conn.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
	if _, err := conn.Write([]byte(head)); err != nil {
		s.end("")
		return
	}
	if s.sys != nil {
		conn.SetWriteDeadline(time.Time{}) // writeNow does not wait
	}
	s.kick() // the first events come from the store
}

// kick makes sure a drain runs after now. The hub calls it under its lock.
func (s *heldStream) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.running {
		s.again = true
		return
	}
	s.running = true
	streamWriters.queue(s)
}

// heartbeat runs on the timer's goroutine: a comment is due unless
// something was written meanwhile.
func (s *heldStream) heartbeat() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	idle := time.Since(s.lastWrite)
	if every := s.f.heartbeat(); idle < every {
		s.timer.Reset(every - idle)
		s.mu.Unlock()
		return
	}
	s.beat = true
	s.timer.Reset(s.f.heartbeat())
	s.mu.Unlock()
	s.kick()
}

// drainMax is what one write of a drain carries at most, about; a drain
// takes the subscription's events drainChunk at a time.
const (
	drainMax   = 64 << 10
	drainChunk = 16
)

// Write deadlines of held streams: a writer of the pool gives a write
// poolWriteWait before it hands the stream to a goroutine of its own, which
// gives it feedWriteTimeout.
const poolWriteWait = 20 * time.Millisecond

// drainScratch is a writer's: what its drains gather.
type drainScratch struct {
	items []*stream.Item
	bufs  net.Buffers
	out   []byte // writeNow's
}

// drain writes what the subscription has, once, on a writer of the pool;
// it queues the stream again when more is pending.
func (s *heldStream) drain(sc *drainScratch) {
	items := sc.items[:0]
	size := 0
	var end string // the closing comment, if the stream ends
	done := false
	for size < drainMax {
		from := len(items)
		var err error
		items, err = s.sub.TryNextN(context.Background(), items, from+drainChunk)
		for _, it := range items[from:] {
			size += len(it.SSE(s.raw))
		}
		if err != nil {
			end, done = endComment(err, s.sub.Cursor()), true
			if !errors.Is(err, stream.ErrSlow) && !errors.Is(err, stream.ErrClosed) {
				s.f.logger().Error("stream: reading the feed", "err", err)
			}
			break
		}
		if len(items) < from+drainChunk {
			break // nothing more ready now
		}
	}
	s.mu.Lock()
	beat := s.beat && len(items) == 0 && !done
	s.beat = false
	s.mu.Unlock()
	bufs := sc.bufs[:0]
	for i, it := range items {
		bufs = append(bufs, it.SSE(s.raw))
		items[i] = nil
	}
	sc.items = items[:0]
	if beat {
		bufs = append(bufs, sseBeat)
	}
	if end != "" {
		bufs = append(bufs, []byte(end))
	}
	if len(bufs) > 0 {
		now := time.Now()
		all := bufs
		var rest net.Buffers
		var err error
		if s.sys != nil {
			rest, err = writeNow(s.sys, sc, bufs)
		} else {
			s.conn.SetWriteDeadline(now.Add(poolWriteWait))
			_, err = bufs.WriteTo(s.conn) // consumes bufs
			if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				rest, err = slices.Clone(bufs), nil
			}
		}
		clear(all)
		sc.bufs = all[:0]
		if heldWriteHook != nil && err == nil {
			heldWriteHook(len(items), rest == nil)
		}
		s.wrote = now
		if rest != nil && err == nil {
			// The client reads slowly: finish on a goroutine of its own.
			go s.finish(rest, done)
			return
		}
		if err != nil {
			done = true // the client went away or stopped reading
		}
	}
	if done {
		s.end("")
		return
	}
	s.next(size >= drainMax)
}

// next queues the stream again if more is pending, else lets kick do it.
func (s *heldStream) next(more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wrote.IsZero() {
		s.lastWrite, s.wrote = s.wrote, time.Time{}
	}
	if s.ended {
		return
	}
	if s.again || more {
		s.again = false
		streamWriters.queue(s)
		return
	}
	s.running = false
}

// finish writes the rest of a write that did not complete on the pool, with
// the patience of feedWriteTimeout, then returns the stream to the pool, or
// ends it if it was its last write.
func (s *heldStream) finish(rest net.Buffers, last bool) {
	s.conn.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
	if _, err := rest.WriteTo(s.conn); err != nil || last {
		s.end("")
		return
	}
	if s.sys != nil {
		s.conn.SetWriteDeadline(time.Time{})
	}
	s.wrote = time.Now()
	s.next(true)
}

// streamWriters writes the held streams of every server of the process.
var streamWriters = &writerPool{max: max(4, runtime.GOMAXPROCS(0))}

// writerPool drains the queued streams with at most max goroutines, which
// exist only while streams are queued. Each drain writes once, then the
// stream queues again behind the others if it has more: a stream receiving
// much does not hold up the others.
type writerPool struct {
	max int

	mu      sync.Mutex
	ready   []*heldStream
	head    int // ready[head:] are queued
	workers int
}

// queue adds s to the streams to drain.
func (p *writerPool) queue(s *heldStream) {
	p.mu.Lock()
	p.ready = append(p.ready, s)
	start := p.workers < p.max
	if start {
		p.workers++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *writerPool) work() {
	var sc drainScratch
	for {
		p.mu.Lock()
		if p.head == len(p.ready) {
			p.ready, p.head = p.ready[:0], 0
			p.workers--
			p.mu.Unlock()
			return
		}
		s := p.ready[p.head]
		p.ready[p.head] = nil
		p.head++
		if p.head >= 4096 && 2*p.head >= len(p.ready) { // reuse the front
			n := copy(p.ready, p.ready[p.head:])
			clear(p.ready[n:])
			p.ready, p.head = p.ready[:n], 0
		}
		p.mu.Unlock()
		s.drain(&sc)
	}
}

var (
	sseBeat = []byte(": heartbeat\n\n")
)

// heldWriteHook, when set (by the benchmarks, before any stream starts), is
// called after each write of a drain on a writer of the pool with the
// events written and whether the socket took all of it.
var heldWriteHook func(events int, whole bool)

// end closes the stream (writing last first, if any).
func (s *heldStream) end(last string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.sub.Close()
	if last != "" {
		s.conn.Write([]byte(last))
	}
	s.conn.Close()
}

// endComment is the comment that closes a stream ended by err.
func endComment(err error, cursor int64) string {
	switch {
	case errors.Is(err, stream.ErrSlow):
		return fmt.Sprintf(": slow consumer; resume after %d\n\n", cursor)
	case errors.Is(err, stream.ErrClosed):
		return fmt.Sprintf(": server shutting down; resume after %d\n\n", cursor)
	}
	return fmt.Sprintf(": error reading the feed; resume after %d\n\n", cursor)
}
