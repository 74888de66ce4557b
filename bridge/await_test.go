package bridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// asyncPush returns seed 000's push for request id.
func asyncPush(id, api, data string) *events.AsyncAPIResult {
	return &events.AsyncAPIResult{
		Header: events.Header{
			ToUserName: "gh_3fe144c9bded", FromUserName: "oG1Ug5fdiwJi2GZ1BzTHo3JS3dQo",
			CreateTime: 1603439487, MsgType: "event", Event: "servicemarket_async_api_result",
		},
		Api: api, Data: data, RequestID: id, Service: "wx10427c80e0ae4c1d",
	}
}

// awaitAsync runs Await in a goroutine once the waiter is registered.
func awaitAsync(t *testing.T, b *Bridge, ctx context.Context, id string) <-chan awaited {
	t.Helper()
	before := b.hub.waiting()
	ch := make(chan awaited, 1)
	go func() {
		r, err := b.Await(ctx, id)
		ch <- awaited{r, err, time.Now()}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for b.hub.waiting() == before {
		if time.Now().After(deadline) {
			t.Fatalf("Await(%q) never registered", id)
		}
		time.Sleep(time.Millisecond)
	}
	return ch
}

type awaited struct {
	res *Result
	err error
	at  time.Time
}

func TestAwaitWokenByPush(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		e := newEnv(t, drv, testDSN(t, drv), testConfig(nil), Options{})
		ch := awaitAsync(t, e.bridge, context.Background(), "req-1")
		start := time.Now()
		e.bridge.Accepted(context.Background(), 1, asyncPush("req-1", "api_name", `{"result":"hello world"}`))
		got := <-ch
		if got.err != nil {
			t.Fatalf("Await = %v", got.err)
		}
		// Woken by the push itself (nothing polls): the bound only catches a
		// gross delay, not scheduling noise on a loaded machine.
		if d := got.at.Sub(start); d > 5*time.Second {
			t.Errorf("Await woke %v after the push, want at once", d)
		}
		if string(got.res.Value()) != `{"result":"hello world"}` || got.res.Api != "api_name" || got.res.Source != models.SourceServiceMarket {
			t.Errorf("Await = %+v", got.res)
		}
		if n := e.bridge.hub.waiting(); n != 0 {
			t.Errorf("%d waiters left in the hub", n)
		}
		// The result is durable: readable by a fresh look-up once committed.
		waitFor(t, func() bool { _, err := e.store.GetResult(context.Background(), "req-1"); return err == nil }, "the stored result")
		if r, err := e.bridge.Await(context.Background(), "req-1"); err != nil || r.RequestID != "req-1" {
			t.Errorf("Await(existing) = %v, %v", r, err)
		}
	})
}

func TestAwaitEndsWithContextOrClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.bridge.Await(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Await past deadline = %v, want DeadlineExceeded", err)
	}
	if n := e.bridge.hub.waiting(); n != 0 {
		t.Errorf("%d waiters left after timeout", n)
	}
	ch := awaitAsync(t, e.bridge, context.Background(), "never")
	e.bridge.Close()
	if got := <-ch; !errors.Is(got.err, ErrClosed) {
		t.Errorf("Await across Close = %v, want ErrClosed", got.err)
	}
}

func TestResultExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	cfg := testConfig(nil)
	cfg.Results.PerAPI = map[string]time.Duration{"short": time.Hour}
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), cfg, Options{Now: clk.Now})
	ctx := context.Background()
	if _, err := e.bridge.Result(ctx, "a"); !errors.Is(err, ErrPending) {
		t.Fatalf("Result before the push = %v, want ErrPending", err)
	}
	e.bridge.Accepted(ctx, 1, asyncPush("a", "api_name", "not json"))
	e.bridge.Accepted(ctx, 2, asyncPush("b", "short", `[1]`))
	waitFor(t, func() bool { _, err := e.store.GetResult(ctx, "b"); return err == nil }, "the results")
	r, err := e.bridge.Result(ctx, "a")
	if err != nil || string(r.Value()) != `"not json"` || !r.ExpiresAt.Equal(clk.Now().Add(24*time.Hour)) {
		t.Fatalf("Result(a) = %+v, %v", r, err)
	}
	clk.Add(time.Hour)
	if _, err := e.bridge.Result(ctx, "b"); !errors.Is(err, ErrExpired) {
		t.Errorf("Result(b) after its 1h validity = %v, want ErrExpired", err)
	}
	if _, err := e.bridge.Await(ctx, "b"); !errors.Is(err, ErrExpired) {
		t.Errorf("Await(b) after its validity = %v, want ErrExpired", err)
	}
	if _, err := e.bridge.Result(ctx, "a"); err != nil {
		t.Errorf("Result(a) within 24h = %v", err)
	}
	clk.Add(23 * time.Hour)
	if _, err := e.bridge.Result(ctx, "a"); !errors.Is(err, ErrExpired) {
		t.Errorf("Result(a) after 24h = %v, want ErrExpired", err)
	}
	if n, err := e.bridge.Prune(ctx); err != nil || n != 2 {
		t.Errorf("Prune = %d, %v; want 2", n, err)
	}
}

// A push committed whose result was never stored (a crash in between) is
// served from the stored push, and the result is stored then.
func TestResultRebuiltFromPush(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		clk := newClock()
		e := newEnv(t, drv, testDSN(t, drv), testConfig(nil), Options{Now: clk.Now})
		ctx := context.Background()
		push := asyncPush("lost", "api_name", `{"x":1}`)
		payload, err := events.Marshal(push)
		if err != nil {
			t.Fatal(err)
		}
		m := events.Describe(push)
		_, err = e.store.SaveEvent(ctx, &models.NewEvent{
			DedupeKey: m.DedupeKey(events.DefaultAccount, payload), Kind: m.Kind, MsgType: m.MsgType, Event: m.Event,
			RequestID: m.RequestID, Format: "json", Payload: payload,
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.bridge.Await(ctx, "lost")
		if err != nil || string(r.Value()) != `{"x":1}` || !r.ExpiresAt.Equal(clk.Now().Add(24*time.Hour)) {
			t.Fatalf("Await(lost) = %+v, %v", r, err)
		}
		if _, err := e.store.GetResult(ctx, "lost"); err != nil {
			t.Errorf("rebuilt result not stored: %v", err)
		}
		clk.Add(25 * time.Hour)
		e.bridge.Prune(ctx)
		if _, err := e.bridge.Result(ctx, "lost"); !errors.Is(err, ErrExpired) {
			t.Errorf("Result after expiry and pruning = %v, want ErrExpired", err)
		}
	})
}

// Two replicas on one PostgreSQL database: a waiter on A is woken when the
// push lands on B, and a sync request waiting on A is answered through B.
func TestCrossReplicaWake(t *testing.T) {
	t.Parallel()
	dsn := testPostgresDSN(t)
	a := newEnv(t, models.DriverPostgres, dsn, testConfig(nil), Options{})
	b := newEnv(t, models.DriverPostgres, dsn, testConfig(nil), Options{})
	ch := awaitAsync(t, a.bridge, context.Background(), "cross")
	start := time.Now()
	b.bridge.Accepted(context.Background(), 1, asyncPush("cross", "api_name", `{"from":"b"}`))
	select {
	case got := <-ch:
		if got.err != nil || string(got.res.Value()) != `{"from":"b"}` {
			t.Fatalf("Await on A = %+v, %v", got.res, got.err)
		}
		t.Logf("woken on A %v after the push on B", got.at.Sub(start))
		if d := got.at.Sub(start); d > time.Second {
			t.Errorf("woken after %v, want < 1s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter on A not woken within 5 s of the push on B")
	}

	// A callback answered on B wakes A's waiter too.
	p := &models.PendingRequest{ID: "cb-cross", ConvID: "1", Deadline: time.Now().Add(time.Minute), ResultValidity: time.Hour}
	if err := a.store.CreatePendingRequest(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	ch = awaitAsync(t, a.bridge, context.Background(), "cb-cross")
	start = time.Now()
	if err := b.bridge.Answer(context.Background(), "cb-cross", []byte(`{"ok":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if got.err != nil || string(got.res.Value()) != `{"ok":1}` || got.at.Sub(start) > time.Second {
			t.Fatalf("Await on A = %+v, %v after %v", got.res, got.err, got.at.Sub(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter on A not woken within 5 s of the callback on B")
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
