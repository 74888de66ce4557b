package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pushgate/pushgate/stream"
)

// dialWS connects to /v1/ws?q, authenticated by the subprotocol.
func (fs *feedServer) dialWS(t testing.TB, q string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(fs.URL, "http") + "/v1/ws?" + q
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"pushgate", "bearer." + testAPI}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "pushgate" {
		t.Errorf("subprotocol = %q, want pushgate", got)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// readWS reads n messages as items.
func readWS(t testing.TB, c *websocket.Conn, n int) []item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []item
	for len(out) < n {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		var it item
		if err := json.Unmarshal(msg, &it); err != nil {
			t.Fatalf("message %q: %v", msg, err)
		}
		out = append(out, it)
	}
	return out
}

func TestWSReplayLiveAndFilterChange(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	fs.click(t, "CLICK", "u", "w1")
	fs.click(t, "VIEW", "u", "w2")
	c := fs.dialWS(t, "")
	got := readWS(t, c, 2)
	fs.click(t, "CLICK", "u", "w3")
	got = append(got, readWS(t, c, 1)...)
	if diff := cmp.Diff([]string{"w1", "w2", "w3"}, itemKeys(got)); diff != "" {
		t.Fatalf("ws keys (-want +got):\n%s", diff)
	}

	// A bad filter is answered with an error; the feed goes on.
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"status":"nope"}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"error"`) {
		t.Fatalf("answer to a bad filter = %q, %v; want an error", msg, err)
	}
	// From now on, VIEW only, from after the last event received.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"VIEW"}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	fs.click(t, "CLICK", "u", "w4")
	fs.click(t, "VIEW", "u", "w5")
	if diff := cmp.Diff([]string{"w5"}, itemKeys(readWS(t, c, 1))); diff != "" {
		t.Errorf("ws keys after the filter change (-want +got):\n%s", diff)
	}

	// Resume with ?after= and a filter in the query.
	r := fs.dialWS(t, "event=CLICK&after="+got[0].ID)
	if diff := cmp.Diff([]string{"w3", "w4"}, itemKeys(readWS(t, r, 2))); diff != "" {
		t.Errorf("resumed ws keys (-want +got):\n%s", diff)
	}
}

func TestWSAuth(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	u := "ws" + strings.TrimPrefix(fs.URL, "http") + "/v1/ws"
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		url  string
		opts websocket.DialOptions
		want int // 0: connected
	}{
		{"none", u, websocket.DialOptions{}, 401},
		{"wrong subprotocol token", u, websocket.DialOptions{Subprotocols: []string{"pushgate", "bearer.nope"}}, 401},
		{"query token", u + "?access_token=" + testAPI, websocket.DialOptions{}, 0},
		{"header token", u, websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + testAPI}}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := websocket.Dial(ctx, tt.url, &tt.opts)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.CloseNow()
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatalf("dial connected, want %d", tt.want)
			}
			if resp == nil || resp.StatusCode != tt.want {
				t.Errorf("dial = %v, %v; want status %d", resp, err, tt.want)
			}
		})
	}
}

// TestWSSlowConsumerCloseFrame: a client that does not read is closed with
// status 1013 and the cursor to resume from in the reason.
func TestWSSlowConsumerCloseFrame(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{hub: stream.Options{Buffer: 8}})
	c := fs.dialWS(t, "raw=1")
	c.SetReadLimit(1 << 20)
	waitUntil(t, func() bool { return fs.hub.Subscribers() == 1 }, "the subscriber is live")
	ids := saveBig(t, fs, 1500, 8192)
	waitUntil(t, func() bool { return fs.hub.Subscribers() == 0 }, "the slow subscriber is dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater {
				t.Fatalf("after %d messages: %v, want a close frame 1013", len(got), err)
			}
			want := "0"
			if len(got) > 0 {
				want = got[len(got)-1]
			}
			if ce.Reason != "slow consumer; resume after="+want {
				t.Errorf("close reason = %q, want the resume cursor %s", ce.Reason, want)
			}
			break
		}
		var it item
		json.Unmarshal(msg, &it)
		got = append(got, it.ID)
	}
	if len(got) >= len(ids) || cmp.Diff(ids[:len(got)], got, cmpopts.EquateEmpty()) != "" {
		t.Errorf("slow ws got %d ids, want a prefix of the %d", len(got), len(ids))
	}
}

// TestWSPingPong: the server pings an idle connection; a client that
// reads (and so answers pongs) stays, one that does not is closed.
func TestWSPingPong(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{feed: feedWithHeartbeat(300 * time.Millisecond)})
	alive := fs.dialWS(t, "")
	deaf := fs.dialWS(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := alive.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reading client after 2 s of pings: %v, want still connected", err)
	}
	_, _, err := deaf.Read(context.Background())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "no pong" {
		t.Errorf("client that did not read: %v, want closed 1008 no pong", err)
	}
}
