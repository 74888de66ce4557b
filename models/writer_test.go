package models

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestBatchMixesSavesAndAttempts queues saves (new, in-batch duplicate, and
// duplicate of an older row) and several attempts on the same events behind a
// stalled writer, so they all share one batch, and checks the outcome is as if
// they had been applied one by one.
func TestBatchMixesSavesAndAttempts(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		old := mustSave(t, s, sampleEvent(1))
		x := mustSave(t, s, sampleEvent(2)).ID
		y := mustSave(t, s, sampleEvent(3)).ID
		release := stallWriter(t, s, drv, dsn)

		var wg sync.WaitGroup
		saves := make([]Saved, 3)
		queued := 0
		enqueue := func(f func()) {
			wg.Go(f)
			queued++
			waitFor(t, func() bool { return len(s.w.queue) == queued }, "a queued write")
		}
		enqueue(func() { saves[0] = mustSave(t, s, sampleEvent(1)) })
		enqueue(func() { saves[1] = mustSave(t, s, sampleEvent(4)) })
		enqueue(func() { saves[2] = mustSave(t, s, sampleEvent(4)) })
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, a := range []Attempt{
			{EventID: x, Started: t0, Err: "first"},
			{EventID: y, Started: t0, Duration: time.Second, Reply: []byte("y")},
			{EventID: x, Started: t0.Add(time.Minute), Duration: time.Second, Reply: []byte("x")},
			{EventID: x, Started: t0.Add(2 * time.Minute), Err: "late", Replay: true},
		} {
			enqueue(func() {
				if err := s.RecordAttempt(ctx, a, true); err != nil {
					t.Errorf("RecordAttempt(%+v) = %v", a, err)
				}
			})
		}
		var missing error
		enqueue(func() { missing = s.RecordAttempt(ctx, Attempt{EventID: 12345}, true) })
		before := s.w.batches.Load()
		release()
		wg.Wait()
		if n := s.w.batches.Load() - before; n != 1 {
			t.Errorf("the writes took %d batches, want 1", n)
		}

		if !saves[0].Duplicate || saves[0].ID != old.ID {
			t.Errorf("save of an existing key = %+v, want duplicate of %d", saves[0], old.ID)
		}
		if saves[1].Duplicate || !saves[2].Duplicate || saves[2].ID != saves[1].ID {
			t.Errorf("saves of one new key = %+v, %+v; want new, then its duplicate", saves[1], saves[2])
		}
		if !errors.Is(missing, ErrNotFound) {
			t.Errorf("RecordAttempt(unknown event) = %v, want ErrNotFound", missing)
		}
		check := func(id int64, status, lastErr string, attempts int, handled time.Time, reply string) {
			t.Helper()
			ev, err := s.GetEvent(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != status || ev.LastError != lastErr || ev.Attempts != attempts ||
				ev.HandledAt == nil || !ev.HandledAt.Equal(handled) || string(ev.Reply) != reply {
				t.Errorf("event %d: status %q last_error %q attempts %d handled_at %v reply %q; want %q %q %d %v %q",
					id, ev.Status, ev.LastError, ev.Attempts, ev.HandledAt, ev.Reply, status, lastErr, attempts, handled, reply)
			}
		}
		check(x, StatusFailed, "late", 3, t0.Add(time.Minute+time.Second), "x")
		check(y, StatusHandled, "", 1, t0.Add(time.Second), "y")
		atts, err := s.EventAttempts(ctx, x)
		if err != nil || len(atts) != 3 || atts[0].Error != "first" || atts[2].Error != "late" || !atts[2].Replay {
			t.Errorf("EventAttempts(x) = %+v, %v", atts, err)
		}
		ev, err := s.GetEvent(ctx, old.ID)
		if err != nil || ev.Duplicates != 1 {
			t.Errorf("older event: %+v, %v; want 1 duplicate", ev, err)
		}
	})
}

// TestBatchRetriesAsRowByRow: attempts that ask for a retry (RetryAt),
// alone and among others on the same event, sharing one batch with other
// attempts (so that PostgreSQL applies them with its array statements),
// leave their events as one attempt at a time does: received, held off
// recovery until the last retry's time, a later success keeping it.
func TestBatchRetriesAsRowByRow(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		x := mustSave(t, s, sampleEvent(1)).ID
		y := mustSave(t, s, sampleEvent(2)).ID
		z := mustSave(t, s, sampleEvent(3)).ID
		release := stallWriter(t, s, drv, dsn)
		var wg sync.WaitGroup
		queued := 0
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, a := range []Attempt{
			{EventID: x, Started: t0, Err: "later", RetryAt: t0.Add(time.Hour)},
			{EventID: y, Started: t0, Err: "first", RetryAt: t0.Add(time.Minute)},
			{EventID: z, Started: t0, Duration: time.Second, Reply: []byte("z")},
			{EventID: y, Started: t0.Add(time.Second), Err: "second", RetryAt: t0.Add(2 * time.Hour)},
			{EventID: z, Started: t0.Add(time.Minute), Err: "again", RetryAt: t0.Add(3 * time.Hour)},
			{EventID: z, Started: t0.Add(2 * time.Minute), Duration: time.Second},
		} {
			wg.Go(func() {
				if err := s.RecordAttempt(ctx, a, true); err != nil {
					t.Errorf("RecordAttempt(%+v) = %v", a, err)
				}
			})
			queued++
			waitFor(t, func() bool { return len(s.w.queue) == queued }, "a queued write")
		}
		before := s.w.batches.Load()
		release()
		wg.Wait()
		if n := s.w.batches.Load() - before; n != 1 {
			t.Errorf("the attempts took %d batches, want 1", n)
		}
		for _, c := range []struct {
			id       int64
			status   string
			lastErr  string
			attempts int
			until    time.Time
			handled  time.Time
		}{
			{x, StatusReceived, "later", 1, t0.Add(time.Hour), time.Time{}},
			{y, StatusReceived, "second", 2, t0.Add(2 * time.Hour), time.Time{}},
			{z, StatusHandled, "", 3, t0.Add(3 * time.Hour), t0.Add(2*time.Minute + time.Second)},
		} {
			ev, err := s.GetEvent(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != c.status || ev.LastError != c.lastErr || ev.Attempts != c.attempts ||
				ev.RecoveryUntil == nil || !ev.RecoveryUntil.Equal(c.until) ||
				(ev.HandledAt == nil) != c.handled.IsZero() || ev.HandledAt != nil && !ev.HandledAt.Equal(c.handled) {
				t.Errorf("event %d: status %q last_error %q attempts %d recovery_until %v handled_at %v; want %q %q %d %v %v",
					c.id, ev.Status, ev.LastError, ev.Attempts, ev.RecoveryUntil, ev.HandledAt,
					c.status, c.lastErr, c.attempts, c.until, c.handled)
			}
		}
	})
}
