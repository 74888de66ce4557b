package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pushgate/pushgate/models"
)

// heldAnswer is a long poll's answer as net/http's client read it.
type heldAnswer struct {
	resp *http.Response
	body string
	err  error
	at   time.Time
}

// heldPoll sends GET path with the API token in a goroutine, on a connection
// of its own, and returns its answer once there.
func (bs *bridgeServer) heldPoll(t *testing.T, path string) <-chan heldAnswer {
	t.Helper()
	ch := make(chan heldAnswer, 1)
	tr := &http.Transport{} // keep-alive: any Connection: close is the server's
	client := &http.Client{Transport: tr}
	go func() {
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", bs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+bridgeAPIToken)
		resp, err := client.Do(req)
		if err != nil {
			ch <- heldAnswer{err: err, at: time.Now()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- heldAnswer{resp: resp, body: string(b), err: err, at: time.Now()}
	}()
	return ch
}

// heldGot waits up to 10 s for a held poll's answer and checks that it is
// status, a JSON answer that closes its connection.
func heldGot(t *testing.T, ch <-chan heldAnswer, status int, what string) heldAnswer {
	t.Helper()
	var got heldAnswer
	select {
	case got = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer within 10 s", what)
	}
	if got.err != nil {
		t.Fatalf("%s: %v", what, got.err)
	}
	r := got.resp
	if r.StatusCode != status {
		t.Fatalf("%s = %d %s, want %d", what, r.StatusCode, got.body, status)
	}
	if r.Proto != "HTTP/1.1" || !r.Close {
		t.Errorf("%s: %s with Close %v, want HTTP/1.1 with Connection: close", what, r.Proto, r.Close)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if r.ContentLength != int64(len(got.body)) {
		t.Errorf("%s: Content-Length %d, body %d bytes", what, r.ContentLength, len(got.body))
	}
	if d, err := http.ParseTime(r.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("%s: Date %q", what, r.Header.Get("Date"))
	}
	return got
}

func TestResultsHeldPollAnsweredByPush(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)

	const n = 20
	polls := make([]<-chan heldAnswer, n)
	for i := range n {
		polls[i] = bs.heldPoll(t, fmt.Sprintf("/v1/results/held-%d?timeout=30", i))
	}
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == n }, "the polls to be held")
	for i := range n {
		pushed := time.Now()
		bs.pushResult(t, fmt.Sprintf("held-%d", i), fmt.Sprintf(`{"n":%d}`, i))
		got := heldGot(t, polls[i], http.StatusOK, fmt.Sprintf("held poll %d", i))
		if d := got.at.Sub(pushed); d > time.Second {
			t.Errorf("held poll %d answered %v after its push", i, d)
		}
		var want bytes.Buffer
		fmt.Fprintf(&want, `{"request_id":"held-%d","source":"servicemarket","api":"api_name","service":"wx10427c80e0ae4c1d","data":{"n":%d}}`, i, i)
		var view map[string]any
		if err := json.Unmarshal([]byte(got.body), &view); err != nil || view["received_at"] == nil || view["expires_at"] == nil {
			t.Errorf("held poll %d body %s", i, got.body)
			continue
		}
		delete(view, "received_at")
		delete(view, "expires_at")
		b, _ := json.Marshal(view)
		bridgeJSONEq(t, fmt.Sprintf("held poll %d", i), string(b), want.String())
	}
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == 0 }, "no poll held")

	// A result there already is answered at once, on a connection that stays
	// net/http's: no Connection: close.
	resp := bs.get(t, "/v1/results/held-0?timeout=30")
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Errorf("poll of a stored result = %d, Close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	// The API token is checked before anything is held.
	req, _ := http.NewRequest("GET", bs.URL+"/v1/results/held-x?timeout=30", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("held poll with a wrong token = %v, %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestResultsHeldPollTimesOut(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	start := time.Now()
	got := heldGot(t, bs.heldPoll(t, "/v1/results/none?timeout=0.3"), http.StatusAccepted, "held poll past its timeout")
	if d := got.at.Sub(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("held poll with timeout=0.3 answered after %v", d)
	}
	bridgeJSONEq(t, "pending body", got.body, `{"status":"pending"}`)
	if n := bs.bridge.Waiting(); n != 0 {
		t.Errorf("Waiting() after the timeout = %d, want 0", n)
	}
}

// The shutdown of cmd/pushgate serve: http.Server.Shutdown does not wait for
// held polls (net/http no longer owns their connections), then the bridge's
// Close answers them 503.
func TestResultsHeldPollAtShutdown(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	polls := []<-chan heldAnswer{
		bs.heldPoll(t, "/v1/results/a?timeout=60"),
		bs.heldPoll(t, "/v1/results/b?timeout=60"),
	}
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == len(polls) }, "the polls to be held")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := bs.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with polls held, want at once", d)
	}
	bs.bridge.Close()
	for i, ch := range polls {
		got := heldGot(t, ch, http.StatusServiceUnavailable, fmt.Sprintf("held poll %d at Close", i))
		bridgeJSONEq(t, "shutdown body", got.body, `{"error":"shutting down"}`)
	}
}

// The answer on the wire: one complete HTTP/1.1 response, then the end of
// the connection.
func TestResultsHeldPollWire(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	conn, err := net.Dial("tcp", bs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/results/wire?timeout=30 HTTP/1.1\r\nHost: pushgate\r\nAuthorization: Bearer %s\r\n\r\n", bridgeAPIToken)
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == 1 }, "the poll to be held")
	bs.pushResult(t, "wire", `"plain"`)

	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(conn) // to the server's close
	if err != nil {
		t.Fatalf("reading the answer: %v (got %q)", err, raw)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("http.ReadResponse(%q) = %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Status != "200 OK" || resp.Proto != "HTTP/1.1" || !resp.Close {
		t.Errorf("answer %q: status %q, proto %s, Close %v", raw, resp.Status, resp.Proto, resp.Close)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s for a body of %d bytes", cl, len(body))
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("bytes after the response: %q", rest)
	}
	if !bytes.Contains(body, []byte(`"data":"plain"`)) {
		t.Errorf("body %s", body)
	}
}

// Without a connection to take (a ResponseWriter that is no http.Hijacker),
// the request's goroutine waits, with the same answers.
func TestResultsPollWithoutHijack(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	serve := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+bridgeAPIToken)
		rec := httptest.NewRecorder()
		bs.Config.Handler.ServeHTTP(rec, req)
		return rec
	}
	start := time.Now()
	if rec := serve("/v1/results/rec?timeout=0.2"); rec.Code != http.StatusAccepted || time.Since(start) < 200*time.Millisecond {
		t.Errorf("recorded poll = %d %s after %v, want 202 after 200 ms", rec.Code, rec.Body, time.Since(start))
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serve("/v1/results/rec?timeout=30") }()
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == 1 }, "the recorded poll to wait")
	bs.pushResult(t, "rec", `1`)
	select {
	case rec := <-done:
		if rec.Code != http.StatusOK || rec.Header().Get("Connection") != "" {
			t.Errorf("recorded poll = %d %v %s, want 200", rec.Code, rec.Header(), rec.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("recorded poll not answered within 10 s of the push")
	}
}

// get sends GET path with the API token on the default client.
func (bs *bridgeServer) get(t *testing.T, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", bs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+bridgeAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
