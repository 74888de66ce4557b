package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFeedAuth(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	tests := []struct {
		name, path, header string
		want               int
	}{
		{"feed without token", "/v1/feed", "", 401},
		{"stream without token", "/v1/stream", "", 401},
		{"ws without token", "/v1/ws", "", 401},
		{"feed wrong token", "/v1/feed", "Bearer nope", 401},
		{"feed wrong query token", "/v1/feed?access_token=nope", "", 401},
		{"admin token is not the api token", "/v1/feed", "Bearer " + testAdmin, 401},
		{"feed header token", "/v1/feed", "Bearer " + testAPI, 200},
		{"feed query token", "/v1/feed?access_token=" + testAPI, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", fs.URL+tt.path, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, b, tt.want)
			}
			if tt.want == 401 && !strings.Contains(string(b), `"error"`) {
				t.Errorf("GET %s body = %s, want a JSON error", tt.path, b)
			}
		})
	}
}

func TestFeedLongPollAnswersAtOnce(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	for _, k := range []string{"a", "b", "c", "d"} {
		ev := map[string]string{"a": "CLICK", "b": "VIEW", "c": "CLICK", "d": "CLICK"}[k]
		fs.click(t, ev, "u_"+k, k)
	}
	status, items, next := fs.poll(t, "limit=2&wait=30")
	if status != 200 || cmp.Diff([]string{"a", "b"}, itemKeys(items)) != "" {
		t.Fatalf("poll(limit=2) = %d %v, want 200 [a b]", status, itemKeys(items))
	}
	if next != items[1].ID {
		t.Errorf("next_cursor = %q, want the last item's id %q", next, items[1].ID)
	}
	start := time.Now()
	_, items, next2 := fs.poll(t, "after="+next+"&wait=30")
	if diff := cmp.Diff([]string{"c", "d"}, itemKeys(items)); diff != "" || time.Since(start) > 5*time.Second {
		t.Errorf("poll(after) keys (-want +got):\n%s (took %v)", diff, time.Since(start))
	}
	_, items, _ = fs.poll(t, "event=CLICK&from_user=u_c")
	if diff := cmp.Diff([]string{"c"}, itemKeys(items)); diff != "" {
		t.Errorf("poll(filters) keys (-want +got):\n%s", diff)
	}
	_, items, next3 := fs.poll(t, "after="+next2)
	if len(items) != 0 || next3 != next2 {
		t.Errorf("poll(after last, wait=0) = %v, %q; want no items and next_cursor %q", itemKeys(items), next3, next2)
	}
	for _, raw := range []struct {
		q    string
		want bool
	}{{"", false}, {"raw=1", true}} {
		_, items, _ = fs.poll(t, raw.q+"&limit=1")
		if got := strings.Contains(items[0].Raw, "<xml>"); got != raw.want {
			t.Errorf("poll(%q) raw = %q, want raw body %v", raw.q, items[0].Raw, raw.want)
		}
	}
}

func TestFeedLongPollBadQuery(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	for _, q := range []string{"after=x", "after=-1", "wait=x", "wait=9999", "limit=0", "limit=501", "status=nope", "since=yesterday", "raw=maybe"} {
		status, _, _ := fs.poll(t, q)
		if status != 400 {
			t.Errorf("poll(%q) = %d, want 400", q, status)
		}
	}
}

func TestFeedHeldLongPollReleasedByPush(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	fs.click(t, "CLICK", "u", "before")
	_, _, cursor := fs.poll(t, "")
	type answer struct {
		status int
		items  []item
		next   string
		took   time.Duration
	}
	got := make(chan answer, 1)
	go func() {
		start := time.Now()
		s, items, next := fs.poll(t, "wait=20&event=CLICK&after="+cursor)
		got <- answer{s, items, next, time.Since(start)}
	}()
	waitUntil(t, func() bool { return fs.hub.Held() == 1 }, "the long poll is held")
	fs.click(t, "VIEW", "u", "not-matching") // another kind: the poll stays held
	time.Sleep(100 * time.Millisecond)
	if n := fs.hub.Held(); n != 1 {
		t.Fatalf("held polls after a push its filter refuses = %d, want 1", n)
	}
	fs.click(t, "CLICK", "u", "release")
	a := <-got
	if a.status != 200 || cmp.Diff([]string{"release"}, itemKeys(a.items)) != "" {
		t.Fatalf("held poll = %d %v, want 200 [release]", a.status, itemKeys(a.items))
	}
	if a.took > 10*time.Second || a.next != a.items[0].ID {
		t.Errorf("held poll took %v, next_cursor %q; want well under its wait, the item's id %q", a.took, a.next, a.items[0].ID)
	}
}

func TestFeedHeldLongPollTimesOut(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	fs.click(t, "CLICK", "u", "only")
	_, _, cursor := fs.poll(t, "")
	start := time.Now()
	status, items, next := fs.poll(t, "wait=0.3&after="+cursor)
	if took := time.Since(start); status != 200 || len(items) != 0 || next != cursor || took < 250*time.Millisecond {
		t.Errorf("poll(wait=0.3) = %d %v %q after %v; want 200, no items, next_cursor %q, after the wait", status, itemKeys(items), next, took, cursor)
	}
	if n := fs.hub.Held(); n != 0 {
		t.Errorf("held polls after the timeout = %d, want 0", n)
	}
}

// TestFeedItemIsTheEventView checks that a feed item is the JSON of GET
// /v1/events/{id}, without the dispatch history.
func TestFeedItemIsTheEventView(t *testing.T) {
	t.Parallel()
	fs := newFeedServer(t, feedOpts{})
	fs.click(t, "CLICK", "u", "same")
	req, _ := http.NewRequest("GET", fs.URL+"/v1/feed?raw=1", nil)
	req.Header.Set("Authorization", "Bearer "+testAPI)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []map[string]any }
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Items) != 1 {
		t.Fatalf("feed items = %v, want 1", page.Items)
	}
	feedItem := page.Items[0]
	req, _ = http.NewRequest("GET", fs.URL+"/v1/events/"+feedItem["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var view map[string]any
	json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	delete(view, "history")
	// The handler may have run between the two reads.
	for _, k := range []string{"status", "attempts", "handled_at", "last_error"} {
		delete(view, k)
		delete(feedItem, k)
	}
	if diff := cmp.Diff(view, feedItem); diff != "" {
		t.Errorf("feed item vs GET /v1/events/{id} (-view +item):\n%s", diff)
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
