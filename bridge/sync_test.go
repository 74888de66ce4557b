package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// fakeProcess is an asynchronous process: it takes a task, answers 200, and
// later (or never) posts its answer to the task's __callback_url. The task's
// "mode" says how: "answer" (default) posts {"echo": <param>} after
// "delay_ms"; "before" posts before answering the task; "never" does not;
// "fail" answers the task with HTTP 500.
type fakeProcess struct {
	*httptest.Server
	mu      sync.Mutex
	tasks   []map[string]any
	parents []string // the traceparent of each task's POST
}

func newFakeProcess(t *testing.T) *fakeProcess {
	t.Helper()
	p := &fakeProcess{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var task map[string]any
		if err := json.NewDecoder(r.Body).Decode(&task); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.tasks = append(p.tasks, task)
		p.parents = append(p.parents, r.Header.Get("traceparent"))
		p.mu.Unlock()
		cb, _ := task["__callback_url"].(string)
		answer, _ := json.Marshal(map[string]any{"echo": task["param"]})
		delay, _ := task["delay_ms"].(float64)
		post := func() {
			time.Sleep(time.Duration(delay) * time.Millisecond)
			resp, err := http.Post(cb, "application/json", bytes.NewReader(answer))
			if err != nil {
				t.Errorf("fake process: callback: %v", err)
				return
			}
			resp.Body.Close()
		}
		switch task["mode"] {
		case "never":
		case "fail":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "before":
			post()
		default:
			go post()
		}
		w.Write([]byte(`{"request_proc":"ok","ops":[{"proc":"ok","obj":"task","obj_id":"5d1b6ee5f6c37653b9904f7d"}]}`))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *fakeProcess) received() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.tasks...)
}

// recordingNotifier is a Notifier that keeps what it was given.
type recordingNotifier struct {
	mu    sync.Mutex
	calls []notification
	got   chan struct{}
}

type notification struct {
	url, kind string
	body      []byte
}

func (n *recordingNotifier) NotifyURL(_ context.Context, url, kind string, body []byte) (int64, error) {
	n.mu.Lock()
	n.calls = append(n.calls, notification{url, kind, body})
	n.mu.Unlock()
	n.got <- struct{}{}
	return 1, nil
}

// syncEnv is a Bridge whose callback URLs reach it over HTTP, and a fake process.
type syncEnv struct {
	env
	proc *fakeProcess
}

func newSyncEnv(t *testing.T, drv string, tune func(*configs.Config), opt Options) syncEnv {
	t.Helper()
	proc := newFakeProcess(t)
	var b *Bridge
	callbacks := httptest.NewServer(callbackHandler(func() *Bridge { return b }))
	t.Cleanup(callbacks.Close)
	cfg := testConfig(map[string]string{"42": proc.URL, "43": proc.URL + "/other", "7": "http://127.0.0.1:1/refused"})
	cfg.PublicURL = callbacks.URL
	if tune != nil {
		tune(cfg)
	}
	e := newEnv(t, drv, testDSN(t, drv), cfg, opt)
	b = e.bridge
	return syncEnv{e, proc}
}

func op(conv any, data string) Op {
	c, _ := json.Marshal(conv)
	var o Op
	if err := o.decode([]byte(`{"type":"create","obj":"task","conv_id":` + string(c) + `,"data":` + data + `}`)); err != nil {
		panic(err)
	}
	return o
}

func TestSyncAnswered(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		e := newSyncEnv(t, drv, nil, Options{})
		ctx := context.Background()
		resp, status := e.bridge.Sync(ctx, SyncRequest{Timeout: 5 * time.Second, Ops: []Op{
			op(42, `{"param":"a","delay_ms":60}`),
			op("43", `{"param":"b","mode":"before"}`),
			op(42, `{"param":{"nested":[1,2]},"delay_ms":5}`),
		}})
		want := SyncResponse{RequestProc: "ok", Ops: []OpResult{
			{Proc: "ok", Data: json.RawMessage(`{"echo":"a"}`)},
			{Proc: "ok", Data: json.RawMessage(`{"echo":"b"}`)},
			{Proc: "ok", Data: json.RawMessage(`{"echo":{"nested":[1,2]}}`)},
		}}
		if status != http.StatusOK {
			t.Fatalf("Sync = %d %+v, want 200", status, resp)
		}
		if diff := cmp.Diff(want, resp); diff != "" {
			t.Errorf("Sync (-want +got):\n%s", diff)
		}
		tasks := e.proc.received()
		if len(tasks) != 3 {
			t.Fatalf("process got %d tasks, want 3", len(tasks))
		}
		for _, task := range tasks {
			cb, _ := task["__callback_url"].(string)
			id := cb[strings.LastIndexByte(cb, '/')+1:]
			if len(id) < 26 {
				t.Errorf("callback id %q: want at least 128 random bits", id)
			}
			// The answer is readable by request id; a second answer is refused.
			if r, err := e.bridge.Result(ctx, id); err != nil || r.Source != models.SourceCallback {
				t.Errorf("Result(%s) = %+v, %v", id, r, err)
			}
			if err := e.bridge.Answer(ctx, id, []byte(`{}`)); !errors.Is(err, ErrAlreadyAnswered) {
				t.Errorf("second Answer = %v, want ErrAlreadyAnswered", err)
			}
		}
		if err := e.bridge.Answer(ctx, "unknown", []byte(`{}`)); !errors.Is(err, ErrUnknownRequest) {
			t.Errorf("Answer(unknown) = %v, want ErrUnknownRequest", err)
		}
	})
}

func TestSyncTimeouts(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t, models.DriverSQLite, func(c *configs.Config) { c.Sync.DefaultTimeout = 200 * time.Millisecond }, Options{})
	ctx := context.Background()

	// With a timeout: the late op is an error, the others are answered.
	start := time.Now()
	resp, status := e.bridge.Sync(ctx, SyncRequest{Timeout: 300 * time.Millisecond, Ops: []Op{
		op(42, `{"param":1}`), op(42, `{"mode":"never"}`),
	}})
	want := SyncResponse{RequestProc: "ok", Ops: []OpResult{
		{Proc: "ok", Data: json.RawMessage(`{"echo":1}`)},
		{Proc: "error", Description: "Timeout for create task"},
	}}
	if status != http.StatusOK || !cmp.Equal(want, resp) {
		t.Errorf("Sync(timeout) = %d %+v, want 200 %+v", status, resp, want)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("Sync(timeout 300ms) took %v", d)
	}

	// Without one: 504 once the default passes.
	resp, status = e.bridge.Sync(ctx, SyncRequest{Ops: []Op{op(42, `{"mode":"never"}`)}})
	if status != http.StatusGatewayTimeout || resp.Error == "" {
		t.Errorf("Sync(no timeout, no answer) = %d %+v, want 504", status, resp)
	}

	// A late answer is still stored, readable by its id.
	tasks := e.proc.received()
	cb := tasks[len(tasks)-1]["__callback_url"].(string)
	id := cb[strings.LastIndexByte(cb, '/')+1:]
	if err := e.bridge.Answer(ctx, id, []byte(`"late"`)); err != nil {
		t.Fatalf("late Answer = %v", err)
	}
	if r, err := e.bridge.Result(ctx, id); err != nil || string(r.Value()) != `"late"` {
		t.Errorf("Result(late) = %+v, %v", r, err)
	}
}

func TestSyncProcessFailures(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t, models.DriverSQLite, nil, Options{})
	resp, status := e.bridge.Sync(context.Background(), SyncRequest{Timeout: 2 * time.Second, Ops: []Op{
		op(7, `{}`), op(42, `{"mode":"fail"}`), op(42, `{"param":true}`),
	}})
	if status != http.StatusOK || len(resp.Ops) != 3 {
		t.Fatalf("Sync = %d %+v", status, resp)
	}
	for i, wantDesc := range []string{"unreachable", "HTTP 500", ""} {
		got := resp.Ops[i]
		if wantDesc == "" {
			if got.Proc != "ok" {
				t.Errorf("ops[%d] = %+v, want ok", i, got)
			}
			continue
		}
		if got.Proc != "error" || !strings.Contains(got.Description, wantDesc) || strings.Contains(got.Description, "127.0.0.1:1/refused") {
			t.Errorf("ops[%d] = %+v, want an error about %q that hides the URL", i, got, wantDesc)
		}
	}
}

func TestSyncAsync(t *testing.T) {
	t.Parallel()
	n := &recordingNotifier{got: make(chan struct{}, 1)}
	e := newSyncEnv(t, models.DriverSQLite, nil, Options{Notifier: n})
	resp, status := e.bridge.Sync(context.Background(), SyncRequest{
		Timeout: 300 * time.Millisecond, NotifyURL: "https://caller.example/done",
		Ops: []Op{op(42, `{"param":1,"delay_ms":20}`), op(42, `{"mode":"never"}`)},
	})
	if status != http.StatusAccepted || len(resp.Ops) != 2 || resp.Ops[0].Proc != "processing" || resp.Ops[0].RequestID == "" {
		t.Fatalf("Sync(async) = %d %+v", status, resp)
	}
	select {
	case <-n.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	var final SyncResponse
	if err := json.Unmarshal(n.calls[0].body, &final); err != nil {
		t.Fatal(err)
	}
	want := SyncResponse{RequestProc: "ok", Ops: []OpResult{
		{Proc: "ok", Data: json.RawMessage(`{"echo":1}`), RequestID: resp.Ops[0].RequestID},
		{Proc: "error", Description: "Timeout for create task", RequestID: resp.Ops[1].RequestID},
	}}
	if diff := cmp.Diff(want, final); diff != "" || n.calls[0].url != "https://caller.example/done" || n.calls[0].kind != NotifyKind {
		t.Errorf("notification %s %s (-want +got):\n%s", n.calls[0].url, n.calls[0].kind, diff)
	}
	if r, err := e.bridge.Result(context.Background(), resp.Ops[0].RequestID); err != nil || string(r.Value()) != `{"echo":1}` {
		t.Errorf("Result(op 0) = %+v, %v", r, err)
	}
}

func TestSyncInvalid(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t, models.DriverSQLite, nil, Options{MaxOps: 2})
	tests := []struct {
		name string
		req  SyncRequest
		want string
	}{
		{"no ops", SyncRequest{}, "at least one"},
		{"too many ops", SyncRequest{Ops: []Op{op(42, `{}`), op(42, `{}`), op(42, `{}`)}}, "at most 2"},
		{"unknown conv", SyncRequest{Ops: []Op{op(99, `{}`)}}, "no process"},
		{"bad type", SyncRequest{Ops: []Op{{Type: "modify", Obj: "task", ConvID: "42", Data: json.RawMessage(`{}`)}}}, `"create"`},
		{"bad obj", SyncRequest{Ops: []Op{{Type: "create", Obj: "conv", ConvID: "42", Data: json.RawMessage(`{}`)}}}, `"task"`},
		{"data not object", SyncRequest{Ops: []Op{op(42, `[1]`)}}, "object"},
		{"timeout too long", SyncRequest{Timeout: time.Hour, Ops: []Op{op(42, `{}`)}}, "exceed"},
		{"async without notifier", SyncRequest{NotifyURL: "http://x/y", Ops: []Op{op(42, `{}`)}}, "notifications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, status := e.bridge.Sync(context.Background(), tt.req)
			if status != http.StatusBadRequest || !strings.Contains(resp.Error, tt.want) {
				t.Errorf("Sync = %d %q, want 400 mentioning %q", status, resp.Error, tt.want)
			}
		})
	}
	if got := e.proc.received(); len(got) != 0 {
		t.Errorf("invalid requests reached the process: %v", got)
	}
}

func TestDecodeSyncRequest(t *testing.T) {
	t.Parallel()
	good := `{"timeout": 30, "ops": [{"conv_id": 42, "type": "create", "obj": "task", "data": {"param": 1}},
		{"conv_id": "043", "type": "create", "obj": "task", "data": {}, "ref": "r"}], "notify_url": "http://n/x"}`
	got, err := DecodeSyncRequest([]byte(good))
	if err != nil {
		t.Fatalf("DecodeSyncRequest(seed 001 body) = %v", err)
	}
	want := SyncRequest{Timeout: 30 * time.Second, NotifyURL: "http://n/x", Ops: []Op{
		{Type: "create", Obj: "task", ConvID: "42", Data: json.RawMessage(`{"param": 1}`)},
		{Type: "create", Obj: "task", ConvID: "43", Data: json.RawMessage(`{}`)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeSyncRequest (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		``, `[]`, `{"ops": {}}`, `{"timeout": 0, "ops": []}`, `{"timeout": -1, "ops": []}`,
		`{"timeout": "30", "ops": []}`, `{"ops": [{"conv_id": 4.5}]}`, `{"ops": [{"conv_id": "x"}]}`,
		`{"ops": [{"conv_id": -1}]}`, `{"ops": [{}]}`, `{"ops": [{"conv_id": 1, "type": 5}]}`, `{"ops": [1]}`,
	} {
		if _, err := DecodeSyncRequest([]byte(bad)); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("DecodeSyncRequest(%s) = %v, want ErrInvalidRequest", bad, err)
		}
	}
}
