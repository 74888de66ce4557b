package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/bridge"
)

// Results is the feature serving GET /v1/results/{request_id}[?timeout=S]
// (API token): the result of an async API (seed 000) or a callback (seed
// 001) stored under request_id.
//
//   - 200 {"request_id","source","api","service","data","received_at","expires_at"},
//     data being the JSON document when the result is JSON, else a string;
//   - 202 {"status":"pending"} when it has not arrived after waiting up to S
//     seconds (default 0: no wait; at most MaxWait). The wait ends the moment
//     the result arrives, on this replica or another;
//   - 410 once it has expired; 400 for a bad timeout; 503 when the server
//     shuts down during the wait.
//
// A poll that has to wait over HTTP/1.x is held without a goroutine: its
// connection is taken from net/http and answered with Connection: close
// (see hold). A result that is there already is answered at once, on a
// connection that stays net/http's.
type Results struct {
	Bridge *bridge.Bridge
	// MaxWait caps ?timeout= (configs Results.MaxWait); 0 means 300 s.
	MaxWait time.Duration
	// Logger receives storage errors; nil means slog.Default().
	Logger *slog.Logger
}

// Routes implements Feature.
func (f Results) Routes(r, api, admin gin.IRouter) {
	api.GET("/v1/results/:request_id", f.get)
}

// resultView is the JSON form of a result.
type resultView struct {
	RequestID  string          `json:"request_id"`
	Source     string          `json:"source"`
	Api        string          `json:"api"`
	Service    string          `json:"service"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt time.Time       `json:"received_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
}

func (f Results) get(c *gin.Context) {
	id := c.Param("request_id")
	wait, err := f.wait(c.Query("timeout"))
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	ctx := c.Request.Context()
	var res *bridge.Result
	switch {
	case wait == 0:
		res, err = f.Bridge.Result(ctx, id)
	case hijackable(c):
		f.hold(c, id, wait)
		return
	default: // HTTP/2, a recorder: the request's goroutine waits
		wctx, cancel := context.WithTimeout(ctx, wait)
		res, err = f.Bridge.Await(wctx, id)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = bridge.ErrPending
		}
	}
	f.respond(c, res, err)
}

// respond answers the outcome of a read or a wait through gin.
func (f Results) respond(c *gin.Context, res *bridge.Result, err error) {
	if err != nil && !errors.Is(err, bridge.ErrPending) && !errors.Is(err, bridge.ErrExpired) && c.Request.Context().Err() != nil {
		c.Abort() // the caller went away
		return
	}
	status, body := f.answer(res, err)
	if status >= http.StatusBadRequest {
		c.AbortWithStatusJSON(status, body)
		return
	}
	c.JSON(status, body)
}

// answer maps the outcome of a read or a wait to a status and a JSON body.
func (f Results) answer(res *bridge.Result, err error) (int, any) {
	switch {
	case err == nil:
		return http.StatusOK, resultView{
			RequestID: res.RequestID, Source: res.Source, Api: res.Api, Service: res.Service,
			Data: res.Value(), ReceivedAt: res.ReceivedAt, ExpiresAt: res.ExpiresAt,
		}
	case errors.Is(err, bridge.ErrPending):
		return http.StatusAccepted, gin.H{"status": "pending"}
	case errors.Is(err, bridge.ErrExpired):
		return http.StatusGone, gin.H{"error": "result expired"}
	case errors.Is(err, bridge.ErrClosed):
		return http.StatusServiceUnavailable, gin.H{"error": "shutting down"}
	default:
		f.logger().Error("reading a result", "err", err)
		return http.StatusInternalServerError, gin.H{"error": "could not read the result"}
	}
}

// heldWriteTimeout bounds the write of a held poll's answer.
const heldWriteTimeout = 10 * time.Second

// hijackable reports whether hold can take c's connection from net/http:
// an HTTP/1.x request on a ResponseWriter that is an http.Hijacker (not
// HTTP/2, not a recorder).
func hijackable(c *gin.Context) bool {
	if c.Request.ProtoMajor != 1 {
		return false
	}
	// gin's writer always has Hijack, which panics unless the writer under
	// it has one too.
	u, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter })
	if !ok {
		return false
	}
	_, ok = u.Unwrap().(http.Hijacker)
	return ok
}

// hold serves a long poll on a hijackable connection. A result that is there
// already (or an expired one) is answered at once through gin. Otherwise
// the wait is held without a goroutine and without net/http's buffers: hold
// takes the connection from net/http (hijacks it) and the bridge holds the
// wait (Bridge.AwaitFunc); the answer, with the statuses and bodies of get,
// is then written directly on the connection with Connection: close, and
// the connection closed.
//
// What net/http had buffered is dropped with its buffers: the bytes of a
// pipelined next request or of an unread request body, if any, are lost (the
// connection closes anyway).
// Nobody reads a held connection, so a client that hangs up is noticed only
// when the answer is written and fails; the wait ends at its timeout at the
// latest. The bridge's Close answers every held poll 503 and waits for the
// writes, each bounded by heldWriteTimeout.
func (f Results) hold(c *gin.Context, id string, wait time.Duration) {
	p := &heldPoll{f: f, id: id, taken: make(chan struct{})}
	res, stop, err := f.Bridge.AwaitFunc(id, wait, p.answer)
	if !errors.Is(err, bridge.ErrPending) {
		f.respond(c, res, err)
		return
	}
	conn, rw, err := c.Writer.Hijack() // gin writes no header after this
	if err != nil {
		// net/http gave the connection up, broken: nothing to answer on.
		f.logger().Warn("taking a long poll's connection", "request_id", id, "err", err)
		stop()
		c.Abort()
	} else {
		// The buffers are ours now, but pools (gin's contexts) may keep the
		// bufio structs alive for a while: empty them.
		*rw.Reader, *rw.Writer = bufio.Reader{}, bufio.Writer{}
	}
	p.conn = conn
	close(p.taken)
}

// heldPoll is what a held long poll keeps: its connection and a little more.
type heldPoll struct {
	f     Results
	id    string
	conn  net.Conn      // nil if it could not be taken
	taken chan struct{} // closed once conn is set
}

// answer is the poll's Bridge.AwaitFunc callback: it writes the answer on the
// connection and closes it.
func (p *heldPoll) answer(res *bridge.Result, err error) {
	<-p.taken // the wait may end before hold has taken the connection
	if p.conn == nil {
		return
	}
	status, body := p.f.answer(res, err)
	if err := writeJSONAndClose(p.conn, status, body); err != nil {
		p.f.logger().Debug("answering a held long poll", "request_id", p.id, "status", status, "err", err)
	}
}

// writeJSONAndClose writes a complete HTTP/1.1 response with body as JSON on
// conn, then closes conn.
func writeJSONAndClose(conn net.Conn, status int, body any) error {
	defer conn.Close()
	data, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":"could not encode the answer"}`)
	}
	var buf bytes.Buffer
	buf.Grow(160 + len(data))
	fmt.Fprintf(&buf, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	buf.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	fmt.Fprintf(&buf, "Content-Length: %d\r\n", len(data))
	buf.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	buf.WriteString("Connection: close\r\n\r\n")
	buf.Write(data)
	if err := conn.SetWriteDeadline(time.Now().Add(heldWriteTimeout)); err != nil {
		return err
	}
	_, err = conn.Write(buf.Bytes())
	return err
}

// wait parses ?timeout=: seconds, a non-negative number up to MaxWait.
func (f Results) wait(q string) (time.Duration, error) { return parseWait("timeout", q, f.MaxWait) }

// parseWait parses a query's wait in seconds, from 0 to limit (300 s when
// limit is not positive); "" is 0. name is the parameter, for the error.
func parseWait(name, q string, limit time.Duration) (time.Duration, error) {
	if q == "" {
		return 0, nil
	}
	if limit <= 0 {
		limit = 300 * time.Second
	}
	secs, err := strconv.ParseFloat(q, 64)
	if err != nil || math.IsNaN(secs) || secs < 0 || secs > limit.Seconds() {
		return 0, fmt.Errorf("%s must be a number of seconds from 0 to %g, got %q", name, limit.Seconds(), q)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func (f Results) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
