package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/stream"
)

// heldStream serves a stream over HTTP/1.x without a goroutine of its own:
// its connection is taken from net/http (hijacked) and written by a
// short-lived goroutine whenever the hub has something for it (see
// stream.Hub.SubscribeFunc), or the heartbeat is due. Between those, a
// stream costs its connection, its subscription and a timer. The response
// has no length and ends when the connection closes (Connection: close).
//
// Nobody reads the connection, so a client that went away is noticed when
// a write fails: at the next event or heartbeat.
type heldStream struct {
	f    Feed
	conn net.Conn
	raw  bool
	sub  *stream.Sub

	mu        sync.Mutex
	running   bool // a drain goroutine runs
	again     bool // kicked while running: look once more
	beat      bool // the heartbeat is due
	ended     bool
	timer     *time.Timer
	lastWrite time.Time

	deadline time.Time // of the connection's writes; drain's
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
	s.sub = f.Hub.SubscribeFunc(q.filter, q.after, s.kick)
	s.mu.Lock()
	s.lastWrite = time.Now()
	s.timer = time.AfterFunc(f.heartbeat(), s.heartbeat)
	s.mu.Unlock()
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
		"X-Accel-Buffering: no\r\nConnection: close\r\nDate: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\n" +
		": pushgate feed\nretry: 2000\n\n"
	s.deadline = time.Now().Add(feedWriteTimeout)
	conn.SetWriteDeadline(s.deadline)
	if _, err := conn.Write([]byte(head)); err != nil {
		s.end("")
		return
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
	go s.drain()
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

// drainMax is what one write of a drain carries at most, about.
const drainMax = 32 << 10

// drain writes what the subscription has, then returns; kick starts it
// again when more comes. One event goes out as one writev of its parts,
// without copying its JSON.
func (s *heldStream) drain() {
	ctx := context.Background()
	var (
		items []*stream.Item
		one   [1]*stream.Item
	)
	for {
		items = one[:0]
		size := 0
		var end string // the closing comment, if the stream ends
		done := false
		for size < drainMax {
			it, err := s.sub.TryNext(ctx)
			if err != nil {
				end, done = endComment(err, s.sub.Cursor()), true
				if !errors.Is(err, stream.ErrSlow) && !errors.Is(err, stream.ErrClosed) {
					s.f.logger().Error("stream: reading the feed", "err", err)
				}
				break
			}
			if it == nil {
				break
			}
			items = append(items, it)
			size += len(it.JSON(s.raw)) + 64
		}
		s.mu.Lock()
		beat := s.beat && len(items) == 0 && !done
		s.beat = false
		s.mu.Unlock()
		var bufs net.Buffers
		switch {
		case len(items) == 1:
			it := items[0]
			var head [96]byte
			h := appendSSEHead(head[:0], it)
			bufs = net.Buffers{h, it.JSON(s.raw), sseTail}
		case len(items) > 1:
			b := make([]byte, 0, size)
			for _, it := range items {
				b = appendSSE(b, it, s.raw)
			}
			bufs = net.Buffers{b}
		case beat:
			bufs = net.Buffers{sseBeat}
		}
		if end != "" {
			bufs = append(bufs, []byte(end))
		}
		if len(bufs) > 0 {
			now := time.Now()
			if s.deadline.Sub(now) < feedWriteTimeout/2 { // refreshed now and then, not per write
				s.deadline = now.Add(feedWriteTimeout)
				s.conn.SetWriteDeadline(s.deadline)
			}
			if _, err := bufs.WriteTo(s.conn); err != nil {
				done = true // the client went away or stopped reading
			}
			s.mu.Lock()
			s.lastWrite = now
			s.mu.Unlock()
		}
		if done {
			s.end("")
			return
		}
		s.mu.Lock()
		if s.again || size >= drainMax {
			s.again = false
			s.mu.Unlock()
			continue
		}
		s.running = false
		s.mu.Unlock()
		return
	}
}

var (
	sseTail = []byte("\n\n")
	sseBeat = []byte(": heartbeat\n\n")
)

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

// appendSSE appends it as one event of a text/event-stream.
func appendSSE(b []byte, it *stream.Item, raw bool) []byte {
	b = appendSSEHead(b, it)
	b = append(b, it.JSON(raw)...)
	return append(b, "\n\n"...)
}

// appendSSEHead appends the lines of it before its data.
func appendSSEHead(b []byte, it *stream.Item) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, it.ID, 10)
	b = append(b, "\nevent: "...)
	b = append(b, it.Kind...)
	return append(b, "\ndata: "...)
}
