package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/stream"
)

const testAPI = "api-test-token"

// feedServer is a real server on loopback with the feeds wired as the
// binary wires them: the hub observes accepted pushes and serves the routes.
type feedServer struct {
	*httptest.Server
	store  *models.Store
	hub    *stream.Hub
	client *http.Client
}

type feedOpts struct {
	driver, dsn string
	hub         stream.Options
	feed        handlers.Feed
	h2          bool // serve HTTP/2 over TLS: nothing is hijacked
}

func newFeedServer(t testing.TB, o feedOpts) *feedServer {
	t.Helper()
	if o.driver == "" {
		o.driver = "sqlite"
	}
	if o.dsn == "" {
		o.dsn = filepath.Join(t.TempDir(), "feed.db")
	}
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken = testAdmin
	cfg.APIToken = testAPI
	cfg.DB.Driver, cfg.DB.DSN = o.driver, o.dsn
	store, err := models.Open(context.Background(), o.driver, o.dsn, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if o.hub.Logger == nil {
		o.hub.Logger = quietLogger()
	}
	hub := stream.New(store, o.hub)
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	f := o.feed
	f.Hub, f.Token, f.Logger = hub, testAPI, quietLogger()
	mux := events.NewMux()
	srv, err := handlers.New(handlers.Deps{
		Config: cfg, Store: store, Mux: mux, Logger: quietLogger(),
		Observers: []handlers.Observer{hub},
		Features:  []handlers.Feature{f},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	if o.h2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return &feedServer{Server: ts, store: store, hub: hub, client: ts.Client()}
}

// pushURL is /wechat signed with the current time and a fresh nonce: a
// signed URL carries one push only (a second body under the same timestamp
// and nonce is refused, 401), so every push takes its own.
func (fs *feedServer) pushURL() string {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := freshNonce()
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}}
	return fs.URL + "/wechat?" + q.Encode()
}

// click posts a signed CLICK push from user from with key, and returns the
// stored event's id (read back through the admin API).
func (fs *feedServer) click(t testing.TB, event, from, key string) {
	t.Helper()
	body := fmt.Sprintf(`<xml><ToUserName>gh_feed</ToUserName><FromUserName>%s</FromUserName><CreateTime>1408090502</CreateTime><MsgType>event</MsgType><Event>%s</Event><EventKey>%s</EventKey></xml>`, from, event, key)
	resp, err := fs.client.Post(fs.pushURL(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push %s %s: %d %s", event, key, resp.StatusCode, b)
	}
}

// item is the part of a feed item the tests look at.
type item struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Event    string `json:"event"`
	EventKey string `json:"event_key"`
	FromUser string `json:"from_user"`
	Raw      string `json:"raw"`
}

// poll calls GET /v1/feed with query q and decodes the answer.
func (fs *feedServer) poll(t testing.TB, q string) (int, []item, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fs.URL+"/v1/feed?"+q, nil)
	req.Header.Set("Authorization", "Bearer "+testAPI)
	resp, err := fs.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Items      []item `json:"items"`
		NextCursor string `json:"next_cursor"`
		Error      string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatalf("GET /v1/feed?%s: %d %q: %v", q, resp.StatusCode, b, err)
	}
	return resp.StatusCode, page.Items, page.NextCursor
}

// sseEvent is one event of a text/event-stream.
type sseEvent struct {
	id, event string
	data      item
}

// sseClient reads a /v1/stream response.
type sseClient struct {
	resp     *http.Response
	r        *bufio.Reader
	mu       sync.Mutex
	comments []string
}

// openSSE connects to /v1/stream?q with the headers given (name, value...).
func (fs *feedServer) openSSE(t testing.TB, q string, headers ...string) *sseClient {
	t.Helper()
	req, _ := http.NewRequest("GET", fs.URL+"/v1/stream?"+q, nil)
	req.Header.Set("Authorization", "Bearer "+testAPI)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := fs.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/stream?%s = %d %s %q", q, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	c := &sseClient{resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.resp.Body.Close() }

// next returns the next event (comments are kept in c.comments), or an
// error when the stream ends.
func (c *sseClient) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.id != "" || ev.event != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			c.mu.Lock()
			c.comments = append(c.comments, strings.TrimSpace(line[1:]))
			c.mu.Unlock()
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
				return ev, fmt.Errorf("data %q: %w", line, err)
			}
		}
	}
}

// read returns the next n events, failing the test after timeout.
func (c *sseClient) read(t testing.TB, n int, timeout time.Duration) []sseEvent {
	t.Helper()
	timer := time.AfterFunc(timeout, c.close)
	defer timer.Stop()
	var out []sseEvent
	for len(out) < n {
		ev, err := c.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

func (c *sseClient) commentList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.comments...)
}

// keys returns the event keys of evs.
func keys(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.data.EventKey)
	}
	return out
}

func itemKeys(items []item) []string {
	var out []string
	for _, e := range items {
		out = append(out, e.EventKey)
	}
	return out
}

func slicesSort(ids []int64) { slices.Sort(ids) }

// feedWithHeartbeat is a Feed whose heartbeat is d.
func feedWithHeartbeat(d time.Duration) handlers.Feed { return handlers.Feed{Heartbeat: d} }
