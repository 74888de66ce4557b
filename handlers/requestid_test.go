package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: every push gets an id (a sane X-Request-Id kept, else a
// new one), echoed in the answer, given to its handler, in its log lines
// and stored with its event.
func TestRequestID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var logs syncBuffer
	logger := slog.New(events.LogHandler(slog.NewTextHandler(&logs, nil)))
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		logger.InfoContext(ctx, "in the handler", "key", e.(*events.Click).EventKey)
		return nil, nil
	}
	for i, c := range []struct {
		name, header string
		keep         bool
	}{
		{"sane kept", "req-42_a.b:c", true},
		{"absent made", "", false},
		{"spaces replaced", "has space", false},
		{"too long replaced", strings.Repeat("a", 129), false},
		{"longest kept", strings.Repeat("b", 128), true},
		{"non-ASCII replaced", "id-é", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "RID-" + string(rune('A'+i))
			req, _ := http.NewRequest("POST", ts.signedURL(freshNonce()), bytes.NewReader(clickBody(key, 1700000000+i)))
			req.Header.Set("Content-Type", "text/xml")
			if c.header != "" {
				req.Header.Set(handlers.HeaderRequestID, c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get(handlers.HeaderRequestID)
			if c.keep && got != c.header {
				t.Errorf("Got(X-Request-Id) = %q, want %q kept", got, c.header)
			}
			if !c.keep && !generatedID.MatchString(got) {
				t.Errorf("Got(X-Request-Id) = %q, want 32 hex digits made for %q", got, c.header)
			}
			list, _ := ts.list(t, "event_key="+key)
			if len(list) != 1 {
				t.Fatalf("events with key %s: %d, want 1", key, len(list))
			}
			status, body := ts.admin(t, "GET", "/v1/events/"+list[0].ID, "")
			var ev struct {
				HTTPRequestID string `json:"http_request_id"`
			}
			if err := json.Unmarshal(body, &ev); status != 200 || err != nil {
				t.Fatalf("GET /v1/events/%s = %d %s", list[0].ID, status, body)
			}
			if ev.HTTPRequestID != got {
				t.Errorf("Got(stored http_request_id) = %q, want %q", ev.HTTPRequestID, got)
			}
			if want := "key=" + key + " http_request_id=" + got; !strings.Contains(logs.String(), want) {
				t.Errorf("the handler's log line lacks %q:\n%s", want, logs.String())
			}
		})
	}
	// Other routes get one too.
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(handlers.HeaderRequestID); !generatedID.MatchString(got) {
		t.Errorf("GET /healthz: Got(X-Request-Id) = %q, want one made", got)
	}
}

// TestRequestIDOnRefusals: a refused push's stored row keeps the id its
// refusal echoed, in GET /v1/rejected and GET /v1/rejected/{id}.
func TestRequestIDOnRefusals(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, c := range []struct {
		name, header string
		keep         bool
	}{
		{"sane kept", "refused-1", true},
		{"absent made", "", false},
		{"insane replaced", "not sane!", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.signedURL(freshNonce()), strings.NewReader("<xml><ToUserName>gh_1</ToUserName><broken"))
			req.Header.Set("Content-Type", "text/xml")
			if c.header != "" {
				req.Header.Set(handlers.HeaderRequestID, c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get(handlers.HeaderRequestID)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("a malformed push = %d, want 400", resp.StatusCode)
			}
			if c.keep && got != c.header || !c.keep && !generatedID.MatchString(got) {
				t.Fatalf("Got(X-Request-Id of the refusal) = %q, want %q kept or 32 hex digits made", got, c.header)
			}
			kept := ts.refusalsKept(t)
			if len(kept) == 0 || kept[0].HTTPRequestID != got {
				t.Fatalf("newest of GET /v1/rejected: %+v, want http_request_id %q", kept, got)
			}
			status, body := ts.admin(t, "GET", "/v1/rejected/"+kept[0].ID, "")
			var one keptRefusal
			if err := json.Unmarshal(body, &one); status != 200 || err != nil || one.HTTPRequestID != got {
				t.Errorf("GET /v1/rejected/%s = %d %.300s; want http_request_id %q", kept[0].ID, status, body, got)
			}
		})
	}
}

// infoObserver keeps the context an Observer is told of a push with.
type infoObserver struct {
	mu   sync.Mutex
	ctxs map[int64]context.Context
}

func (o *infoObserver) Accepted(ctx context.Context, id int64, _ events.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ctxs[id] = ctx
}

// TestObserverContext: an observer is told of a push with a context that
// carries the push's events.Info (its id, account and request id) and does
// not end when the request does.
func TestObserverContext(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	obs := &infoObserver{ctxs: map[int64]context.Context{}}
	srv := newServer(t, handlers.Deps{Config: ts.cfg, Store: ts.store, Mux: events.NewMux(), Logger: quietLogger(), Observers: []handlers.Observer{obs}})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	req, _ := http.NewRequest("POST", hs.URL+strings.TrimPrefix(ts.signedURL(freshNonce()), ts.URL), bytes.NewReader(clickBody("OBS-1", 1700000001)))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set(handlers.HeaderRequestID, "observed-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /wechat = %d", resp.StatusCode)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.ctxs) != 1 {
		t.Fatalf("observer told of %d pushes, want 1", len(obs.ctxs))
	}
	for id, ctx := range obs.ctxs {
		info, ok := events.InfoFrom(ctx)
		want := events.Info{ID: id, Account: "default", Attempt: 1, HTTPRequestID: "observed-1", ReceivedAt: info.ReceivedAt}
		if !ok || info != want || info.ReceivedAt.IsZero() {
			t.Errorf("Got(InfoFrom(the observer's context)) = %+v, %v; want %+v", info, ok, want)
		}
		if err := ctx.Err(); err != nil {
			t.Errorf("the observer's context ended with the request: %v", err)
		}
	}
}
