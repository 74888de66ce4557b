package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/stream"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHub(t testing.TB, opt stream.Options) (*stream.Hub, *models.Store) {
	t.Helper()
	store, err := models.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "s.db"), models.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opt.Logger = quiet()
	h := stream.New(store, opt)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, store
}

// save stores a CLICK (or the event given) with key and tells the hub, as
// the receiver does after the commit.
func save(t testing.TB, h *stream.Hub, s *models.Store, event, key string) int64 {
	t.Helper()
	sv, err := s.SaveEvent(context.Background(), &models.NewEvent{
		DedupeKey: "k:" + key, Kind: "event." + event, MsgType: "event", Event: event, EventKey: key,
		FromUser: "u", ToUser: "gh", Format: "xml", Payload: []byte(`{}`), Raw: []byte("<xml/>"),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Accepted(context.Background(), sv.ID, nil)
	return sv.ID
}

func next(t testing.TB, sub *stream.Sub, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	for range n {
		it, err := sub.Next(ctx, 0)
		if err != nil {
			t.Fatalf("Next after %v = %v", keys, err)
		}
		keys = append(keys, it.Event.EventKey)
	}
	return keys
}

func TestSubReplayThenLive(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, stream.Options{})
	first := save(t, h, s, "CLICK", "a")
	save(t, h, s, "VIEW", "b")
	all := h.Subscribe(models.EventFilter{}, 0)
	defer all.Close()
	clicks := h.Subscribe(models.EventFilter{Event: "CLICK"}, 0)
	defer clicks.Close()
	after := h.Subscribe(models.EventFilter{}, first)
	defer after.Close()
	if diff := cmp.Diff([]string{"a", "b"}, next(t, all, 2)); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	save(t, h, s, "CLICK", "c")
	save(t, h, s, "VIEW", "d")
	for _, c := range []struct {
		name string
		sub  *stream.Sub
		want []string
	}{
		{"all", all, []string{"c", "d"}},
		{"clicks", clicks, []string{"a", "c"}},
		{"after the first", after, []string{"b", "c", "d"}},
	} {
		if diff := cmp.Diff(c.want, next(t, c.sub, len(c.want))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if got, want := all.Cursor(), h.Cursor(); got != want {
		t.Errorf("Cursor() = %d, want the hub's %d", got, want)
	}
}

func TestSubIdleSetFilterAndClose(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, stream.Options{})
	sub := h.Subscribe(models.EventFilter{}, 0)
	if _, err := sub.Next(context.Background(), 20*time.Millisecond); !errors.Is(err, stream.ErrIdle) {
		t.Fatalf("Next on nothing = %v, want ErrIdle", err)
	}
	save(t, h, s, "CLICK", "a")
	next(t, sub, 1)
	sub.SetFilter(models.EventFilter{Event: "VIEW"})
	save(t, h, s, "CLICK", "b")
	save(t, h, s, "VIEW", "c")
	if diff := cmp.Diff([]string{"c"}, next(t, sub, 1)); diff != "" {
		t.Errorf("after SetFilter (-want +got):\n%s", diff)
	}
	sub.Close()
	if _, err := sub.Next(context.Background(), 0); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	h.Close()
	other := h.Subscribe(models.EventFilter{}, 0)
	if _, err := other.Next(context.Background(), 0); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Next after the hub closed = %v, want ErrClosed", err)
	}
}

func TestSubSlow(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h, s := newHub(t, stream.Options{Buffer: 3, Registerer: reg})
	sub := h.Subscribe(models.EventFilter{}, 0)
	defer sub.Close()
	save(t, h, s, "CLICK", "a")
	next(t, sub, 1) // read from the store: the hub had no subscriber
	// Nothing more: the subscriber joins the live fan-out and idles there.
	if _, err := sub.Next(context.Background(), 20*time.Millisecond); !errors.Is(err, stream.ErrIdle) {
		t.Fatalf("Next on nothing = %v, want ErrIdle", err)
	}
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("Subscribers() = %d after an idle Next, want 1 (live)", n)
	}
	for i := range 5 {
		save(t, h, s, "CLICK", fmt.Sprint("x", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Subscribers() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var keys []string
	var err error
	for err == nil {
		var it *stream.Item
		if it, err = sub.Next(context.Background(), time.Second); err == nil {
			keys = append(keys, it.Event.EventKey)
		}
	}
	if !errors.Is(err, stream.ErrSlow) {
		t.Fatalf("Next of a subscriber 5 behind with a buffer of 3 = %v after %v, want ErrSlow", err, keys)
	}
	if got := counterValue(t, reg, "pushgate_feed_slow_consumers_total"); got != 1 {
		t.Errorf("Got(pushgate_feed_slow_consumers_total) = %v, want 1", got)
	}
	// What it got is a prefix; the cursor resumes right after it.
	rest := h.Subscribe(models.EventFilter{}, sub.Cursor())
	defer rest.Close()
	all := append(keys, next(t, rest, 5-len(keys))...)
	if diff := cmp.Diff([]string{"x0", "x1", "x2", "x3", "x4"}, all); diff != "" {
		t.Errorf("slow then resumed (-want +got):\n%s", diff)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, stream.Options{})
	called := make(chan string, 3)
	h.Wait(models.EventFilter{Event: "VIEW"}, 0, time.Minute, func() { called <- "view" })
	h.Wait(models.EventFilter{}, 0, 30*time.Millisecond, func() { called <- "timeout" })
	stop := h.Wait(models.EventFilter{}, 0, time.Minute, func() { called <- "stopped" })
	if !stop() {
		t.Error("stop() of a held wait = false, want true")
	}
	if got := <-called; got != "timeout" {
		t.Errorf("first call = %s, want the timeout", got)
	}
	save(t, h, s, "CLICK", "a") // the VIEW wait stays
	time.Sleep(50 * time.Millisecond)
	if n := h.Held(); n != 1 {
		t.Errorf("Held() after a CLICK = %d, want 1", n)
	}
	save(t, h, s, "VIEW", "b")
	if got := <-called; got != "view" {
		t.Errorf("call after a VIEW = %s, want view", got)
	}
	select {
	case got := <-called:
		t.Errorf("unexpected call %s", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// Example follows the stored events of a store: what a feed does.
func Example() {
	dir, _ := os.MkdirTemp("", "stream-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, _ := models.Open(ctx, "sqlite", filepath.Join(dir, "x.db"), models.Options{Logger: quiet()})
	defer store.Close()
	hub := stream.New(store, stream.Options{Logger: quiet()})
	hub.Start(ctx)
	defer hub.Close()

	sub := hub.Subscribe(models.EventFilter{Event: "CLICK"}, 0) // 0: from the oldest
	defer sub.Close()
	for _, key := range []string{"menu_1", "menu_2"} {
		sv, _ := store.SaveEvent(ctx, &models.NewEvent{DedupeKey: key, Kind: "event.CLICK", MsgType: "event",
			Event: "CLICK", EventKey: key, Format: "xml", Payload: []byte(`{}`)})
		hub.Accepted(ctx, sv.ID, nil) // the receiver does this after each commit
	}
	for range 2 {
		it, _ := sub.Next(ctx, time.Second)
		fmt.Println(it.Kind, it.Event.EventKey)
	}
	// Output:
	// event.CLICK menu_1
	// event.CLICK menu_2
}

// TestNowCoversAcknowledgedEvents: Now, called right after events were
// acknowledged (Accepted), is at or after the last of them, however far the
// reader is behind; a subscription from it receives only later events.
func TestNowCoversAcknowledgedEvents(t *testing.T) {
	h, s := newHub(t, stream.Options{})
	for round := range 20 {
		var last int64
		for i := range 5 {
			last = save(t, h, s, "CLICK", fmt.Sprintf("r%d-%d", round, i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		now := h.Now(ctx)
		cancel()
		if now < last {
			t.Fatalf("round %d: Now() = %d right after event %d was acknowledged, want >= %d", round, now, last, last)
		}
		sub := h.Subscribe(models.EventFilter{}, now)
		after := save(t, h, s, "VIEW", fmt.Sprintf("r%d-new", round))
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		it, err := sub.Next(ctx, 0)
		cancel()
		sub.Close()
		if err != nil || it.ID != after {
			t.Fatalf("round %d: first event after Now() = %v, %v; want %d", round, it, err, after)
		}
	}
}

// TestPublishBatches: right after a publish, the events that follow wait
// for the gap of Options.Batch and go out together; after a quiet spell an
// event goes out at once.
func TestPublishBatches(t *testing.T) {
	t.Parallel()
	const gap = 3 * time.Second
	h, s := newHub(t, stream.Options{Batch: gap, PerSubscriber: gap})
	sub := h.Subscribe(models.EventFilter{}, h.Cursor())
	defer sub.Close()
	if it, err := sub.TryNext(context.Background()); it != nil || err != nil {
		t.Fatalf("TryNext() = %v, %v before any event, want nothing", it, err)
	}
	if got := h.Subscribers(); got != 1 {
		t.Fatalf("Subscribers() = %d, want 1 (live)", got)
	}
	a := save(t, h, s, "CLICK", "a")
	if diff := cmp.Diff([]string{"a"}, next(t, sub, 1)); diff != "" {
		t.Errorf("first event (-want +got):\n%s", diff)
	}
	for _, k := range []string{"b", "c", "d"} {
		save(t, h, s, "CLICK", k)
	}
	time.Sleep(gap / 6)
	if got := h.Cursor(); got != a {
		t.Errorf("Cursor() = %d %v after a publish, want %d (a) until the gap passed", got, gap/6, a)
	}
	if diff := cmp.Diff([]string{"b"}, next(t, sub, 1)); diff != "" {
		t.Errorf("burst (-want +got):\n%s", diff)
	}
	if got := sub.Buffered(); got != 2 {
		t.Errorf("Buffered() = %d after the burst's first event, want 2 (one publish)", got)
	}
	if diff := cmp.Diff([]string{"c", "d"}, next(t, sub, 2)); diff != "" {
		t.Errorf("burst (-want +got):\n%s", diff)
	}
	time.Sleep(gap)
	start := time.Now()
	save(t, h, s, "CLICK", "e")
	if diff := cmp.Diff([]string{"e"}, next(t, sub, 1)); diff != "" {
		t.Errorf("after a quiet spell (-want +got):\n%s", diff)
	}
	if took := time.Since(start); took > gap/2 {
		t.Errorf("an event after a quiet spell took %v, want it at once", took)
	}
}

// counterValue is the value of the counter name (without labels) in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

// TestSubTryNextN takes events in batches: from the store while catching
// up, then from the live buffer, in id order, with the cursor after the
// last one taken; then the subscriber's end (slow, closed) as TryNext would.
func TestSubTryNextN(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, stream.Options{Buffer: 4})
	ctx := context.Background()
	keys := func(items []*stream.Item) []string {
		var k []string
		for _, it := range items {
			k = append(k, it.Event.EventKey)
		}
		return k
	}
	save(t, h, s, "CLICK", "a")
	save(t, h, s, "CLICK", "b")
	c := save(t, h, s, "CLICK", "c")
	h.Now(ctx) // the hub's cursor is past c: a catch-up reads all three
	sub := h.Subscribe(models.EventFilter{}, 0)
	defer sub.Close()
	got, err := sub.TryNextN(ctx, nil, 2)
	if err != nil || !cmp.Equal(keys(got), []string{"a", "b"}) {
		t.Fatalf("TryNextN(2) from the store = %v, %v; want [a b]", keys(got), err)
	}
	got, err = sub.TryNextN(ctx, got, 10)
	if err != nil || !cmp.Equal(keys(got), []string{"a", "b", "c"}) || sub.Cursor() != c {
		t.Fatalf("TryNextN(10) appending = %v, %v, cursor %d; want [a b c], cursor %d", keys(got), err, sub.Cursor(), c)
	}
	// Nothing left: the subscriber joins the live fan-out.
	if got, err := sub.TryNextN(ctx, nil, 10); err != nil || len(got) != 0 || h.Subscribers() != 1 {
		t.Fatalf("TryNextN on nothing = %v, %v with %d live; want nothing, 1 live", keys(got), err, h.Subscribers())
	}
	for _, k := range []string{"d", "e", "f", "g"} {
		save(t, h, s, "CLICK", k)
	}
	waitBuffered(t, sub, 4)
	got, err = sub.TryNextN(ctx, nil, 3)
	if err != nil || !cmp.Equal(keys(got), []string{"d", "e", "f"}) || sub.Cursor() != got[len(got)-1].ID {
		t.Fatalf("TryNextN(3) live = %v, %v, cursor %d; want [d e f] and the cursor at f", keys(got), err, sub.Cursor())
	}
	got, err = sub.TryNextN(ctx, nil, 10)
	if err != nil || !cmp.Equal(keys(got), []string{"g"}) {
		t.Fatalf("TryNextN(10) live = %v, %v; want [g]", keys(got), err)
	}
	// Five more than it reads, with a buffer of four: it is dropped.
	for i := range 5 {
		save(t, h, s, "CLICK", fmt.Sprint("x", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Subscribers() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got, err := sub.TryNextN(ctx, nil, 10); !errors.Is(err, stream.ErrSlow) {
		t.Fatalf("TryNextN of a slow subscriber = %v, %v; want ErrSlow", keys(got), err)
	}
	other := h.Subscribe(models.EventFilter{}, sub.Cursor())
	other.Close()
	if _, err := other.TryNextN(ctx, nil, 10); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("TryNextN after Close = %v, want ErrClosed", err)
	}
}

func waitBuffered(t testing.TB, sub *stream.Sub, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sub.Buffered() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Buffered() = %d after 10 s, want %d", sub.Buffered(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
