package models

import (
	"context"
	"testing"
	"time"
)

// TestFlushWaitsForQueuedAttempts: Flush returns only once the
// fire-and-forget attempts queued before it are committed, on both drivers
// (bulk replay counts its page's outcomes after one Flush).
func TestFlushWaitsForQueuedAttempts(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, dsn := newTestStore(t, drv)
		ctx := context.Background()
		var ids []int64
		for i := range 20 {
			ids = append(ids, mustSave(t, s, sampleEvent(i)).ID)
		}
		release := stallWriter(t, s, drv, dsn)
		for i, id := range ids {
			a := Attempt{EventID: id, Started: time.Now(), Replay: true}
			if i%2 == 1 {
				a.Err = "boom"
			}
			if err := s.RecordAttempt(ctx, a, false); err != nil {
				t.Fatal(err)
			}
		}
		flushed := make(chan error, 1)
		go func() { flushed <- s.Flush(ctx) }()
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned %v while the writer was stalled", err)
		case <-time.After(100 * time.Millisecond):
		}
		release()
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		st, err := s.EventStatuses(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			want := StatusHandled
			if i%2 == 1 {
				want = StatusFailed
			}
			if st[id] != want {
				t.Errorf("event %d right after Flush: status %q, want %q", id, st[id], want)
			}
		}
	})
}

// TestFlushWaitsOutDatabaseTrouble: while the database refuses writes,
// Flush keeps waiting (the writer holds the queued attempts) instead of
// returning the batch's error, and returns nil once the attempts land.
func TestFlushWaitsOutDatabaseTrouble(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := failFastDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		id := mustSave(t, s, sampleEvent(1)).ID
		release := blockWriter(t, drv, dsn)
		if err := s.RecordAttempt(ctx, Attempt{EventID: id, Started: time.Now()}, false); err != nil {
			t.Fatal(err)
		}
		flushed := make(chan error, 1)
		go func() { flushed <- s.Flush(ctx) }()
		waitFor(t, func() bool { return s.w.troubles.Load() >= 2 }, "two batches to fail")
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned %v while the database failed", err)
		default:
		}
		release()
		if err := <-flushed; err != nil {
			t.Fatalf("Flush after the database came back = %v", err)
		}
		if st, err := s.EventStatuses(ctx, []int64{id}); err != nil || st[id] != StatusHandled {
			t.Fatalf("status after Flush = %q, %v; want handled", st[id], err)
		}
	})
}
