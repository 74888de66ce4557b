package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/propagation"
)

// answerLimit bounds how much of an answer is read: "success" is 7 bytes.
const answerLimit = 1 << 10

// drainLimit bounds how much of a longer answer is discarded so that the
// connection can be reused.
const drainLimit = 64 << 10

// target is where and how a delivery is sent: a subscriber, or the global
// settings for deliveries of no event.
type target struct {
	url           string
	key           []byte // nil: unsigned
	kinds         []string
	connect, read time.Duration
}

// newTarget resolves one subscriber; a malformed secret is appended to errs.
func newTarget(url, secret string, kinds []string, connect, read time.Duration, errs []error) (*target, []error) {
	t := &target{url: url, kinds: kinds, connect: connect, read: read}
	if secret != "" {
		key, err := ParseSecret(secret)
		if err != nil {
			name := "notify secret"
			if url != "" {
				name = "secret of subscriber " + url
			}
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		t.key = key
	}
	return t, errs
}

// budget is the longest one attempt to t may take.
func (t *target) budget() time.Duration { return t.connect + t.read }

// wants reports whether t subscribes to events of kind: every kind when its
// list is empty, else a listed kind, compared ignoring case, where an event
// kind "event.CLICK" is also matched by its bare name "click".
func (t *target) wants(kind string) bool {
	if len(t.kinds) == 0 {
		return true
	}
	bare, isEvent := strings.CutPrefix(kind, "event.")
	for _, k := range t.kinds {
		if strings.EqualFold(k, kind) || isEvent && strings.EqualFold(k, bare) {
			return true
		}
	}
	return false
}

// connectTimeoutKey carries a request's connect timeout to the dialer.
type connectTimeoutKey struct{}

// errReadTimeout is the cause of an attempt cancelled by its read timeout.
var errReadTimeout = errors.New("read timeout")

// newClient returns the default client: the connect timeout of each request
// bounds its dial, keep-alive connections are reused, redirects are not
// followed (a 3xx is a failure).
func newClient(maxConnsPerHost int) *http.Client {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := *dialer
			d.Timeout, _ = ctx.Value(connectTimeoutKey{}).(time.Duration)
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          2 * maxConnsPerHost,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// outcome is what one POST came to.
type outcome struct {
	status int    // HTTP status; 0 = no answer
	err    string // "" = success
}

// post sends one attempt of a delivery to t and judges the answer as seed 003
// does: success is a 2xx status with the body "success" (trimmed, any case).
// The connect timeout bounds the dial; the read timeout runs from the moment a
// connection is had until the answer is read.
func (n *Notifier) post(ctx context.Context, t *target, url, id string, attempt int, body []byte) outcome {
	ctx = context.WithValue(ctx, connectTimeoutKey{}, t.connect)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, t.connect+t.read+time.Second)
	defer stop()
	var readTimer atomic.Pointer[time.Timer]
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			readTimer.Store(time.AfterFunc(t.read, func() { cancel(errReadTimeout) }))
		},
	})
	defer func() {
		if rt := readTimer.Load(); rt != nil {
			rt.Stop()
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "bad request: " + err.Error()}
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "pushgate-notify/1")
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	traceContext.Inject(ctx, propagation.HeaderCarrier(h))
	if t.key != nil {
		h.Set(HeaderSignature, sign(t.key, id, ts, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return outcome{err: describe(ctx, t, err)}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, answerLimit+1))
	if err != nil {
		return outcome{status: resp.StatusCode, err: "reading the answer: " + describe(ctx, t, err)}
	}
	if len(answer) > answerLimit {
		io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome{status: resp.StatusCode, err: fmt.Sprintf("http %d: %s", resp.StatusCode, snippet(answer))}
	}
	if !strings.EqualFold(strings.TrimSpace(string(answer)), "success") {
		return outcome{status: resp.StatusCode, err: fmt.Sprintf("http %d answered %s, want \"success\"",
			resp.StatusCode, snippet(answer))}
	}
	return outcome{status: resp.StatusCode}
}

// describe names the failure of a POST in a few words.
func describe(ctx context.Context, t *target, err error) string {
	var opErr *net.OpError
	switch {
	case errors.Is(context.Cause(ctx), errReadTimeout):
		return fmt.Sprintf("read timeout after %s", t.read)
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout():
		return fmt.Sprintf("connect timeout after %s", t.connect)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout after %s", t.budget())
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var uErr interface{ Unwrap() error }
	if errors.As(err, &uErr) && uErr.Unwrap() != nil {
		return uErr.Unwrap().Error()
	}
	return err.Error()
}

// snippet quotes the start of an answer for last_error.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
