package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/stream"
)

// feedWriteTimeout bounds each write of a stream or a WebSocket: a client
// that stops reading is dropped after it.
const feedWriteTimeout = 30 * time.Second

// sse serves GET /v1/stream: text/event-stream, one event per stored event
// ("id:" its id, "event:" its kind, "data:" its JSON), after ?after= or the
// Last-Event-ID header (which EventSource sends when it reconnects): the
// stored events are replayed first, then the new ones follow, with no gap
// and no duplicate. A ": heartbeat" comment goes out when nothing else did
// for Heartbeat. A client that falls more than the hub's buffer behind is
// closed with the comment ": slow consumer; resume after ID" and catches up
// from the store when it reconnects; at shutdown the comment says so too.
func (f Feed) sse(c *gin.Context) {
	q, ok := f.parseFeedQuery(c, true)
	if !ok {
		return
	}
	if hijackable(c) {
		f.holdStream(c, q)
		return
	}
	// HTTP/2, a recorder: the request's goroutine writes the stream.
	rc := http.NewResponseController(c.Writer)
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies: do not buffer
	c.Status(http.StatusOK)
	ctx := c.Request.Context()
	sub := f.Hub.Subscribe(q.filter, q.after)
	defer sub.Close()

	// net/http buffers what is written (2 KiB, then its connection's 4 KiB):
	// no buffer of our own, as 10,000 streams would pay for it.
	w := c.Writer
	written := 0 // since the last flush
	flush := func() error {
		written = 0
		return rc.Flush()
	}
	rc.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
	w.WriteString(": pushgate feed\nretry: 2000\n\n")
	if flush() != nil {
		return
	}
	for {
		it, err := sub.Next(ctx, f.heartbeat())
		if written == 0 { // a write may follow; net/http may flush on its own
			rc.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
		}
		switch {
		case err == nil:
			b := it.SSE(q.raw)
			if _, err := w.Write(b); err != nil {
				return
			}
			written += len(b)
			if sub.Buffered() > 0 && written < 32<<10 {
				continue // more to come at once: one flush for several
			}
		case errors.Is(err, stream.ErrIdle):
			w.WriteString(": heartbeat\n\n")
		case errorsIsEnd(err):
			return
		default:
			if !errors.Is(err, stream.ErrSlow) && !errors.Is(err, stream.ErrClosed) {
				f.logger().Error("stream: reading the feed", "err", err)
			}
			w.WriteString(endComment(err, sub.Cursor()))
			flush()
			return
		}
		if flush() != nil {
			return // the client went away or stopped reading
		}
	}
}

// wsFilter is a message a WebSocket client sends to change its filter: the
// fields of the query filters, e.g. {"event":"CLICK"}; {} selects all.
type wsFilter = eventFilter

// ws serves GET /v1/ws: a WebSocket (subprotocol "pushgate") carrying one
// text message per stored event, its JSON, after ?after=, with the same
// replay-then-live rule as the stream. The server pings after Heartbeat of
// silence and drops a client that does not answer. A text message from the
// client is a new filter (see wsFilter), applied from the last event sent;
// a bad one is answered {"error": "..."}. A slow client is closed with
// status 1013 (try again later) and the reason "slow consumer; resume
// after=ID"; at shutdown 1001 (going away) with "resume after=ID".
func (f Feed) ws(c *gin.Context) {
	q, ok := f.parseFeedQuery(c, false)
	if !ok {
		return
	}
	conn, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{
		Subprotocols: []string{wsProtocol},
		// The token, not a cookie, authenticates: any origin may connect.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept answered the client
	}
	conn.SetReadLimit(64 << 10)
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	sub := f.Hub.Subscribe(q.filter, q.after)
	defer sub.Close()

	write := func(data []byte) error { // safe for concurrent use
		wctx, wcancel := context.WithTimeout(ctx, feedWriteTimeout)
		defer wcancel()
		return conn.Write(wctx, websocket.MessageText, data)
	}
	// The reader: filters from the client; it also answers pongs.
	go func() {
		defer cancel()
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			var wf wsFilter
			var filterErr error
			if err := json.Unmarshal(msg, &wf); err != nil {
				filterErr = fmt.Errorf("a filter must be a JSON object: %v", err)
			} else if wf.Limit != 0 || wf.Cursor != "" {
				filterErr = errors.New("a filter has no limit or cursor")
			}
			if filterErr == nil {
				m, err := wf.model()
				if err == nil {
					sub.SetFilter(m)
					continue
				}
				filterErr = err
			}
			b, _ := json.Marshal(gin.H{"error": filterErr.Error()})
			if write(b) != nil {
				return
			}
		}
	}()

	var pinging atomic.Bool
	for {
		it, err := sub.Next(ctx, f.heartbeat())
		switch {
		case err == nil:
			if write(it.JSON(q.raw)) != nil {
				return
			}
		case errors.Is(err, stream.ErrIdle):
			// Ping aside, so that events are not held up waiting for the
			// pong; one ping at a time.
			if pinging.CompareAndSwap(false, true) {
				go func() {
					defer pinging.Store(false)
					// Two heartbeats to answer: a busy client is not a dead one.
					pctx, pcancel := context.WithTimeout(ctx, 2*f.heartbeat())
					defer pcancel()
					if conn.Ping(pctx) != nil && ctx.Err() == nil {
						conn.Close(websocket.StatusPolicyViolation, "no pong")
						cancel()
					}
				}()
			}
		case errors.Is(err, stream.ErrSlow):
			conn.Close(websocket.StatusTryAgainLater, "slow consumer; resume after="+strconv.FormatInt(sub.Cursor(), 10))
			return
		case errors.Is(err, stream.ErrClosed):
			conn.Close(websocket.StatusGoingAway, "server shutting down; resume after="+strconv.FormatInt(sub.Cursor(), 10))
			return
		case errorsIsEnd(err):
			conn.CloseNow()
			return
		default:
			f.logger().Error("ws: reading the feed", "err", err)
			conn.Close(websocket.StatusInternalError, "store error; resume after="+strconv.FormatInt(sub.Cursor(), 10))
			return
		}
	}
}
