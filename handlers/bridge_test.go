package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/internal/proctest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema set-up

	"github.com/pushgate/pushgate/bridge"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

const bridgeAPIToken = "api-test-token"

// bridgeServer is pushgate's gin engine with the results and sync features,
// served over loopback, and an in-test asynchronous process.
type bridgeServer struct {
	*httptest.Server
	store  *models.Store
	bridge *bridge.Bridge
	proc   *httptest.Server
	// redirect, when set, replaces this server's URL in callback URLs: the
	// process then answers through another replica.
	redirect string
}

// newBridgeServer opens a Store on drv/dsn and serves pushgate with the
// bridge features. now is the bridge's clock (nil: time.Now).
func newBridgeServer(t testing.TB, drv, dsn string, now func() time.Time, tune func(*configs.Config)) *bridgeServer {
	t.Helper()
	bs := &bridgeServer{}
	var engine http.Handler
	bs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		engine.ServeHTTP(w, r)
	}))
	t.Cleanup(bs.Close)
	bs.proc = httptest.NewServer(http.HandlerFunc(bs.process))
	t.Cleanup(bs.proc.Close)

	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.APIToken = bridgeAPIToken
	cfg.PublicURL = bs.URL
	cfg.DB.Driver, cfg.DB.DSN = drv, dsn
	cfg.Sync.Targets = map[string]string{"42": bs.proc.URL, "7": "http://127.0.0.1:1/"}
	if tune != nil {
		tune(cfg)
	}
	ctx := context.Background()
	st, err := models.Open(ctx, drv, dsn, models.Options{Now: now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	br, err := bridge.New(st, cfg, bridge.Options{Now: now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		br.Close()
		st.Close()
	})
	bs.store, bs.bridge = st, br
	engine = newServer(t, handlers.Deps{
		Config: cfg, Store: st, Mux: events.NewMux(), Logger: quietLogger(),
		Features: []handlers.Feature{
			handlers.Results{Bridge: br, MaxWait: cfg.Results.MaxWait},
			handlers.Sync{Bridge: br},
		},
		Observers: []handlers.Observer{br},
	})
	return bs
}

// process is the fake asynchronous process. It answers the task at once and
// posts {"echo": param} to __callback_url after delay_ms, unless mode is
// "never".
func (bs *bridgeServer) process(w http.ResponseWriter, r *http.Request) {
	var task map[string]any
	if err := json.NewDecoder(r.Body).Decode(&task); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Write([]byte(`{"request_proc":"ok","ops":[{"proc":"ok","obj":"task"}]}`))
	if task["mode"] == "never" {
		return
	}
	cb, _ := task["__callback_url"].(string)
	if bs.redirect != "" {
		cb = bs.redirect + strings.TrimPrefix(cb, bs.URL)
	}
	delay, _ := task["delay_ms"].(float64)
	answer, _ := json.Marshal(map[string]any{"echo": task["param"]})
	go func() {
		time.Sleep(time.Duration(delay) * time.Millisecond)
		if resp, err := http.Post(cb, "application/json", bytes.NewReader(answer)); err == nil {
			resp.Body.Close()
		}
	}()
}

// call sends an API request with the bearer token (token "" sends none).
func (bs *bridgeServer) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, bs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pushResult posts a signed seed 000 push to /wechat.
func (bs *bridgeServer) pushResult(t *testing.T, requestID, data string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"ToUserName": "gh_3fe144c9bded", "FromUserName": "oG1Ug5fdiwJi2GZ1BzTHo3JS3dQo",
		"CreateTime": 1603439487, "MsgType": "event", "Event": "servicemarket_async_api_result",
		"Api": "api_name", "Data": data, "RequestID": requestID, "Service": "wx10427c80e0ae4c1d",
	})
	stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}}
	resp, err := http.Post(bs.URL+"/wechat?"+q.Encode(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "success" {
		t.Fatalf("push: %d %s", resp.StatusCode, b)
	}
}

// bridgeJSONEq fails unless got and want are equal JSON documents.
func bridgeJSONEq(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s: not JSON: %s", what, got)
		return
	}
	json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

type bridgeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *bridgeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *bridgeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestResultsHTTP(t *testing.T) {
	t.Parallel()
	clk := &bridgeClock{t: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), clk.Now, nil)

	for _, tok := range []string{"", "wrong-token"} {
		if code, _ := bs.call(t, "GET", "/v1/results/x", tok, ""); code != http.StatusUnauthorized {
			t.Errorf("GET /v1/results with token %q = %d, want 401", tok, code)
		}
	}
	for _, q := range []string{"-1", "abc", "301", "NaN"} {
		if code, body := bs.call(t, "GET", "/v1/results/x?timeout="+q, bridgeAPIToken, ""); code != http.StatusBadRequest {
			t.Errorf("timeout=%s: %d %s, want 400", q, code, body)
		}
	}
	code, body := bs.call(t, "GET", "/v1/results/x", bridgeAPIToken, "")
	if code != http.StatusAccepted {
		t.Errorf("GET unknown = %d, want 202", code)
	}
	bridgeJSONEq(t, "pending body", body, `{"status":"pending"}`)
	start := time.Now()
	if code, _ := bs.call(t, "GET", "/v1/results/x?timeout=0.2", bridgeAPIToken, ""); code != http.StatusAccepted {
		t.Errorf("GET unknown with timeout = %d, want 202", code)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("GET ?timeout=0.2 took %v", d)
	}

	// A long poll released by the push itself.
	type answer struct {
		code int
		body string
		at   time.Time
	}
	polled := make(chan answer, 1)
	go func() {
		code, body := bs.call(t, "GET", "/v1/results/MLy?timeout=10", bridgeAPIToken, "")
		polled <- answer{code, body, time.Now()}
	}()
	bridgeWaitFor(t, func() bool { return bs.bridge.Waiting() == 1 }, "the long poll to wait")
	pushed := time.Now()
	bs.pushResult(t, "MLy", `{"result":"hello world"}`)
	got := <-polled
	if got.code != http.StatusOK || got.at.Sub(pushed) > time.Second {
		t.Fatalf("long poll = %d %s after %v", got.code, got.body, got.at.Sub(pushed))
	}
	bridgeJSONEq(t, "result", got.body, `{"request_id":"MLy","source":"servicemarket","api":"api_name",
		"service":"wx10427c80e0ae4c1d","data":{"result":"hello world"},
		"received_at":"2024-05-01T10:00:00Z","expires_at":"2024-05-02T10:00:00Z"}`)

	bs.pushResult(t, "plain", `not json`)
	_, body = bs.call(t, "GET", "/v1/results/plain", bridgeAPIToken, "")
	var view struct{ Data any }
	if json.Unmarshal([]byte(body), &view); view.Data != "not json" {
		t.Errorf("non-JSON data served as %s", body)
	}

	clk.Add(24 * time.Hour)
	code, body = bs.call(t, "GET", "/v1/results/MLy?timeout=1", bridgeAPIToken, "")
	if code != http.StatusGone {
		t.Errorf("GET after 24h = %d %s, want 410", code, body)
	}
}

func TestSyncHTTP(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil,
		func(c *configs.Config) { c.Sync.DefaultTimeout = 300 * time.Millisecond })

	// Seed 001's body, answered by the process through its callback URL.
	code, body := bs.call(t, "POST", "/v1/sync", bridgeAPIToken, `{"timeout": 5, "ops": [
		{"conv_id": 42, "type": "create", "obj": "task", "data": {"param": {"info": "a"}, "delay_ms": 50}},
		{"conv_id": "42", "type": "create", "obj": "task", "data": {"param": 2}}]}`)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/sync = %d %s", code, body)
	}
	bridgeJSONEq(t, "sync answer", body, `{"request_proc":"ok","ops":[
		{"proc":"ok","data":{"echo":{"info":"a"}}},{"proc":"ok","data":{"echo":2}}]}`)

	// timeout given and passed.
	start := time.Now()
	code, body = bs.call(t, "POST", "/v1/sync", bridgeAPIToken,
		`{"timeout": 1, "ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {"mode": "never"}}]}`)
	if code != http.StatusOK || time.Since(start) < time.Second {
		t.Errorf("sync with timeout 1 = %d after %v", code, time.Since(start))
	}
	bridgeJSONEq(t, "timeout answer", body, `{"request_proc":"ok","ops":[{"proc":"error","description":"Timeout for create task"}]}`)

	// No timeout: 504 once the default (300 ms here, 60 s by default) passes.
	code, body = bs.call(t, "POST", "/v1/sync", bridgeAPIToken,
		`{"ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {"mode": "never"}}]}`)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, `"error"`) {
		t.Errorf("sync without timeout = %d %s, want 504", code, body)
	}

	// An unreachable process: that op is an error.
	code, body = bs.call(t, "POST", "/v1/sync", bridgeAPIToken,
		`{"timeout": 5, "ops": [{"conv_id": 7, "type": "create", "obj": "task", "data": {}}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"proc":"error"`) || !strings.Contains(body, "unreachable") {
		t.Errorf("sync to an unreachable process = %d %s", code, body)
	}

	for _, bad := range []string{
		`{"ops": [{"conv_id": 99, "type": "create", "obj": "task", "data": {}}]}`,
		`{"ops": []}`,
		`{"ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": [1]}]}`,
		`{"timeout": 301, "ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {}}]}`,
		`{"ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {}}], "notify_url": "http://x/"}`,
		`{"ops": [`, `not json`,
	} {
		code, body := bs.call(t, "POST", "/v1/sync", bridgeAPIToken, bad)
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e); code != http.StatusBadRequest || e.Error == "" {
			t.Errorf("POST /v1/sync %s = %d %s, want 400 with a JSON error", bad, code, body)
		}
	}
	big := `{"ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {"x": "` + strings.Repeat("a", 1<<20) + `"}}]}`
	if code, _ := bs.call(t, "POST", "/v1/sync", bridgeAPIToken, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /v1/sync over 1 MiB = %d, want 413", code)
	}
	if code, _ := bs.call(t, "POST", "/v1/sync", "", `{}`); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/sync without token = %d, want 401", code)
	}
}

func TestCallbackHTTP(t *testing.T) {
	t.Parallel()
	bs := newBridgeServer(t, models.DriverSQLite, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	if code, body := bs.call(t, "POST", "/v1/callbacks/nope", "", `{}`); code != http.StatusNotFound {
		t.Errorf("callback to an unknown id = %d %s, want 404", code, body)
	}
	// A pending request, as Sync makes it; the callback route needs no token.
	p := &models.PendingRequest{ID: "cb-1", ConvID: "42", Deadline: time.Now().Add(time.Minute), ResultValidity: time.Hour}
	if err := bs.store.CreatePendingRequest(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if code, body := bs.call(t, "POST", "/v1/callbacks/cb-1", "", `{"info":{"param_1":"value_1"}}`); code != http.StatusOK {
		t.Fatalf("callback = %d %s, want 200", code, body)
	}
	if code, _ := bs.call(t, "POST", "/v1/callbacks/cb-1", "", `{"again":true}`); code != http.StatusConflict {
		t.Errorf("second callback = %d, want 409", code)
	}
	code, body := bs.call(t, "GET", "/v1/results/cb-1", bridgeAPIToken, "")
	if code != http.StatusOK || !strings.Contains(body, `"data":{"info":{"param_1":"value_1"}}`) || !strings.Contains(body, `"source":"callback"`) {
		t.Errorf("GET /v1/results/cb-1 = %d %s", code, body)
	}
}

// Two replicas on one PostgreSQL schema: a long poll on A is released by a
// push on B, and a sync request on A is answered through B's callback route.
func TestBridgeHTTPAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := bridgePostgresDSN(t)
	a := newBridgeServer(t, models.DriverPostgres, dsn, nil, nil)
	b := newBridgeServer(t, models.DriverPostgres, dsn, nil, nil)

	polled := make(chan int, 1)
	go func() {
		code, _ := a.call(t, "GET", "/v1/results/cross?timeout=10", bridgeAPIToken, "")
		polled <- code
	}()
	bridgeWaitFor(t, func() bool { return a.bridge.Waiting() == 1 }, "the long poll on A")
	start := time.Now()
	b.pushResult(t, "cross", `{"from":"b"}`)
	if code := <-polled; code != http.StatusOK || time.Since(start) > time.Second {
		t.Errorf("long poll on A = %d after %v, want 200 within 1 s", code, time.Since(start))
	}

	a.redirect = b.URL // the process answers through B
	code, body := a.call(t, "POST", "/v1/sync", bridgeAPIToken,
		`{"timeout": 5, "ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {"param": "via b"}}]}`)
	if code != http.StatusOK {
		t.Fatalf("sync on A = %d %s", code, body)
	}
	bridgeJSONEq(t, "sync on A answered on B", body, `{"request_proc":"ok","ops":[{"proc":"ok","data":{"echo":"via b"}}]}`)
}

// bridgePostgresDSN gives the test its own PostgreSQL schema (see internal/pgtest).
func bridgePostgresDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// bridgeWaitFor polls cond for up to 10 s.
func bridgeWaitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Environment of the long-poll client process of BenchmarkLongPollHTTP.
const (
	longPollEnvURL = "PUSHGATE_BENCH_LONGPOLL_URL"
	longPollEnvN   = "PUSHGATE_BENCH_LONGPOLL_N"
)

// BenchmarkLongPollHTTP holds 10,000 concurrent HTTP long polls
// (GET /v1/results/{id}?timeout=120) on pushgate's gin engine over loopback,
// then releases them by signed pushes to /wechat. The polls come from a child
// process (this test binary running TestBridgeLongPollClient), so the RSS
// growth reported is the server's alone: per held poll, its connection (taken
// from net/http: no goroutine, no net/http buffers) and the held wait
// (Bridge.AwaitFunc), plus what taking 10,000 requests at once left behind
// (the Go heap and stacks grown meanwhile are not returned to the OS at
// once). Wake latency runs from the start of a push's POST to its poll's
// answer read by the client. Run it once: -benchtime=1x.
func BenchmarkLongPollHTTP(b *testing.B) {
	const n = 10_000
	raiseNoFile(b, n+1024) // the server end of each poll; the client ends are in the child
	for b.Loop() {
		longPollRound(b, n)
	}
}

func longPollRound(b *testing.B, n int) {
	dir := b.TempDir()
	bs := newBridgeServer(b, models.DriverSQLite, filepath.Join(dir, "p.db"), nil, nil)
	runtime.GC()
	debug.FreeOSMemory()
	before := proctest.RSS(b)

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestBridgeLongPollClient$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), longPollEnvURL+"="+bs.URL, longPollEnvN+"="+strconv.Itoa(n))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for bs.bridge.Waiting() < n {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b.Fatalf("only %d of %d long polls held after 2 min; client said:\n%s", bs.bridge.Waiting(), n, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	held := proctest.RSS(b)
	// What the held polls cost once the burst of taking them is over: the
	// memory the runtime grew to accept 10,000 requests at once (stacks of
	// their goroutines, buffers) is free but not yet returned to the OS.
	runtime.GC()
	debug.FreeOSMemory()
	settled := proctest.RSS(b)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.Logf("%d polls held: RSS +%.1f MiB, +%.1f MiB once settled; goroutines %d, their stacks %.1f MiB, heap in use %.1f MiB",
		n, float64(held-before)/(1<<20), float64(settled-before)/(1<<20), runtime.NumGoroutine(), float64(m.StackInuse)/(1<<20), float64(m.HeapInuse)/(1<<20))

	pushedAt := make([]int64, n)
	var next atomic.Int64
	var pushers sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for range 32 {
		pushers.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body, _ := json.Marshal(map[string]any{
					"ToUserName": "gh_3fe144c9bded", "FromUserName": "oG1Ug5fdiwJi2GZ1BzTHo3JS3dQo",
					"CreateTime": 1603439487, "MsgType": "event", "Event": "servicemarket_async_api_result",
					"Api": "api_name", "Data": `{"result":"hello world"}`, "RequestID": fmt.Sprintf("lp-%06d", i),
					"Service": "wx10427c80e0ae4c1d",
				})
				stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
				q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}}
				atomic.StoreInt64(&pushedAt[i], time.Now().UnixNano())
				resp, err := client.Post(bs.URL+"/wechat?"+q.Encode(), "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	pushers.Wait()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("long-poll client: %v\n%s", err, out.String())
	}
	lat := make([]time.Duration, 0, n)
	for _, line := range strings.Split(out.String(), "\n") {
		var i, at, code int64
		if _, err := fmt.Sscanf(line, "polled %d %d %d", &i, &at, &code); err != nil {
			continue
		}
		if code != http.StatusOK {
			b.Fatalf("poll %d answered %d", i, code)
		}
		lat = append(lat, time.Duration(at-atomic.LoadInt64(&pushedAt[i])))
	}
	if len(lat) != n {
		b.Fatalf("%d of %d polls reported; client said:\n%.2000s", len(lat), n, out.String())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(held-before)/(1<<20), "MiB-rss-growth")
	b.ReportMetric(float64(settled-before)/(1<<20), "MiB-rss-settled")
	b.ReportMetric(float64(lat[n*99/100])/1e6, "p99-wake-ms")
	b.ReportMetric(float64(lat[n/2])/1e6, "p50-wake-ms")
}

// TestBridgeLongPollClient is the client process of BenchmarkLongPollHTTP;
// it does nothing unless started by it.
func TestBridgeLongPollClient(t *testing.T) {
	base := os.Getenv(longPollEnvURL)
	if base == "" {
		t.Skip("the long-poll client of BenchmarkLongPollHTTP")
	}
	n, _ := strconv.Atoi(os.Getenv(longPollEnvN))
	raiseNoFile(t, uint64(n+1024))
	dials := make(chan struct{}, 64) // limits connection set-up, not polls held
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: n,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials <- struct{}{}
			defer func() { <-dials }()
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	at := make([]int64, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/results/lp-%06d?timeout=120", base, i), nil)
			req.Header.Set("Authorization", "Bearer "+bridgeAPIToken)
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("poll %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			at[i], codes[i] = time.Now().UnixNano(), resp.StatusCode
		})
	}
	wg.Wait()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "polled %d %d %d\n", i, at[i], codes[i])
	}
	os.Stdout.WriteString(sb.String())
}

// raiseNoFile lifts RLIMIT_NOFILE to at least n open files, or skips.
func raiseNoFile(tb testing.TB, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skipf("needs %d open files: setrlimit: %v", n, err)
	}
}
