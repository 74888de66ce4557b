package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
)

// The tests of this file run async sync requests end to end across replica
// stops: real databases, real notify.Notifiers delivering over HTTP to an
// in-test notify_url, fake processes over HTTP, callbacks over HTTP.

// notifyReceiver is a caller's notify_url: it answers "success" and keeps the
// final answers it got.
type notifyReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newNotifyReceiver(t *testing.T) *notifyReceiver {
	t.Helper()
	r := &notifyReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		io.WriteString(w, "success")
	}))
	t.Cleanup(r.Close)
	return r
}

// answers returns the final answers received so far, decoded.
func (r *notifyReceiver) answers(t *testing.T) []SyncResponse {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SyncResponse, len(r.bodies))
	for i, b := range r.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("notification %s: %v", b, err)
		}
	}
	return out
}

// waitAnswers waits until the receiver has n answers, then a little longer to
// see that no more come, and returns them.
func (r *notifyReceiver) waitAnswers(t *testing.T, n int) []SyncResponse {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(r.answers(t)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("notify_url got %d final answers, want %d", len(r.answers(t)), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := r.answers(t)
	if len(got) != n {
		t.Errorf("notify_url got %d final answers, want exactly %d", len(got), n)
	}
	return got
}

// replica is one pushgate process: a Store, a started Notifier and a started
// Bridge, and its own HTTP callback route.
type replica struct {
	store     *models.Store
	notifier  *notify.Notifier
	bridge    *Bridge
	callbacks *httptest.Server
	stopOnce  sync.Once
}

// startReplica starts a replica on dsn; it is stopped when the test ends.
func startReplica(t *testing.T, drv, dsn string, cfg *configs.Config, opt Options) *replica {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := models.Open(ctx, drv, dsn, models.Options{})
	if err != nil {
		t.Fatalf("models.Open(%s) = %v", drv, err)
	}
	r := &replica{store: st}
	r.notifier = notify.New(st, cfg.Notify, nil, notify.Options{Logger: quiet})
	if err := r.notifier.Start(ctx); err != nil {
		st.Close()
		t.Fatalf("notifier Start = %v", err)
	}
	opt.Notifier, opt.Logger = r.notifier, quiet
	if r.bridge, err = New(st, cfg, opt); err != nil {
		r.notifier.Close()
		st.Close()
		t.Fatalf("New = %v", err)
	}
	r.callbacks = httptest.NewServer(callbackHandler(func() *Bridge { return r.bridge }))
	t.Cleanup(r.stop)
	if err := r.bridge.Start(ctx); err != nil {
		t.Fatalf("Start = %v", err)
	}
	return r
}

// stop stops the replica as a shutdown would: bridge, notifier, then store.
func (r *replica) stop() {
	r.stopOnce.Do(func() {
		r.callbacks.Close()
		r.bridge.Close()
		r.notifier.Close()
		r.store.Close()
	})
}

// callbackHandler serves POST /v1/callbacks/{id} on the Bridge current returns.
func callbackHandler(current func() *Bridge) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/callbacks/{id}", func(w http.ResponseWriter, r *http.Request) {
		b := current()
		if b == nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		switch err := b.Answer(r.Context(), r.PathValue("id"), body.Bytes()); {
		case errors.Is(err, ErrUnknownRequest):
			w.WriteHeader(http.StatusNotFound)
		case errors.Is(err, ErrAlreadyAnswered):
			w.WriteHeader(http.StatusConflict)
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	return mux
}

// balancer is the public URL in front of the replicas: it sends each callback
// to the replica set last.
type balancer struct {
	*httptest.Server
	to atomic.Pointer[Bridge]
}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	lb := &balancer{}
	lb.Server = httptest.NewServer(callbackHandler(lb.to.Load))
	t.Cleanup(lb.Close)
	return lb
}

// postCallback posts answer to request id at base (a balancer or a replica's
// callback server) and checks the 200.
func postCallback(t *testing.T, base, id, answer string) {
	t.Helper()
	resp, err := http.Post(base+"/v1/callbacks/"+id, "application/json", strings.NewReader(answer))
	if err != nil {
		t.Errorf("callback %s: %v", id, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("callback %s = HTTP %d, want 200", id, resp.StatusCode)
	}
}

// durableConfig is a configuration whose processes are proc and whose public
// URL is public.
func durableConfig(proc, public string) *configs.Config {
	cfg := testConfig(map[string]string{"42": proc})
	cfg.PublicURL = public
	return cfg
}

// startAsync sends an async sync request of n ops ("never" answered by the
// process: the test posts the callbacks) and returns the request ids of its 202.
func startAsync(t *testing.T, b *Bridge, notifyURL string, timeout time.Duration, n int) []string {
	t.Helper()
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = op(42, fmt.Sprintf(`{"param":%d,"mode":"never"}`, i))
	}
	resp, status := b.Sync(context.Background(), SyncRequest{Timeout: timeout, NotifyURL: notifyURL, Ops: ops})
	if status != http.StatusAccepted || len(resp.Ops) != n {
		t.Fatalf("Sync(async) = %d %+v, want 202 with %d ops", status, resp, n)
	}
	ids := make([]string, n)
	for i, o := range resp.Ops {
		if o.Proc != ProcProcessing || o.RequestID == "" {
			t.Fatalf("Sync(async) ops[%d] = %+v, want processing with a request id", i, o)
		}
		ids[i] = o.RequestID
	}
	return ids
}

// waitTasks waits until proc has received n tasks.
func waitTasks(t *testing.T, proc *fakeProcess, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(proc.received()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("process got %d tasks, want %d", len(proc.received()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAsyncAnswersAfterReplicaStop: the replica that took an async request
// stops after the 202, before any callback; the callbacks reach a second
// replica on the same database (on SQLite one that starts on the file after
// the first closed; on PostgreSQL one running all along), which sends the
// final answer to notify_url once, with the answers in op order.
func TestAsyncAnswersAfterReplicaStop(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		proc := newFakeProcess(t)
		lb := newBalancer(t)
		rcv := newNotifyReceiver(t)
		cfg := durableConfig(proc.URL, lb.URL)

		first := startReplica(t, drv, dsn, cfg, Options{})
		lb.to.Store(first.bridge)
		var second *replica
		if drv == models.DriverPostgres {
			second = startReplica(t, drv, dsn, cfg, Options{})
		}
		ids := startAsync(t, first.bridge, rcv.URL+"/done", 30*time.Second, 3)
		waitTasks(t, proc, 3)
		first.stop()
		if second == nil {
			second = startReplica(t, drv, dsn, cfg, Options{})
		}
		lb.to.Store(second.bridge)

		// The answers come out of order; the last one completes the request.
		for _, i := range []int{2, 0, 1} {
			postCallback(t, lb.URL, ids[i], fmt.Sprintf(`{"op":%d}`, i))
		}
		got := rcv.waitAnswers(t, 1)
		want := SyncResponse{RequestProc: ProcOK, Ops: []OpResult{
			{Proc: ProcOK, Data: json.RawMessage(`{"op":0}`), RequestID: ids[0]},
			{Proc: ProcOK, Data: json.RawMessage(`{"op":1}`), RequestID: ids[1]},
			{Proc: ProcOK, Data: json.RawMessage(`{"op":2}`), RequestID: ids[2]},
		}}
		if diff := cmp.Diff(want, got[0]); diff != "" {
			t.Errorf("final answer (-want +got):\n%s", diff)
		}
		p, err := second.store.GetPendingRequest(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if g, err := second.store.GetSyncGroup(context.Background(), p.GroupID); err != nil ||
			g.Status != models.GroupNotified || g.DeliveryID == 0 {
			t.Errorf("group after completion = %+v, %v; want notified with its delivery", g, err)
		}
	})
}

// TestAsyncDeadlinePassedWhileStopped: the only replica stops after one of two
// answers came; the deadline passes while nothing runs; the sweep of the
// replica that starts next completes the request: one final answer, the
// missing op timed out.
func TestAsyncDeadlinePassedWhileStopped(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		proc := newFakeProcess(t)
		lb := newBalancer(t)
		rcv := newNotifyReceiver(t)
		cfg := durableConfig(proc.URL, lb.URL)

		first := startReplica(t, drv, dsn, cfg, Options{})
		lb.to.Store(first.bridge)
		// Long enough for start, one answer and stop on a loaded machine.
		const timeout = 3 * time.Second
		start := time.Now()
		ids := startAsync(t, first.bridge, rcv.URL+"/late", timeout, 2)
		waitTasks(t, proc, 2)
		postCallback(t, lb.URL, ids[0], `{"early":true}`)
		first.stop()
		lb.to.Store(nil)
		if time.Since(start) >= timeout {
			t.Fatal("the replica stopped after the deadline; the test proves nothing")
		}
		time.Sleep(time.Until(start.Add(timeout + 100*time.Millisecond)))
		if n := len(rcv.answers(t)); n != 0 {
			t.Fatalf("notify_url got %d answers while no replica ran", n)
		}

		// Only the start-up sweep can complete it: the periodic one is far off.
		next := startReplica(t, drv, dsn, cfg, Options{SweepEvery: time.Hour})
		got := rcv.waitAnswers(t, 1)
		want := SyncResponse{RequestProc: ProcOK, Ops: []OpResult{
			{Proc: ProcOK, Data: json.RawMessage(`{"early":true}`), RequestID: ids[0]},
			{Proc: ProcError, Description: "Timeout for create task", RequestID: ids[1]},
		}}
		if diff := cmp.Diff(want, got[0]); diff != "" {
			t.Errorf("final answer (-want +got):\n%s", diff)
		}
		if p, err := next.store.GetPendingRequest(context.Background(), ids[1]); err != nil || p.Status != models.RequestTimedOut {
			t.Errorf("missing op after the sweep = %+v, %v; want timed_out", p, err)
		}
		// A late answer is still taken and readable, but notifies nothing more.
		lb.to.Store(next.bridge)
		postCallback(t, lb.URL, ids[1], `"late"`)
		if r, err := next.bridge.Result(context.Background(), ids[1]); err != nil || string(r.Value()) != `"late"` {
			t.Errorf("Result(late) = %+v, %v", r, err)
		}
		rcv.waitAnswers(t, 1)
	})
}

// TestAsyncReplicasRaceToComplete: two replicas on one PostgreSQL database
// race to complete the same requests: the last two answers of each request
// arrive at the same moment, one at each replica; and requests whose deadline
// passes without answers are claimed by the taking replica's timer and both
// replicas' sweeps at once. Every request is notified exactly once.
func TestAsyncReplicasRaceToComplete(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t, models.DriverPostgres)
	proc := newFakeProcess(t)
	lb := newBalancer(t)
	rcv := newNotifyReceiver(t)
	cfg := durableConfig(proc.URL, lb.URL)
	opt := Options{SweepEvery: 20 * time.Millisecond}
	replicas := []*replica{
		startReplica(t, models.DriverPostgres, dsn, cfg, opt),
		startReplica(t, models.DriverPostgres, dsn, cfg, opt),
	}
	lb.to.Store(replicas[0].bridge)

	const requests = 10
	var answered, expiring [][]string
	for i := range requests {
		answered = append(answered, startAsync(t, replicas[i%2].bridge, rcv.URL+"/answered", 30*time.Second, 2))
		expiring = append(expiring, startAsync(t, replicas[i%2].bridge, rcv.URL+"/expiring", 300*time.Millisecond, 1))
	}
	waitTasks(t, proc, 3*requests)
	var wg sync.WaitGroup
	for _, ids := range answered {
		for k, r := range replicas {
			wg.Go(func() { postCallback(t, r.callbacks.URL, ids[k], fmt.Sprintf(`{"via":%d}`, k)) })
		}
	}
	wg.Wait()

	got := rcv.waitAnswers(t, 2*requests)
	want := map[string]SyncResponse{} // by the first op's request id
	for _, ids := range answered {
		want[ids[0]] = SyncResponse{RequestProc: ProcOK, Ops: []OpResult{
			{Proc: ProcOK, Data: json.RawMessage(`{"via":0}`), RequestID: ids[0]},
			{Proc: ProcOK, Data: json.RawMessage(`{"via":1}`), RequestID: ids[1]},
		}}
	}
	for _, ids := range expiring {
		want[ids[0]] = SyncResponse{RequestProc: ProcOK, Ops: []OpResult{
			{Proc: ProcError, Description: "Timeout for create task", RequestID: ids[0]},
		}}
	}
	seen := map[string]int{}
	for _, a := range got {
		if len(a.Ops) == 0 {
			t.Errorf("final answer without ops: %+v", a)
			continue
		}
		id := a.Ops[0].RequestID
		seen[id]++
		if diff := cmp.Diff(want[id], a); diff != "" {
			t.Errorf("final answer of %s (-want +got):\n%s", id, diff)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("request %s notified %d times, want 1", id, seen[id])
		}
	}
}

// TestAwaitLastLookAtDeadline: a result that arrives without waking its
// waiter (a replica stored it, and the wake-up was lost) is still returned
// when the waiter's deadline passes, thanks to the last look.
func TestAwaitLastLookAtDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	ctx := context.Background()
	ctxT, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	deadline, _ := ctxT.Deadline()
	ch := awaitAsync(t, e.bridge, ctxT, "silent")
	time.Sleep(50 * time.Millisecond) // past the waiter's first look
	// Stored behind the hub's back: nobody is woken.
	now := time.Now()
	if _, err := e.store.SaveResult(ctx, &models.Result{
		RequestID: "silent", Source: models.SourceCallback, Data: []byte(`{"x":1}`), IsJSON: true,
		ReceivedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-ch:
		if a.err != nil || string(a.res.Value()) != `{"x":1}` {
			t.Fatalf("Await at its deadline = %+v, %v; want the stored result", a.res, a.err)
		}
		if a.at.Before(deadline) {
			t.Errorf("Await returned %v before its deadline: it was woken, the last look is not tested", deadline.Sub(a.at))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await did not return")
	}
}
