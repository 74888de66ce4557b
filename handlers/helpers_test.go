package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

const (
	testToken = "wechat-test-token"
	testAdmin = "admin-test-token"
)

// recorder is a handler that remembers what it received.
type recorder struct {
	mu    sync.Mutex
	seen  []events.Event
	calls atomic.Int64
	// handle, when set, decides the answer.
	handle func(ctx context.Context, e events.Event) (events.Reply, error)
}

func (r *recorder) Handle(ctx context.Context, e events.Event) (events.Reply, error) {
	r.calls.Add(1)
	r.mu.Lock()
	r.seen = append(r.seen, e)
	h := r.handle
	r.mu.Unlock()
	if h != nil {
		return h(ctx, e)
	}
	return nil, nil
}

func (r *recorder) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.seen...)
}

type testServer struct {
	*httptest.Server
	srv   *handlers.Server
	store *models.Store
	rec   *recorder
	cfg   *configs.Config
}

// newTestServer serves the real gin engine over loopback, on a real SQLite
// file, with a recorder for every kind.
func newTestServer(t testing.TB, tune ...func(*configs.Config)) *testServer {
	t.Helper()
	return newTestServerAt(t, filepath.Join(t.TempDir(), "pushgate.db"), tune...)
}

func newTestServerAt(t testing.TB, dsn string, tune ...func(*configs.Config)) *testServer {
	t.Helper()
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken = testAdmin
	cfg.DB.DSN = dsn
	cfg.ReplyBudget = 2 * time.Second
	for _, f := range tune {
		f(cfg)
	}
	return serveConfig(t, cfg, nil)
}

// serveConfig serves a Server configured by cfg, with its own Store, its
// clock now (nil: time.Now) and a recorder for every kind.
func serveConfig(t testing.TB, cfg *configs.Config, now func() time.Time) *testServer {
	t.Helper()
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rec := &recorder{}
	mux := events.NewMux()
	mux.Use(events.Recover())
	mux.Fallback(rec)
	srv := newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: quietLogger(), Now: now})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, store: store, rec: rec, cfg: cfg}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// signedURL is /wechat with a valid signature.
func (ts *testServer) signedURL(nonce string) string {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}}
	return ts.URL + "/wechat?" + q.Encode()
}

// freshNonce returns a nonce no other push of the test binary uses: a
// signed URL carries one push only.
func freshNonce() string { return "n" + strconv.FormatInt(nonces.Add(1), 10) }

// push posts a signed body and returns status and answer.
func (ts *testServer) push(t testing.TB, contentType string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(ts.signedURL(freshNonce()), contentType, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// admin calls an admin route.
func (ts *testServer) admin(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func contentType(p fixtures.Push) string {
	if p.Format == "json" {
		return "application/json"
	}
	return "text/xml"
}

type configsT = configs.Config

func httptestServer(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// newServer is handlers.New, failing the test on its error.
func newServer(t testing.TB, d handlers.Deps) *handlers.Server {
	t.Helper()
	srv, err := handlers.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}
