package ui_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
	"github.com/pushgate/pushgate/stream"
	"github.com/pushgate/pushgate/ui"
)

const (
	adminToken  = "admin-ui-token"
	apiToken    = "api-ui-token"
	wechatToken = "wechat-ui-token"
)

// env is a real pushgate on loopback wired as the binary wires it (store on
// a SQLite file, the feed hub, a notifier whose subscriber always fails, the
// deliveries and feed routes) with the inspector mounted.
type env struct {
	*httptest.Server
	store      *models.Store
	dispatched atomic.Int64
}

func newEnv(t testing.TB, dev bool, tune ...func(*ui.Options)) *env {
	t.Helper()
	e := &env{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "subscriber down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(sink.Close)
	cfg := configs.Default()
	cfg.WeChat.Token = wechatToken
	cfg.AdminToken = adminToken
	cfg.APIToken = apiToken
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	cfg.Notify.URLs = []string{sink.URL}
	cfg.Notify.Schedule = []time.Duration{20 * time.Millisecond} // one retry, then dead
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, err := models.Open(ctx, cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	n := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log})
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	hub := stream.New(store, stream.Options{Logger: log})
	if err := hub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)

	mux := events.NewMux()
	mux.Use(events.Recover())
	mux.Fallback(events.HandlerFunc(func(ctx context.Context, ev events.Event) (events.Reply, error) {
		e.dispatched.Add(1)
		if h := ev.Head(); strings.Contains(h.FromUserName, "fails") {
			return nil, errors.New("handler refused " + h.FromUserName)
		}
		return nil, nil
	}))
	uiOpts := ui.Options{AdminToken: adminToken, APIToken: apiToken, Dev: dev, WeChatToken: wechatToken, Logger: log}
	for _, f := range tune {
		f(&uiOpts)
	}
	srv, err := handlers.New(handlers.Deps{
		Config: cfg, Store: store, Mux: mux, Logger: log,
		Observers: []handlers.Observer{n, hub},
		Features: []handlers.Feature{
			handlers.Deliveries{Store: store, Notifier: n, Logger: log},
			handlers.Feed{Hub: hub, Token: cfg.APIToken, Heartbeat: time.Second, Logger: log},
			ui.New(uiOpts),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Server = httptest.NewServer(srv)
	t.Cleanup(e.Server.Close)
	// End the feeds' streams before the server waits for its connections.
	t.Cleanup(hub.Close)
	return e
}

// push posts a signed body to /wechat and returns the status.
func (e *env) push(t testing.TB, contentType, body string) int {
	t.Helper()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(wechatToken, stamp, nonce)}}
	resp, err := http.Post(e.URL+"/wechat?"+q.Encode(), contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// click is a CLICK push; from and key are put in as given (escaped for XML).
func click(createTime int64, from, key string) string {
	esc := func(s string) string {
		return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	}
	return "<xml><ToUserName><![CDATA[gh_inspector]]></ToUserName><FromUserName>" + esc(from) +
		"</FromUserName><CreateTime>" + strconv.FormatInt(createTime, 10) +
		"</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey>" + esc(key) + "</EventKey></xml>"
}

// client is a browser-like HTTP client: a cookie jar, no redirects followed.
func client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]+)">`)

// login logs c in and returns the session's CSRF token from the page.
func (e *env) login(t testing.TB, c *http.Client) string {
	t.Helper()
	resp, err := c.PostForm(e.URL+"/ui/login", url.Values{"token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /ui/login = %d, want 303", resp.StatusCode)
	}
	status, body := e.get(t, c, "/ui/")
	m := csrfMeta.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("GET /ui/ after login = %d without a CSRF token: %.300s", status, body)
	}
	return m[1]
}

func (e *env) get(t testing.TB, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(e.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func modelsFilter() models.EventFilter { return models.EventFilter{} }

// waitSettled waits until the event's first dispatch is recorded (its
// outcome rides along with a later commit).
func (e *env) waitSettled(t testing.TB, id string) {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ev, err := e.store.GetEvent(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != models.StatusReceived {
			return
		}
	}
	t.Fatalf("event %s still received after 10 s", id)
}

// The inspector is mounted as a feature of the server.
var _ handlers.Feature = (*ui.Inspector)(nil)
