package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/models"
)

// heldCall is what AwaitFunc handed its done, and when.
type heldCall struct {
	res *Result
	err error
	at  time.Time
}

// awaitFunc calls AwaitFunc, which must hold the wait, with a done that
// reports on the returned channel and fails the test if called twice.
func awaitFunc(t *testing.T, b *Bridge, id string, timeout time.Duration) (<-chan heldCall, func() bool) {
	t.Helper()
	ch := make(chan heldCall, 2)
	var calls atomic.Int32
	r, stop, err := b.AwaitFunc(id, timeout, func(r *Result, err error) {
		if calls.Add(1) > 1 {
			t.Errorf("AwaitFunc(%q) called done twice", id)
		}
		ch <- heldCall{r, err, time.Now()}
	})
	if !errors.Is(err, ErrPending) || stop == nil {
		t.Fatalf("AwaitFunc(%q) = %+v, stop %v, %v; want it held (ErrPending)", id, r, stop != nil, err)
	}
	return ch, stop
}

// awaitFuncAtOnce calls AwaitFunc, which must settle at once: by its
// answer, or, when a wake-up for the same id raced its look (a late
// PostgreSQL notification of an earlier test step), by done, called at
// once with what the look found. Never both.
func awaitFuncAtOnce(t *testing.T, b *Bridge, id string) (*Result, error) {
	t.Helper()
	ch := make(chan heldCall, 2)
	var answered atomic.Bool
	r, stop, err := b.AwaitFunc(id, time.Minute, func(r *Result, err error) {
		if answered.Load() {
			t.Errorf("AwaitFunc(%q) settled at once, then called done(%+v, %v)", id, r, err)
		}
		ch <- heldCall{r, err, time.Now()}
	})
	if errors.Is(err, ErrPending) && stop != nil {
		select {
		case got := <-ch: // the wake-up's done answered
			return got.res, got.err
		case <-time.After(time.Second):
			t.Fatalf("AwaitFunc(%q) = %v, and no done within 1 s; want it settled at once", id, err)
		}
	}
	answered.Store(true)
	select {
	case got := <-ch:
		t.Errorf("AwaitFunc(%q) settled at once, then called done(%+v, %v)", id, got.res, got.err)
	default:
	}
	if stop != nil {
		t.Fatalf("AwaitFunc(%q) = %v with a stop; want it settled at once", id, err)
	}
	return r, err
}

// heldResult waits up to 5 s for done's call.
func heldResult(t *testing.T, ch <-chan heldCall, what string) heldCall {
	t.Helper()
	select {
	case got := <-ch:
		return got
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: done not called within 5 s", what)
		return heldCall{}
	}
}

// heldLeftNothing fails if a wait is still counted or registered.
func heldLeftNothing(t *testing.T, b *Bridge) {
	t.Helper()
	waitFor(t, func() bool { return b.Waiting() == 0 && b.hub.waiting() == 0 }, "no waits left")
}

func TestAwaitFuncWokenByPush(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		e := newEnv(t, drv, testDSN(t, drv), testConfig(nil), Options{})
		ch, stop := awaitFunc(t, e.bridge, "req-1", time.Minute)
		if n := e.bridge.Waiting(); n != 1 {
			t.Errorf("Waiting() with one held wait = %d, want 1", n)
		}
		start := time.Now()
		e.bridge.Accepted(context.Background(), 1, asyncPush("req-1", "api_name", `{"result":"hello world"}`))
		got := heldResult(t, ch, "AwaitFunc across a push")
		if got.err != nil || string(got.res.Value()) != `{"result":"hello world"}` || got.res.Api != "api_name" {
			t.Fatalf("AwaitFunc = %+v, %v", got.res, got.err)
		}
		// Woken by the push itself: the bound only catches a gross delay.
		if d := got.at.Sub(start); d > 5*time.Second {
			t.Errorf("done called %v after the push, want at once", d)
		}
		heldLeftNothing(t, e.bridge)
		if stop() {
			t.Error("stop() after done = true, want false")
		}

		// A result there already is returned at once; nothing is held.
		waitFor(t, func() bool { _, err := e.store.GetResult(context.Background(), "req-1"); return err == nil }, "the stored result")
		if r, err := awaitFuncAtOnce(t, e.bridge, "req-1"); err != nil || r.RequestID != "req-1" {
			t.Errorf("AwaitFunc(stored) = %+v, %v", r, err)
		}
		heldLeftNothing(t, e.bridge)
	})
}

func TestAwaitFuncTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	start := time.Now()
	ch, _ := awaitFunc(t, e.bridge, "never", 50*time.Millisecond)
	got := heldResult(t, ch, "AwaitFunc with a timeout")
	if !errors.Is(got.err, ErrPending) || got.res != nil {
		t.Errorf("AwaitFunc past its timeout = %+v, %v; want ErrPending", got.res, got.err)
	}
	if d := got.at.Sub(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("AwaitFunc(50ms) ended after %v", d)
	}
	heldLeftNothing(t, e.bridge)

	// A result stored without a wake (as if the wake were lost) is found by
	// the last look at the timeout, not reported pending.
	// The timeout leaves the save ample time to commit first, even on a
	// loaded machine (under load a 100 ms timeout fired before it did).
	ch, _ = awaitFunc(t, e.bridge, "quiet", 2*time.Second)
	now := time.Now()
	if _, err := e.store.SaveResult(context.Background(), &models.Result{
		RequestID: "quiet", Source: models.SourceServiceMarket, Api: "api_name", Data: []byte(`1`), IsJSON: true,
		ReceivedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if got := heldResult(t, ch, "AwaitFunc with a lost wake"); got.err != nil || string(got.res.Value()) != `1` {
		t.Errorf("AwaitFunc with a lost wake = %+v, %v; want the result", got.res, got.err)
	}
	heldLeftNothing(t, e.bridge)
}

func TestAwaitFuncExpired(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{Now: clk.Now})
	e.bridge.Accepted(context.Background(), 1, asyncPush("old", "api_name", `1`))
	waitFor(t, func() bool { _, err := e.store.GetResult(context.Background(), "old"); return err == nil }, "the stored result")
	clk.Add(25 * time.Hour)
	if r, err := awaitFuncAtOnce(t, e.bridge, "old"); !errors.Is(err, ErrExpired) {
		t.Errorf("AwaitFunc(expired) = %+v, %v; want ErrExpired", r, err)
	}
	heldLeftNothing(t, e.bridge)

	// A wake handing a result past its validity.
	ch, _ := awaitFunc(t, e.bridge, "late", time.Minute)
	e.bridge.hub.wake("late", &Result{RequestID: "late", ExpiresAt: clk.Now().Add(-time.Second)})
	if got := heldResult(t, ch, "AwaitFunc woken with an expired result"); !errors.Is(got.err, ErrExpired) {
		t.Errorf("AwaitFunc woken with an expired result = %+v, %v; want ErrExpired", got.res, got.err)
	}
	heldLeftNothing(t, e.bridge)
}

// A wake without the result (the listener reconnected) makes a held wait look
// again and, finding nothing, keep waiting.
func TestAwaitFuncSurvivesWakeAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	ch, _ := awaitFunc(t, e.bridge, "later", time.Minute)
	e.bridge.hub.wakeAll()
	waitFor(t, func() bool { return e.bridge.hub.waiting() == 1 }, "the wait to register again")
	select {
	case got := <-ch:
		t.Fatalf("AwaitFunc ended by wakeAll: %+v, %v", got.res, got.err)
	case <-time.After(50 * time.Millisecond):
	}
	e.bridge.Accepted(context.Background(), 1, asyncPush("later", "api_name", `2`))
	if got := heldResult(t, ch, "AwaitFunc after wakeAll"); got.err != nil || string(got.res.Value()) != `2` {
		t.Errorf("AwaitFunc after wakeAll = %+v, %v", got.res, got.err)
	}
	heldLeftNothing(t, e.bridge)
}

func TestAwaitFuncStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	ch, stop := awaitFunc(t, e.bridge, "stopped", 30*time.Millisecond)
	if !stop() {
		t.Fatal("stop() of a held wait = false, want true")
	}
	if stop() {
		t.Error("second stop() = true, want false")
	}
	heldLeftNothing(t, e.bridge)
	e.bridge.Accepted(context.Background(), 1, asyncPush("stopped", "api_name", `3`))
	select {
	case got := <-ch:
		t.Errorf("done called after stop: %+v, %v", got.res, got.err)
	case <-time.After(100 * time.Millisecond): // past the timeout too
	}
}

// Close answers every held wait with ErrClosed and returns once their done
// calls have; AwaitFunc after Close returns ErrClosed at once.
func TestAwaitFuncClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	const n = 100
	var answered atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		_, _, err := e.bridge.AwaitFunc(fmt.Sprintf("closing-%d", i), time.Minute, func(r *Result, err error) {
			defer wg.Done()
			if !errors.Is(err, ErrClosed) {
				t.Errorf("held wait at Close = %+v, %v; want ErrClosed", r, err)
			}
			time.Sleep(10 * time.Millisecond) // a slow write: Close waits for it
			answered.Add(1)
		})
		if !errors.Is(err, ErrPending) {
			t.Fatalf("AwaitFunc = %v, want ErrPending", err)
		}
	}
	if w := e.bridge.Waiting(); w != n {
		t.Errorf("Waiting() = %d, want %d", w, n)
	}
	e.bridge.Close()
	if got := answered.Load(); got != n {
		t.Errorf("Close returned with %d of %d done calls finished", got, n)
	}
	wg.Wait()
	heldLeftNothing(t, e.bridge)

	if _, err := awaitFuncAtOnce(t, e.bridge, "after"); !errors.Is(err, ErrClosed) {
		t.Errorf("AwaitFunc after Close = %v, want ErrClosed", err)
	}
}

// Arrivals, timeouts, stops and Close racing: each done is called at most
// once, and exactly once unless stop won.
func TestAwaitFuncExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, models.DriverSQLite, testDSN(t, models.DriverSQLite), testConfig(nil), Options{})
	const n = 300
	calls := make([]atomic.Int32, n)
	stops := make([]func() bool, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("race-%d", i)
		var err error
		_, stops[i], err = e.bridge.AwaitFunc(ids[i], time.Duration(i%7)*time.Millisecond, func(*Result, error) { calls[i].Add(1) })
		if !errors.Is(err, ErrPending) {
			calls[i].Add(1) // settled at once
		}
	}
	var stopped [n]bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < n; i += 3 {
			e.bridge.Accepted(context.Background(), int64(i+1), asyncPush(ids[i], "api_name", `1`))
		}
	})
	wg.Go(func() {
		for i := 1; i < n; i += 3 {
			stopped[i] = stops[i] != nil && stops[i]()
		}
	})
	wg.Go(func() { e.bridge.hub.wakeAll() })
	wg.Wait()
	e.bridge.Close() // returns once every pending done has returned
	for i := range n {
		want := int32(1)
		if stopped[i] {
			want = 0
		}
		if got := calls[i].Load(); got != want {
			t.Errorf("wait %d (stopped %v): done called %d times, want %d", i, stopped[i], got, want)
		}
	}
	heldLeftNothing(t, e.bridge)
}
