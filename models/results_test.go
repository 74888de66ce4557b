package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sampleResult returns a servicemarket result received at at, valid for a day.
func sampleResult(id string, at time.Time) *Result {
	return &Result{
		RequestID: id, Source: SourceServiceMarket, Api: "api_name", Service: "wx10427c80e0ae4c1d",
		Data: []byte(`{"result":"hello world"}`), IsJSON: true,
		ReceivedAt: at, ExpiresAt: at.Add(24 * time.Hour),
	}
}

func TestSaveResultKeepsFirst(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		at := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
		first := sampleResult("req-1", at)
		created, err := s.SaveResult(ctx, first)
		if err != nil || !created {
			t.Fatalf("SaveResult(first) = %v, %v; want true, nil", created, err)
		}
		second := sampleResult("req-1", at.Add(time.Hour))
		second.Data = []byte("other")
		if created, err := s.SaveResult(ctx, second); err != nil || created {
			t.Fatalf("SaveResult(duplicate) = %v, %v; want false, nil", created, err)
		}
		got, err := s.GetResult(ctx, "req-1")
		if err != nil {
			t.Fatalf("GetResult = %v", err)
		}
		want := normaliseResult(first)
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("GetResult mismatch (-want +got):\n%s", diff)
		}
		if _, err := s.GetResult(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetResult(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.SaveResult(ctx, &Result{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveResult(no id) = %v, want ErrInvalid", err)
		}
	})
}

func TestQueueResult(t *testing.T) {
	s, _ := newTestStore(t, DriverSQLite)
	ctx := context.Background()
	if err := s.QueueResult(ctx, sampleResult("q", time.Now())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := s.GetResult(ctx, "q"); return err == nil }, "the queued result")
}

func TestResultValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		data   string
		isJSON bool
		want   string
	}{
		{`{"a":1}`, true, `{"a":1}`},
		{`[1,2]`, true, `[1,2]`},
		{`plain text`, false, `"plain text"`},
		{`{"a":1}`, false, `"{\"a\":1}"`},
		{``, false, `""`},
		{`{broken`, true, `"{broken"`},
	}
	for _, tt := range tests {
		r := &Result{Data: []byte(tt.data), IsJSON: tt.isJSON}
		if got := string(r.Value()); got != tt.want {
			t.Errorf("Value(%q, json=%v) = %s, want %s", tt.data, tt.isJSON, got, tt.want)
		}
	}
}

func TestResultFromEvent(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		payload, _ := json.Marshal(map[string]any{
			"ToUserName": "gh_x", "FromUserName": "o", "CreateTime": 1603439487, "MsgType": "event",
			"Event": "servicemarket_async_api_result", "Api": "api_name", "Data": `{"result":"hello world"}`,
			"RequestID": "MLy", "Service": "wx1",
		})
		mustSave(t, s, &NewEvent{
			DedupeKey: "r:MLy", Kind: asyncResultKind, MsgType: "event", Event: "servicemarket_async_api_result",
			RequestID: "MLy", Format: "json", Payload: payload, ReceivedAt: at,
		})
		got, err := s.ResultFromEvent(ctx, "MLy")
		if err != nil {
			t.Fatalf("ResultFromEvent = %v", err)
		}
		want := &Result{
			RequestID: "MLy", Source: SourceServiceMarket, Api: "api_name", Service: "wx1",
			Data: []byte(`{"result":"hello world"}`), IsJSON: true, ReceivedAt: at,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ResultFromEvent mismatch (-want +got):\n%s", diff)
		}
		if _, err := s.ResultFromEvent(ctx, "other"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResultFromEvent(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestPruneResults(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		now := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		for w := range 16 { // concurrent saves share commits
			wg.Go(func() {
				for i := w; i < pruneChunk+3; i += 16 { // more than one chunk expired
					r := sampleResult(fmt.Sprintf("old-%d", i), now.Add(-25*time.Hour))
					if _, err := s.SaveResult(ctx, r); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if _, err := s.SaveResult(ctx, sampleResult("fresh", now.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
		old := &PendingRequest{ID: "p-old", ConvID: "1", Deadline: now.Add(-2 * time.Hour), ResultValidity: time.Hour}
		live := &PendingRequest{ID: "p-live", ConvID: "1", Deadline: now.Add(time.Minute), ResultValidity: time.Hour}
		for _, p := range []*PendingRequest{old, live} {
			if err := s.CreatePendingRequest(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PruneResults(ctx, now)
		if err != nil || n != pruneChunk+3+1 {
			t.Fatalf("PruneResults = %d, %v; want %d, nil", n, err, pruneChunk+3+1)
		}
		if _, err := s.GetResult(ctx, "fresh"); err != nil {
			t.Errorf("fresh result pruned: %v", err)
		}
		if _, err := s.GetResult(ctx, "old-0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired result kept: %v", err)
		}
		if _, err := s.GetPendingRequest(ctx, "p-live"); err != nil {
			t.Errorf("live request pruned: %v", err)
		}
		if _, err := s.GetPendingRequest(ctx, "p-old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old request kept: %v", err)
		}
	})
}

func TestListenResults(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, DriverSQLite)
	if err := s.ListenResults(context.Background(), nil, func(string) {}); !errors.Is(err, ErrUnsupportedDriver) {
		t.Errorf("ListenResults on SQLite = %v, want ErrUnsupportedDriver", err)
	}

	dsn := testPostgresDSN(t)
	a := openTest(t, DriverPostgres, dsn, Options{})
	b := openTest(t, DriverPostgres, dsn, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var (
		mu  sync.Mutex
		got []string
	)
	heard := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- a.ListenResults(ctx, func() { close(ready) }, func(id string) {
			mu.Lock()
			got = append(got, id)
			mu.Unlock()
			heard <- struct{}{}
		})
	}()
	<-ready
	if _, err := b.SaveResult(ctx, sampleResult("from-b", time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SaveResult(ctx, sampleResult("from-b", time.Now())); err != nil { // duplicate: silent
		t.Fatal(err)
	}
	if err := b.CreatePendingRequest(ctx, &PendingRequest{ID: "cb", Deadline: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AnswerPendingRequest(ctx, "cb", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-heard:
		case <-time.After(5 * time.Second):
			t.Fatal("no notification within 5 s")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("ListenResults after cancel = %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"from-b", "cb"}, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

// TestListenSchemasApart: NOTIFY channels are database-wide, so two
// deployments in different schemas of one database must use different
// channels; each hears its own results and events only.
func TestListenSchemasApart(t *testing.T) {
	t.Parallel()
	a := openTest(t, DriverPostgres, testPostgresDSN(t), Options{})
	b := openTest(t, DriverPostgres, testPostgresDSN(t), Options{})
	if a.Channel(ResultsChannel) == b.Channel(ResultsChannel) || a.Channel(EventsChannel) == b.Channel(EventsChannel) {
		t.Fatalf("schemas share channels: %q, %q", a.Channel(ResultsChannel), b.Channel(ResultsChannel))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	heard := make(chan string, 16)
	go a.ListenResults(ctx, func() { close(ready) }, func(id string) { heard <- id })
	<-ready
	readyEv := make(chan struct{})
	heardEv := make(chan int64, 16)
	go a.ListenEvents(ctx, func() { close(readyEv) }, func(id int64) { heardEv <- id })
	<-readyEv

	// b's traffic first, then a's own: a must hear only its own.
	if _, err := b.SaveResult(ctx, sampleResult("from-b", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := b.AnnounceEvent(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveResult(ctx, sampleResult("from-a", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceEvent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"from-a"} {
		select {
		case got := <-heard:
			if got != want {
				t.Errorf("heard result %q, want %q (another schema's)", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("own result not heard within 5 s")
		}
	}
	select {
	case got := <-heardEv:
		if got != 9 {
			t.Errorf("heard event %d, want 9 (7 is another schema's)", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("own event not heard within 5 s")
	}
}
