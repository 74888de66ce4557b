package handlers_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/stream"
)

func TestSSEReplayThenLiveThenResume(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	for _, k := range []string{"s1", "s2", "s3"} {
		fs.click(t, "CLICK", "u", k)
	}
	c := fs.openSSE(t, "")
	got := c.read(t, 3, 10*time.Second)
	for _, k := range []string{"l1", "l2"} {
		fs.click(t, "CLICK", "u", k)
	}
	got = append(got, c.read(t, 2, 10*time.Second)...)
	if diff := cmp.Diff([]string{"s1", "s2", "s3", "l1", "l2"}, keys(got)); diff != "" {
		t.Fatalf("stream keys (-want +got):\n%s", diff)
	}
	for i, e := range got {
		if e.id != e.data.ID || e.event != "event.CLICK" {
			t.Errorf("event %d: id %q event %q, want id = data id %q and event event.CLICK", i, e.id, e.event, e.data.ID)
		}
		if i > 0 && !(len(e.id) > len(got[i-1].id) || len(e.id) == len(got[i-1].id) && e.id > got[i-1].id) {
			t.Errorf("event %d id %s after %s: not ascending", i, e.id, got[i-1].id)
		}
	}
	c.close()

	// Resume after s3 with Last-Event-ID (EventSource's reconnection), and
	// with ?after=.
	fs.click(t, "CLICK", "u", "while-away")
	for _, open := range []func() *sseClient{
		func() *sseClient { return fs.openSSE(t, "", "Last-Event-ID", got[2].id) },
		func() *sseClient { return fs.openSSE(t, "after="+got[2].id) },
		func() *sseClient { return fs.openSSE(t, "after=1", "Last-Event-ID", got[2].id) }, // the header wins
	} {
		r := open()
		if diff := cmp.Diff([]string{"l1", "l2", "while-away"}, keys(r.read(t, 3, 10*time.Second))); diff != "" {
			t.Errorf("resumed stream keys (-want +got):\n%s", diff)
		}
		r.close()
	}
}

func TestSSEFiltersAndRaw(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	fs.click(t, "CLICK", "ann", "a1")
	fs.click(t, "VIEW", "ann", "a2")
	fs.click(t, "CLICK", "bob", "b1")
	tests := []struct {
		q    string
		want []string
	}{
		{"event=CLICK", []string{"a1", "b1", "a3"}},
		{"from_user=ann", []string{"a1", "a2", "a3"}},
		{"from_user=bob&event=CLICK", []string{"b1", "b2"}},
	}
	var clients []*sseClient
	for _, tt := range tests {
		clients = append(clients, fs.openSSE(t, tt.q+"&access_token="+testAPI))
	}
	fs.click(t, "CLICK", "ann", "a3")
	fs.click(t, "CLICK", "bob", "b2")
	for i, tt := range tests {
		if diff := cmp.Diff(tt.want, keys(clients[i].read(t, len(tt.want), 10*time.Second))); diff != "" {
			t.Errorf("stream?%s keys (-want +got):\n%s", tt.q, diff)
		}
	}
	raw := fs.openSSE(t, "raw=1").read(t, 1, 10*time.Second)
	if !strings.Contains(raw[0].data.Raw, "<xml>") {
		t.Errorf("stream?raw=1 raw = %q, want the body", raw[0].data.Raw)
	}
	plain := fs.openSSE(t, "").read(t, 1, 10*time.Second)
	if plain[0].data.Raw != "" {
		t.Errorf("stream raw = %q, want none without raw=1", plain[0].data.Raw)
	}
}

func TestSSEHeartbeat(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{feed: feedWithHeartbeat(50 * time.Millisecond)})
	c := fs.openSSE(t, "")
	time.AfterFunc(5*time.Second, c.close)
	go c.next() // collects comments
	waitUntil(t, func() bool {
		n := 0
		for _, cm := range c.commentList() {
			if cm == "heartbeat" {
				n++
			}
		}
		return n >= 2
	}, "two heartbeats")
}

// TestSSESlowConsumer fills the buffer of a client that does not read: it
// is closed with a comment that gives the cursor to resume from, and the
// events it got are exactly those before that cursor. It then resumes.
func TestSSESlowConsumer(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{hub: stream.Options{Buffer: 8}})
	conn, body := rawSSE(t, fs, "raw=1")
	ids := saveBig(t, fs, 1500, 8192) // far more than socket buffers hold
	last := ids[len(ids)-1]
	waitUntil(t, func() bool { return fmt.Sprint(fs.hub.Cursor()) == last }, "every event is published")
	// Now read everything the server wrote before it ended the response.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	all, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("reading the slow stream: %v (%d bytes read, %d subscribers, ending %q)", err, len(all), fs.hub.Subscribers(), all[max(0, len(all)-300):])
	}
	var gotIDs []string
	var resume string
	for _, line := range strings.Split(string(all), "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			gotIDs = append(gotIDs, id)
		}
		if r, ok := strings.CutPrefix(line, ": slow consumer; resume after "); ok {
			resume = r
		}
	}
	if resume == "" || len(gotIDs) >= len(ids) {
		t.Fatalf("slow stream: %d events, resume %q; want fewer than %d, then the slow-consumer comment", len(gotIDs), resume, len(ids))
	}
	wantResume := "0" // where it started
	if len(gotIDs) > 0 {
		wantResume = gotIDs[len(gotIDs)-1]
	}
	if diff := cmp.Diff(ids[:len(gotIDs)], gotIDs, cmpopts.EquateEmpty()); diff != "" || resume != wantResume {
		t.Errorf("slow stream ids (-want +got):\n%s\nresume after %s, want the last id sent", diff, resume)
	}
	// Catch up from the store.
	rest := fs.openSSE(t, "", "Last-Event-ID", resume).read(t, len(ids)-len(gotIDs), 30*time.Second)
	var restIDs []string
	for _, e := range rest {
		restIDs = append(restIDs, e.id)
	}
	if diff := cmp.Diff(ids[len(gotIDs):], restIDs); diff != "" {
		t.Errorf("resumed ids (-want +got):\n%s", diff)
	}
}

// rawSSE opens /v1/stream on a bare TCP connection with a small receive
// buffer, reads the response header and returns the connection and the
// unread body.
func rawSSE(t *testing.T, fs *feedServer, q string) (net.Conn, io.Reader) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		// Before connect, so the window is small from the start.
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(fs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /v1/stream?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", q, testAPI)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	waitUntil(t, func() bool { return fs.hub.Subscribers() == 1 }, "the subscriber is live")
	return conn, resp.Body
}

// saveBig saves n events with raw bodies of size bytes straight into the
// store (faster than pushes), tells the hub, and returns their ids in order.
func saveBig(t testing.TB, fs *feedServer, n, size int) []string {
	t.Helper()
	pad := strings.Repeat("x", size)
	var (
		mu  sync.Mutex
		ids []int64
		wg  sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				sv, err := fs.store.SaveEvent(context.Background(), &models.NewEvent{
					DedupeKey: fmt.Sprintf("big:%d", i), Kind: "event.CLICK", MsgType: "event", Event: "CLICK",
					EventKey: fmt.Sprint(i), FromUser: "u", ToUser: "gh", Format: "xml",
					Payload: []byte(`{}`), Raw: []byte("<xml>" + pad + "</xml>"),
				})
				if err != nil {
					t.Error(err)
					return
				}
				fs.hub.Accepted(context.Background(), sv.ID, nil)
				mu.Lock()
				ids = append(ids, sv.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slicesSort(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

// TestFeedOverHTTP2: over HTTP/2 nothing is hijacked; the stream and the
// held long poll are served by the request's goroutine, with the same rules.
func TestFeedOverHTTP2(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{h2: true, feed: feedWithHeartbeat(50 * time.Millisecond)})
	fs.click(t, "CLICK", "u", "h1")
	c := fs.openSSE(t, "")
	if c.resp.ProtoMajor != 2 {
		t.Fatalf("stream over %s, want HTTP/2", c.resp.Proto)
	}
	first := c.read(t, 1, 10*time.Second)
	fs.click(t, "VIEW", "u", "h2")
	got := append(first, c.read(t, 1, 10*time.Second)...)
	if diff := cmp.Diff([]string{"h1", "h2"}, keys(got)); diff != "" {
		t.Errorf("HTTP/2 stream (-want +got):\n%s", diff)
	}
	r := fs.openSSE(t, "", "Last-Event-ID", got[0].id)
	if diff := cmp.Diff([]string{"h2"}, keys(r.read(t, 1, 10*time.Second))); diff != "" {
		t.Errorf("HTTP/2 resumed stream (-want +got):\n%s", diff)
	}
	go func() { // collects comments until the stream is closed
		for {
			if _, err := c.next(); err != nil {
				return
			}
		}
	}()
	waitUntil(t, func() bool {
		for _, cm := range c.commentList() {
			if cm == "heartbeat" {
				return true
			}
		}
		return false
	}, "a heartbeat over HTTP/2")

	held := make(chan []item, 1)
	go func() {
		_, items, _ := fs.poll(t, "wait=20&after="+got[1].id)
		held <- items
	}()
	time.Sleep(200 * time.Millisecond)
	fs.click(t, "CLICK", "u", "h3")
	select {
	case items := <-held:
		if diff := cmp.Diff([]string{"h3"}, itemKeys(items)); diff != "" {
			t.Errorf("HTTP/2 held poll (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Error("HTTP/2 held poll not released by a push")
	}
}
