package handlers_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// shiftedClock is time.Now moved by an offset the test sets.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *shiftedClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// outcomeServer serves a Server whose handler answers with handle, on its
// own SQLite file and the shifted clock.
func outcomeServer(t *testing.T, clock *shiftedClock, handle func(context.Context, events.Event) (events.Reply, error)) *testServer {
	t.Helper()
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken = testAdmin
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	cfg.ReplyBudget = 2 * time.Second
	ts := serveConfig(t, cfg, clock.now)
	ts.rec.handle = handle
	return ts
}

// firstEvent waits until the only stored event has n attempts and returns it.
func firstEvent(t *testing.T, ts *testServer, attempts int) models.Event {
	t.Helper()
	var ev *models.Event
	eventually(t, "attempt recorded", func() bool {
		rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 1})
		if err != nil || len(rows) == 0 {
			return false
		}
		ev, err = ts.store.GetEvent(context.Background(), rows[0].ID)
		// Recovery leaves an event alone while its attempt's write is in
		// flight (committed, the writer not yet done with it): wait for both.
		return err == nil && ev.Attempts == attempts && !ts.store.AttemptPending(ev.ID)
	})
	return *ev
}

// TestHandlerOutcomeErrors checks what each kind of handler error records:
// a plain error and a Permanent one fail the event; RetryAfter leaves it
// received, held off recovery until its time.
func TestHandlerOutcomeErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name       string
		err        error
		wantStatus string
		wantHeld   bool // recovery_until set to about now + 10m
	}{
		{"success", nil, models.StatusHandled, false},
		{"plain error", boom, models.StatusFailed, false},
		{"permanent", events.Permanent(boom), models.StatusFailed, false},
		{"retry after", events.RetryAfter(10*time.Minute, boom), models.StatusReceived, true},
		{"permanent wins over retry", events.Permanent(events.RetryAfter(time.Minute, boom)), models.StatusFailed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &shiftedClock{}
			ts := outcomeServer(t, clock, func(context.Context, events.Event) (events.Reply, error) { return nil, tc.err })
			ts.push(t, "text/xml", clickBody("k", 1000))
			ev := firstEvent(t, ts, 1)
			if ev.Status != tc.wantStatus {
				t.Errorf("status after %v = %q, want %q", tc.err, ev.Status, tc.wantStatus)
			}
			if held := ev.RecoveryUntil != nil && ev.RecoveryUntil.After(time.Now().Add(9*time.Minute)); held != tc.wantHeld {
				t.Errorf("recovery held off after %v = %v (until %v), want %v", tc.err, held, ev.RecoveryUntil, tc.wantHeld)
			}
			if tc.err != nil && ev.LastError != tc.err.Error() {
				t.Errorf("last_error = %q, want %q", ev.LastError, tc.err.Error())
			}
		})
	}
}

// TestRetryAfterWaitsForItsTime checks that recovery leaves an event whose
// handler asked for a retry until its time, then dispatches it with the
// next attempt number, and that it is failed after MaxAttempts.
func TestRetryAfterWaitsForItsTime(t *testing.T) {
	t.Parallel()
	clock := &shiftedClock{}
	var (
		mu    sync.Mutex
		infos []events.Info
	)
	ts := outcomeServer(t, clock, func(ctx context.Context, e events.Event) (events.Reply, error) {
		info, _ := events.InfoFrom(ctx)
		mu.Lock()
		infos = append(infos, info)
		mu.Unlock()
		return nil, events.RetryAfter(5*time.Minute, errors.New("upstream down"))
	})
	ts.push(t, "text/xml", clickBody("k", 1000))
	firstEvent(t, ts, 1)

	ctx := context.Background()
	if n, err := ts.srv.RecoverReceived(ctx, math.MaxInt64); err != nil || n != 0 {
		t.Fatalf("RecoverReceived before the retry time = %d, %v, want 0, nil", n, err)
	}
	for attempt := 2; attempt <= events.MaxAttempts; attempt++ {
		clock.advance(6 * time.Minute)
		if n, err := ts.srv.RecoverReceived(ctx, math.MaxInt64); err != nil || n != 1 {
			t.Fatalf("RecoverReceived for attempt %d = %d, %v, want 1, nil", attempt, n, err)
		}
	}
	ev := firstEvent(t, ts, events.MaxAttempts)
	if ev.Status != models.StatusFailed {
		t.Errorf("status after %d retries = %q, want failed", events.MaxAttempts, ev.Status)
	}
	clock.advance(time.Hour)
	if n, _ := ts.srv.RecoverReceived(ctx, math.MaxInt64); n != 0 {
		t.Errorf("RecoverReceived after the last attempt = %d, want 0", n)
	}

	mu.Lock()
	defer mu.Unlock()
	var want []events.Info
	for i := 1; i <= events.MaxAttempts; i++ {
		want = append(want, events.Info{ID: ev.ID, Account: "default", Attempt: i})
	}
	if diff := cmp.Diff(want, infos, cmpopts.IgnoreFields(events.Info{}, "ReceivedAt", "HTTPRequestID")); diff != "" {
		t.Errorf("Info of each dispatch (-want +got):\n%s", diff)
	}
}

// TestInfoOfReplay checks the Info a handler sees on an admin replay.
func TestInfoOfReplay(t *testing.T) {
	t.Parallel()
	clock := &shiftedClock{}
	var got atomic.Value
	ts := outcomeServer(t, clock, func(ctx context.Context, e events.Event) (events.Reply, error) {
		info, _ := events.InfoFrom(ctx)
		got.Store(info)
		return nil, nil
	})
	before := time.Now()
	ts.push(t, "text/xml", clickBody("k", 1000))
	ev := firstEvent(t, ts, 1)
	first := got.Load().(events.Info)
	if first.ID != ev.ID || first.Attempt != 1 || first.Replay || first.Account != "default" || first.ReceivedAt.Before(before.Add(-time.Second)) {
		t.Errorf("Info of the first dispatch = %+v, want ID %d, attempt 1, not a replay, account default", first, ev.ID)
	}
	if status, body := ts.admin(t, "POST", "/v1/events/"+strconv.FormatInt(ev.ID, 10)+"/replay", ""); status != 200 {
		t.Fatalf("replay = %d %s", status, body)
	}
	replay := got.Load().(events.Info)
	want := events.Info{ID: ev.ID, Account: "default", Attempt: 2, Replay: true, ReceivedAt: ev.ReceivedAt}
	if diff := cmp.Diff(want, replay, cmpopts.IgnoreFields(events.Info{}, "HTTPRequestID")); diff != "" {
		t.Errorf("Info of the replay (-want +got):\n%s", diff)
	}
}
