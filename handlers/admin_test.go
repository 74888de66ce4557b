package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/models"
)

type listedEvent struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	EventKey   string          `json:"event_key"`
	FromUser   string          `json:"from_user"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Duplicates int             `json:"duplicates"`
	Payload    json.RawMessage `json:"payload"`
	Raw        string          `json:"raw"`
	History    []struct {
		Replay bool   `json:"replay"`
		Error  string `json:"error"`
	} `json:"history"`
}

func (ts *testServer) list(t *testing.T, query string) ([]listedEvent, string) {
	t.Helper()
	status, body := ts.admin(t, "GET", "/v1/events?"+query, "")
	if status != 200 {
		t.Fatalf("GET /v1/events?%s = %d %s", query, status, body)
	}
	var page struct {
		Events     []listedEvent `json:"events"`
		NextCursor string        `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Events, page.NextCursor
}

func clickBody(key string, createTime int) []byte {
	return []byte(fmt.Sprintf(`<xml><ToUserName>gh_1</ToUserName><FromUserName>user_%d</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>%s</EventKey></xml>`, createTime%3, createTime, key))
}

func TestAdminListFiltersAndPages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for i := range 12 {
		ts.push(t, "text/xml", clickBody(fmt.Sprintf("k%d", i%2), 1000+i))
	}
	eventually(t, "all handled", func() bool {
		rows, _ := ts.list(t, "status=handled&limit=100")
		return len(rows) == 12
	})
	var ids []string
	cursor := ""
	for {
		rows, next := ts.list(t, "limit=5&cursor="+cursor)
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(ids) != 12 || len(seen) != 12 {
		t.Errorf("paging by 5 returned %d ids (%d distinct), want 12", len(ids), len(seen))
	}
	rows, _ := ts.list(t, "event_key=k1&from_user=user_0")
	for _, r := range rows {
		if r.EventKey != "k1" || r.FromUser != "user_0" {
			t.Errorf("filter event_key=k1&from_user=user_0 returned %+v", r)
		}
	}
	if len(rows) != 2 {
		t.Errorf("filter event_key=k1&from_user=user_0 returned %d rows, want 2", len(rows))
	}
	if rows, _ := ts.list(t, "event=CLICK&msg_type=event&to_user=gh_1"); len(rows) != 12 {
		t.Errorf("filter event=CLICK returned %d rows, want 12", len(rows))
	}
	for _, bad := range []string{"limit=501", "status=nope", "since=yesterday", "cursor=zzz"} {
		if status, body := ts.admin(t, "GET", "/v1/events?"+bad, ""); status != 400 || !strings.Contains(string(body), "error") {
			t.Errorf("GET /v1/events?%s = %d %.200s, want 400", bad, status, body)
		}
	}
	if status, _ := ts.admin(t, "GET", "/v1/events/123", ""); status != 404 {
		t.Errorf("GET unknown event = %d, want 404", status)
	}
}

func TestReplayOneAndMatching(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	fail := true
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		if fail {
			return nil, fmt.Errorf("not yet")
		}
		return events.Text("ok " + e.(*events.Click).EventKey), nil
	}
	for i := range 3 {
		ts.push(t, "text/xml", clickBody("r", 2000+i))
	}
	eventually(t, "three failed", func() bool {
		rows, _ := ts.list(t, "status=failed")
		return len(rows) == 3
	})
	fail = false
	rows, _ := ts.list(t, "status=failed")
	status, body := ts.admin(t, "POST", "/v1/events/"+rows[0].ID+"/replay", "")
	var out struct{ Status, Reply, Error string }
	if status != 200 || json.Unmarshal(body, &out) != nil || out.Status != "handled" || !strings.Contains(out.Reply, "ok r") {
		t.Fatalf("replay one = %d %s", status, body)
	}
	status, body = ts.admin(t, "GET", "/v1/events/"+rows[0].ID, "")
	var one listedEvent
	if status != 200 || json.Unmarshal(body, &one) != nil {
		t.Fatalf("GET event = %d %s", status, body)
	}
	if one.Attempts != 2 || len(one.History) != 2 || !one.History[1].Replay || one.History[0].Error == "" {
		t.Errorf("after replay: attempts %d, history %+v", one.Attempts, one.History)
	}
	status, body = ts.admin(t, "POST", "/v1/replay", `{"status":"failed"}`)
	var counts struct{ Matched, Handled, Failed int }
	if status != 200 || json.Unmarshal(body, &counts) != nil || counts.Matched != 2 || counts.Handled != 2 {
		t.Fatalf("POST /v1/replay = %d %s, want 2 matched and handled", status, body)
	}
	if left, _ := ts.list(t, "status=failed"); len(left) != 0 {
		t.Errorf("%d events still failed after bulk replay", len(left))
	}
	if n := ts.rec.calls.Load(); n != 6 {
		t.Errorf("handler calls = %d, want 3 originals + 3 replays", n)
	}
	if status, _ := ts.admin(t, "POST", "/v1/replay", `{"status":`); status != 400 {
		t.Errorf("POST /v1/replay with a broken body = %d, want 400", status)
	}
}

// TestRecoverReceived stores events the way a crash leaves them (committed,
// never handled) and checks that start-up recovery dispatches each once.
func TestRecoverReceived(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	pushes, _ := fixtures.Pushes()
	for _, p := range pushes[:5] {
		e, err := events.Decode(p.Body, events.ParseFormat(p.Format))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := events.Marshal(e)
		m := events.Describe(e)
		_, err = ts.store.SaveEvent(ctx, &models.NewEvent{DedupeKey: m.DedupeKey(events.DefaultAccount, payload), Kind: m.Kind, MsgType: m.MsgType,
			Event: m.Event, FromUser: m.FromUser, ToUser: m.ToUser, CreateTime: m.CreateTime, Format: p.Format,
			Payload: payload, Raw: p.Body})
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := ts.srv.RecoverReceived(ctx, ts.store.NewID())
	if err != nil || n != 5 {
		t.Fatalf("RecoverReceived = %d, %v; want 5", n, err)
	}
	if calls := ts.rec.calls.Load(); calls != 5 {
		t.Errorf("handler ran %d times, want 5", calls)
	}
	eventually(t, "recovered events are handled", func() bool {
		rows, _ := ts.list(t, "status=handled")
		return len(rows) == 5
	})
	if n, _ := ts.srv.RecoverReceived(ctx, ts.store.NewID()); n != 0 {
		t.Errorf("second RecoverReceived dispatched %d, want 0", n)
	}
}

// TestRecoverSkipsLivePushes: recovery while serving never dispatches a
// push whose handler is running, nor one newer than its watermark.
func TestRecoverSkipsLivePushes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	release := make(chan struct{})
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		<-release
		return nil, nil
	}
	watermark := ts.store.NewID()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.push(t, "text/xml", clickBody("live", 3000))
	}()
	eventually(t, "the push is in its handler", func() bool { return ts.rec.calls.Load() == 1 })
	if n, err := ts.srv.RecoverReceived(context.Background(), ts.store.NewID()); err != nil || n != 0 {
		t.Errorf("RecoverReceived with a push in flight = %d, %v; want 0", n, err)
	}
	close(release)
	<-done
	if n, _ := ts.srv.RecoverReceived(context.Background(), watermark); n != 0 {
		t.Errorf("RecoverReceived below an earlier watermark = %d, want 0", n)
	}
	if calls := ts.rec.calls.Load(); calls != 1 {
		t.Errorf("handler ran %d times, want 1", calls)
	}
}

// TestReplayMatchingProgress: POST /v1/replay with Accept:
// application/x-ndjson answers a line of counts after each batch of 1,000,
// then the totals; every matching event is dispatched once more, a failing
// handler counted as failed.
func TestReplayMatchingProgress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var replaying atomic.Bool
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		if replaying.Load() && e.(*events.Click).EventKey == "bad" {
			return nil, errors.New("bad key")
		}
		return nil, nil
	}
	const n = 2100 // pages of 1,000: two whole, one of 100
	for i := range n {
		key := "p"
		if i == 1500 {
			key = "bad"
		}
		ts.push(t, "text/xml", clickBody(key, 5000+i))
	}
	eventually(t, "all handled", func() bool {
		rows, _ := ts.list(t, "status=received")
		return ts.rec.calls.Load() == n && len(rows) == 0
	})
	replaying.Store(true)
	req, _ := http.NewRequest("POST", ts.URL+"/v1/replay", strings.NewReader(`{"event":"CLICK"}`))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("POST /v1/replay = %d, Content-Type %q", resp.StatusCode, ct)
	}
	type line struct{ Matched, Done, Handled, Failed, Busy int }
	var got []line
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, l)
	}
	want := []line{{n, 1000, 1000, 0, 0}, {n, 2000, 1999, 1, 0}, {n, n, n - 1, 1, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("progress lines = %+v, want %+v", got, want)
	}
	if calls := ts.rec.calls.Load(); calls != 2*n {
		t.Errorf("handler calls = %d, want %d", calls, 2*n)
	}
}
