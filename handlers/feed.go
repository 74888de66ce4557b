package handlers

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/stream"
)

// Feed is the feature serving the feeds of stored events (seed 002), with
// the API token:
//
//   - GET /v1/feed?after=CURSOR&wait=SECONDS&limit=N: a long poll. The
//     events after the cursor (none: from the oldest stored event), oldest
//     first, at most limit (default 100, at most 500), answered at once when
//     there are some, else held up to wait seconds (default 0, at most
//     MaxWait) until one arrives; then 200 {"items": [...], "next_cursor"}.
//     A poll held over HTTP/1.x costs no goroutine (see Results).
//   - GET /v1/stream: server-sent events; see sse.
//   - GET /v1/ws: a WebSocket; see ws.
//
// The cursor "now" (?after=now) is the last event published once those
// acknowledged before the request are (stream.Hub.Now): only new events
// follow. Every item is the JSON of GET /v1/events/{id} without the dispatch
// history; the raw body is in "raw" only with raw=1. The filters are those
// of GET /v1/events (event, msg_type, from_user, to_user, event_key,
// request_id, status, since, until). The token is taken from the
// Authorization header (Bearer), from ?access_token= (browsers'
// EventSource sets no header), or for WebSocket from the subprotocols
// ("pushgate" and "bearer.TOKEN").
type Feed struct {
	Hub *stream.Hub
	// Token is the API token (configs APIToken); empty refuses every call.
	Token string
	// MaxWait caps ?wait=; 0 means 300 s.
	MaxWait time.Duration
	// Heartbeat is the idle time after which the stream sends a comment and
	// the WebSocket a ping; 0 means 15 s.
	Heartbeat time.Duration
	// Logger receives storage errors; nil means slog.Default().
	Logger *slog.Logger
}

// Routes implements Feature.
func (f Feed) Routes(r, api, admin gin.IRouter) {
	g := r.Group("/", f.auth)
	g.GET("/v1/feed", f.poll)
	g.GET("/v1/stream", f.sse)
	g.GET("/v1/ws", f.ws)
}

// wsProtocol is the WebSocket subprotocol of /v1/ws; a client offers it
// along with "bearer.TOKEN" when it cannot send a header.
const wsProtocol = "pushgate"

// auth accepts the API token from the header, the query or a subprotocol.
func (f Feed) auth(c *gin.Context) {
	if f.Token == "" {
		jsonError(c, http.StatusUnauthorized, "api routes are disabled: no api token is configured")
		return
	}
	var got []string
	if h := c.GetHeader("Authorization"); h != "" {
		got = append(got, strings.TrimPrefix(h, "Bearer "))
	}
	if q := c.Query("access_token"); q != "" {
		got = append(got, q)
	}
	for _, h := range c.Request.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), "bearer."); ok {
				got = append(got, t)
			}
		}
	}
	if len(got) == 0 {
		jsonError(c, http.StatusUnauthorized, "missing bearer token")
		return
	}
	for _, t := range got {
		if subtle.ConstantTimeCompare([]byte(t), []byte(f.Token)) != 1 {
			jsonError(c, http.StatusUnauthorized, "wrong bearer token")
			return
		}
	}
	c.Next()
}

// feedQuery is what every feed reads from the query.
type feedQuery struct {
	filter models.EventFilter
	after  int64
	raw    bool
}

// parseFeedQuery reads the filters, the cursor (?after=, or the
// Last-Event-ID header when lastID; "now" is the last event published) and
// raw; it answers 400 and returns false when they are bad.
func (f Feed) parseFeedQuery(c *gin.Context, lastID bool) (feedQuery, bool) {
	var ef eventFilter
	if err := c.ShouldBindQuery(&ef); err != nil {
		jsonError(c, http.StatusBadRequest, "bad query: "+err.Error())
		return feedQuery{}, false
	}
	ef.Limit, ef.Cursor = 0, "" // the feeds' own limit and cursor
	filter, err := ef.model()
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return feedQuery{}, false
	}
	q := feedQuery{filter: filter}
	cursor, name := c.Query("after"), "after"
	if h := c.GetHeader("Last-Event-ID"); lastID && h != "" {
		cursor, name = h, "Last-Event-ID"
	}
	if cursor == "now" {
		// Not before the events acknowledged so far are published: a push
		// answered before this request is not new to it.
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		q.after = f.Hub.Now(ctx)
		cancel()
	} else if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			jsonError(c, http.StatusBadRequest, name+` must be an event id (a non-negative integer) or "now", got `+strconv.Quote(cursor))
			return feedQuery{}, false
		}
		q.after = n
	}
	switch c.Query("raw") {
	case "", "0", "false":
	case "1", "true":
		q.raw = true
	default:
		jsonError(c, http.StatusBadRequest, "raw must be 1 or 0")
		return feedQuery{}, false
	}
	return q, true
}

// feedPage is the answer of a long poll.
type feedPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

func newFeedPage(items []*stream.Item, after int64, raw bool) feedPage {
	p := feedPage{Items: make([]json.RawMessage, len(items)), NextCursor: strconv.FormatInt(after, 10)}
	for i, it := range items {
		p.Items[i] = it.JSON(raw)
	}
	if len(items) > 0 {
		p.NextCursor = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	return p
}

// Limits of the long poll's ?limit=.
const (
	feedDefaultLimit = 100
	feedMaxLimit     = 500
)

func (f Feed) poll(c *gin.Context) {
	q, ok := f.parseFeedQuery(c, false)
	if !ok {
		return
	}
	limit := feedDefaultLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > feedMaxLimit {
			jsonError(c, http.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d, got %q", feedMaxLimit, v))
			return
		}
		limit = n
	}
	wait, err := f.wait(c.Query("wait"))
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	p := &heldFeed{f: f, q: q, limit: limit, taken: make(chan struct{})}
	ctx := c.Request.Context()
	items, err := f.Hub.Read(ctx, q.filter, q.after, limit)
	if err != nil || len(items) > 0 || wait == 0 {
		p.respond(c, items, err)
		return
	}
	if !hijackable(c) { // HTTP/2, a recorder: the request's goroutine waits
		ready := make(chan struct{})
		stop := f.Hub.Wait(q.filter, q.after, wait, func() { close(ready) })
		if items, err = f.Hub.Read(ctx, q.filter, q.after, limit); err == nil && len(items) == 0 {
			select {
			case <-ready:
			case <-ctx.Done():
			}
			items, err = f.Hub.Read(ctx, q.filter, q.after, limit)
		}
		stop()
		p.respond(c, items, err)
		return
	}
	// Register, then look again: an event published in between either is
	// read now or releases the wait.
	stop := f.Hub.Wait(q.filter, q.after, wait, p.answer)
	items, err = f.Hub.Read(ctx, q.filter, q.after, limit)
	if (err != nil || len(items) > 0) && stop() {
		p.respond(c, items, err)
		return
	}
	conn, rw, err := c.Writer.Hijack()
	if err != nil {
		f.logger().Warn("taking a feed long poll's connection", "err", err)
		stop()
		c.Abort()
	} else {
		*rw.Reader, *rw.Writer = bufio.Reader{}, bufio.Writer{}
	}
	p.conn = conn
	close(p.taken)
}

// heldFeed is a long poll: its query and, once held, its connection.
type heldFeed struct {
	f     Feed
	q     feedQuery
	limit int
	conn  net.Conn      // nil if it could not be taken
	taken chan struct{} // closed once conn is set
}

// respond answers through gin.
func (p *heldFeed) respond(c *gin.Context, items []*stream.Item, err error) {
	if err != nil {
		if c.Request.Context().Err() != nil {
			c.Abort()
			return
		}
		p.f.logger().Error("reading the feed", "err", err)
		jsonError(c, http.StatusInternalServerError, "could not read the feed")
		return
	}
	c.JSON(http.StatusOK, newFeedPage(items, p.q.after, p.q.raw))
}

// answer is the held poll's Hub.Wait callback: it reads what arrived and
// writes the answer on the connection.
func (p *heldFeed) answer() {
	<-p.taken
	if p.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), heldWriteTimeout)
	defer cancel()
	items, err := p.f.Hub.Read(ctx, p.q.filter, p.q.after, p.limit)
	var status int
	var body any
	if err != nil {
		p.f.logger().Error("reading the feed", "err", err)
		status, body = http.StatusInternalServerError, gin.H{"error": "could not read the feed"}
	} else {
		status, body = http.StatusOK, newFeedPage(items, p.q.after, p.q.raw)
	}
	if err := writeJSONAndClose(p.conn, status, body); err != nil {
		p.f.logger().Debug("answering a held feed poll", "err", err)
	}
}

// wait parses ?wait=: seconds, from 0 to MaxWait.
func (f Feed) wait(q string) (time.Duration, error) { return parseWait("wait", q, f.MaxWait) }

func (f Feed) heartbeat() time.Duration {
	if f.Heartbeat > 0 {
		return f.Heartbeat
	}
	return 15 * time.Second
}

func (f Feed) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// errorsIsEnd reports whether err ends a subscription quietly: the client
// went away.
func errorsIsEnd(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
