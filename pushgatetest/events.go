package pushgatetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Event is a stored event as the admin API shows it.
type Event struct {
	ID string `json:"id"`
	// Account is the configured account that received it ("default", or
	// the name given WithAccount).
	Account string `json:"account"`
	// AuthorizerAppID is the authorized account an Open Platform account
	// received it for (Request.Authorizer); "" otherwise.
	AuthorizerAppID string    `json:"authorizer_appid"`
	Kind            string    `json:"kind"`
	EventKey        string    `json:"event_key"`
	FromUser        string    `json:"from_user"`
	ToUser          string    `json:"to_user"`
	MsgID           string    `json:"msg_id"`
	Status          string    `json:"status"` // received, handled or failed
	Attempts        int       `json:"attempts"`
	Duplicates      int       `json:"duplicates"`
	ReceivedAt      time.Time `json:"received_at"`
	LastError       string    `json:"last_error"`
	// Reply is the stored passive reply (XML, or JSON for a JSON push);
	// Events gives its first 1 KiB only, Event all of it.
	Reply string `json:"reply"`
	// History holds the attempts, filled by Server.Event only.
	History []Attempt `json:"history"`
}

// Attempt is one dispatch of an event to its handler.
type Attempt struct {
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error"` // "" for success
	Replay     bool      `json:"replay"`
}

// Events returns the stored events, newest first.
func (s *Server) Events(t T) []Event {
	t.Helper()
	var all []Event
	q := url.Values{"limit": {"500"}}
	for {
		var page struct {
			Events     []Event `json:"events"`
			NextCursor string  `json:"next_cursor"`
		}
		s.admin(t, "/v1/events?"+q.Encode(), &page)
		all = append(all, page.Events...)
		if page.NextCursor == "" {
			return all
		}
		q.Set("cursor", page.NextCursor)
	}
}

// Event returns the stored event id with its attempts.
func (s *Server) Event(t T, id string) Event {
	t.Helper()
	var e Event
	s.admin(t, "/v1/events/"+url.PathEscape(id), &e)
	return e
}

// Attempts returns the dispatches of event id, oldest first.
func (s *Server) Attempts(t T, id string) []Attempt {
	t.Helper()
	return s.Event(t, id).History
}

// WaitHandled waits until at least n events are stored and each is done
// with (handled or failed: no longer received), and returns the events,
// newest first. It fails the test after 10 seconds.
func (s *Server) WaitHandled(t T, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := s.Events(t)
		done := len(evs) >= n
		for _, e := range evs {
			if e.Status == "received" {
				done = false
			}
		}
		if done {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushgatetest: WaitHandled(%d): after 10s, %d events stored: %+v", n, len(evs), evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// admin GETs an admin route and decodes its JSON answer into out.
func (s *Server) admin(t T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatalf("pushgatetest: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Config.AdminToken)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("pushgatetest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pushgatetest: GET %s = %d %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("pushgatetest: GET %s: %v", path, fmt.Errorf("decoding %q: %w", raw, err))
	}
}
