package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
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
