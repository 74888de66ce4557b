package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// TestPushEveryFixture posts every fixture, signed, over real HTTP to the
// real engine and compares what the handler received with its golden.
func TestPushEveryFixture(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pushes {
		status, answer := ts.push(t, contentType(p), p.Body)
		if status != http.StatusOK || answer != "success" {
			t.Fatalf("POST %s = %d %q, want 200 success", p.Name, status, answer)
		}
		seen := ts.rec.events()
		if len(seen) != i+1 {
			t.Fatalf("after %s the handler ran %d times, want %d", p.Name, len(seen), i+1)
		}
		e := seen[i]
		payload, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fixtures.RenderGolden(e.Kind(), events.Describe(e).DedupeKey(events.DefaultAccount, payload), payload)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "fixtures", "pushes", p.Name+".golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("handler received for %s (-golden +got):\n%s", p.Name, diff)
		}
	}
	// Every one is stored, with its raw body, and marked handled.
	eventually(t, "every push is stored and handled", func() bool {
		rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Status: models.StatusHandled, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if len(r.Raw) == 0 {
				t.Fatalf("stored %s without its raw body", r.Kind)
			}
		}
		return len(rows) == len(pushes)
	})
	if n := ts.store.ExpectedSaves(); n != 0 {
		t.Errorf("%d saves still announced after every push was stored, want 0", n)
	}
}

type badCase struct {
	Status   int    `json:"status"`
	Contains string `json:"contains"`
}

// TestRefusedPushesAreKept posts every bad fixture: each gets its status
// and message, the handler never runs, and the raw body is kept.
func TestRefusedPushesAreKept(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	raw, _ := fixtures.FS.ReadFile("bad/cases.json")
	cases := map[string]badCase{}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		body, err := fixtures.FS.ReadFile("bad/" + name)
		if err != nil {
			t.Fatal(err)
		}
		status, answer := ts.push(t, "", body)
		if status != c.Status || !strings.Contains(answer, c.Contains) {
			t.Errorf("POST bad/%s = %d %q, want %d containing %q", name, status, answer, c.Status, c.Contains)
		}
	}
	if n := ts.rec.calls.Load(); n != 0 {
		t.Errorf("handler ran %d times for refused pushes", n)
	}
	// Each push announced its save to the store's writer; a refused one
	// withdrew it (else every later commit would wait for it).
	if n := ts.store.ExpectedSaves(); n != 0 {
		t.Errorf("%d saves still announced after refused pushes, want 0", n)
	}
	status, body := ts.admin(t, "GET", "/v1/rejected?limit=500", "")
	var page struct {
		Rejected []struct {
			ID           string `json:"id"`
			Status       int    `json:"status"`
			Reason       string `json:"reason"`
			Raw          string `json:"raw"`
			RawTruncated bool   `json:"raw_truncated"`
			Query        string `json:"query"`
		} `json:"rejected"`
	}
	if status != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("GET /v1/rejected = %d %s", status, body)
	}
	if len(page.Rejected) != len(cases) {
		t.Fatalf("kept %d rejected pushes, want %d", len(page.Rejected), len(cases))
	}
	keptBodies := map[string]bool{}
	for _, r := range page.Rejected {
		// A listing carries the head as JSON text (bytes that are not UTF-8
		// turn into U+FFFD there); the raw route has the body byte for byte.
		_, whole := ts.admin(t, "GET", "/v1/rejected/"+r.ID+"/raw", "")
		r.Raw = string(whole)
		keptBodies[r.Raw] = true
		if r.Reason == "" || !strings.Contains(r.Query, "signature=") {
			t.Errorf("rejected push kept without reason or query: %+v", r)
		}
	}
	for name := range cases {
		body, _ := fixtures.FS.ReadFile("bad/" + name)
		if !keptBodies[string(body)] {
			t.Errorf("raw body of bad/%s was not kept", name)
		}
	}
}

func TestSignatureAndURLCheck(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	for _, q := range []string{"", "?signature=bad&timestamp=1&nonce=2", "?timestamp=1&nonce=2"} {
		resp, err := http.Post(ts.URL+"/wechat"+q, "text/xml", strings.NewReader(string(click)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /wechat%s = %d, want 401", q, resp.StatusCode)
		}
	}
	resp, err := http.Get(ts.signedURL("abc") + "&echostr=hello123")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello123" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /wechat = %d %q %s, want 200 hello123 text/plain", resp.StatusCode, b, resp.Header.Get("Content-Type"))
	}
	resp, _ = http.Get(ts.URL + "/wechat?signature=x&timestamp=1&nonce=2&echostr=e")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /wechat with a wrong signature = %d, want 401", resp.StatusCode)
	}
	if ts.rec.calls.Load() != 0 {
		t.Error("handler ran for an unsigned push")
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configsT) { c.BodyLimit = 1024 })
	big := "<xml><ToUserName>" + strings.Repeat("a", 2000) + "</ToUserName></xml>"
	status, answer := ts.push(t, "text/xml", []byte(big))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "limit of 1024") {
		t.Errorf("oversize push = %d %q, want 413 naming the limit", status, answer)
	}
	rows, _, err := ts.store.ListRejected(context.Background(), 10, "")
	if err != nil || len(rows) != 1 || rows[0].Status != 413 {
		t.Fatalf("rejected after 413 = %+v, %v", rows, err)
	}
}

func TestDuplicateGetsOriginalAnswerAndIsNotDispatched(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	release := make(chan struct{})
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		<-release
		return events.Text("hello " + e.Head().FromUserName), nil
	}
	body, _ := fixtures.FS.ReadFile("pushes/text.xml")
	const n = 5
	answers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, answers[i] = ts.push(t, "text/xml", body)
		}()
	}
	// Let every copy arrive while the original's handler is still running:
	// none may answer before it finishes.
	eventually(t, "every copy is counted on the original", func() bool {
		rows, _, _ := ts.store.ListEvents(context.Background(), models.EventFilter{})
		return len(rows) == 1 && rows[0].Duplicates == n-1
	})
	for i, a := range answers {
		if a != "" {
			t.Fatalf("copy %d answered %q before the original's handler finished", i, a)
		}
	}
	close(release)
	wg.Wait()
	for i, a := range answers {
		if !strings.Contains(a, "<Content><![CDATA[hello oMgHVjngRipVsoxg6TuX3vz6glDg]]></Content>") {
			t.Errorf("answer %d = %q, want the original's passive reply", i, a)
		}
	}
	if n := ts.rec.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times for one push and its retries, want 1", n)
	}
	// A later retry gets the stored reply without dispatch.
	_, again := ts.push(t, "text/xml", body)
	if again != answers[0] {
		t.Errorf("later retry answer = %q, want %q", again, answers[0])
	}
	if n := ts.rec.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times after a later retry, want 1", n)
	}
}

func TestHandlerErrorAndPanicAreRecorded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		if e.Kind() == "event.VIEW" {
			panic("view exploded")
		}
		return nil, errors.New("downstream down")
	}
	for _, name := range []string{"event.CLICK", "event.VIEW"} {
		body, _ := fixtures.FS.ReadFile("pushes/" + name + ".xml")
		if status, answer := ts.push(t, "text/xml", body); status != 200 || answer != "success" {
			t.Errorf("POST %s with a failing handler = %d %q, want 200 success (stored; replayable)", name, status, answer)
		}
	}
	errs := map[string]string{}
	eventually(t, "both events failed", func() bool {
		rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Status: models.StatusFailed})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			errs[r.Kind] = r.LastError
		}
		return len(rows) == 2
	})
	if !strings.Contains(errs["event.CLICK"], "downstream down") || !strings.Contains(errs["event.VIEW"], "view exploded") {
		t.Errorf("failed events' last_error = %v", errs)
	}
}

func TestSlowHandlerAnswersSuccessWithinBudget(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configsT) { c.ReplyBudget = 200 * time.Millisecond })
	done := make(chan struct{})
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		time.Sleep(3 * time.Second)
		close(done)
		return events.Text("too late"), nil
	}
	body, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	start := time.Now()
	status, answer := ts.push(t, "text/xml", body)
	if took := time.Since(start); status != 200 || answer != "success" || took > 2500*time.Millisecond {
		t.Errorf("slow handler: %d %q after %v, want success within the budget", status, answer, took)
	}
	<-done
	waitStatus(t, ts, models.StatusHandled)
}

func waitStatus(t *testing.T, ts *testServer, status string) {
	t.Helper()
	eventually(t, "an event reaches status "+status, func() bool {
		rows, _, _ := ts.store.ListEvents(context.Background(), models.EventFilter{Status: status})
		return len(rows) > 0
	})
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestAdminNeedsToken(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, path := range []string{"/v1/events", "/v1/rejected", "/v1/events/1"} {
		for _, auth := range []string{"", "Bearer wrong", "Basic x"} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 401 || e.Error == "" {
				t.Errorf("GET %s with %q = %d %q, want 401 with a JSON error", path, auth, resp.StatusCode, e.Error)
			}
		}
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	body, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	ts.push(t, "text/xml", body)
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Errorf("GET /healthz = %d %s", resp.StatusCode, b)
	}
	resp, _ = http.Get(ts.URL + "/metrics")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`pushgate_pushes_total{outcome="accepted"} 1`, `pushgate_push_seconds_count 1`,
		"# TYPE pushgate_store_commits_total counter", "# TYPE pushgate_store_writes_total counter"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	// The push's save was written and committed (its attempt may still wait
	// for a waited write to share a commit with).
	var commits, writes int64
	for _, line := range strings.Split(string(b), "\n") {
		fmt.Sscanf(line, "pushgate_store_commits_total %d", &commits)
		fmt.Sscanf(line, "pushgate_store_writes_total %d", &writes)
	}
	if commits < 1 || writes < commits {
		t.Errorf("store commits %d, writes %d; want at least one commit and no fewer writes", commits, writes)
	}
}

// TestMetricsGauges: a Deps gauge is read at each scrape.
func TestMetricsGauges(t *testing.T) {
	t.Parallel()
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n atomic.Int64
	srv := newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: events.NewMux(), Logger: quietLogger(),
		Gauges: []handlers.Gauge{{Name: "pushgate_test_things", Help: "Things.", Value: func() float64 { return float64(n.Load()) }}}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, v := range []int64{3, 7} {
		n.Store(v)
		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("# HELP pushgate_test_things Things.\n# TYPE pushgate_test_things gauge\npushgate_test_things %d\n", v)
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
}

func ExampleSignature() {
	fmt.Println(handlers.Signature("token", "1409304348", "xxxxxx"))
	// Output: f43b4a6571a6552356f482636e5a77e7fa33dcc9
}

// TestPanicWithoutRecoverMiddleware: the server itself survives a handler
// panic and records it, whatever middleware the Mux has.
func TestPanicWithoutRecoverMiddleware(t *testing.T) {
	t.Parallel()
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.DB.DSN = filepath.Join(t.TempDir(), "p.db")
	store, err := models.Open(context.Background(), "sqlite", cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mux := events.NewMux() // no events.Recover()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) { panic("bare panic") })
	srv := httptestServer(t, newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: quietLogger()}))
	ts := &testServer{Server: srv, store: store}
	body, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	for range 2 {
		if status, answer := ts.push(t, "text/xml", body); status != 200 || answer != "success" {
			t.Fatalf("push with a panicking handler = %d %q", status, answer)
		}
	}
	eventually(t, "the panic is recorded", func() bool {
		rows, _, _ := store.ListEvents(context.Background(), models.EventFilter{Status: models.StatusFailed})
		return len(rows) == 1 && strings.Contains(rows[0].LastError, "bare panic")
	})
}
