package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSaveEventAndGet(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		e := sampleEvent(1)
		e.MsgID, e.RequestID = "1234567890", "req-1"
		e.ReceivedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CST", 8*3600))
		got := mustSave(t, s, e)
		if got.Duplicate || got.Status != StatusReceived || got.ID == 0 || got.Reply != nil {
			t.Fatalf("SaveEvent = %+v, want a new received event", got)
		}
		ev, err := s.GetEvent(ctx, got.ID)
		if err != nil {
			t.Fatalf("GetEvent(%d) = %v", got.ID, err)
		}
		at := e.ReceivedAt.UTC().Truncate(time.Microsecond)
		want := Event{
			ID: got.ID, DedupeKey: e.DedupeKey, Kind: e.Kind, MsgType: e.MsgType, Event: e.Event,
			EventKey: e.EventKey, FromUser: e.FromUser, ToUser: e.ToUser, CreateTime: e.CreateTime,
			MsgID: e.MsgID, RequestID: e.RequestID, Format: e.Format, Status: StatusReceived, Account: "default",
			ReceivedAt: at, LastSeen: at, Payload: e.Payload, Raw: e.Raw,
		}
		if diff := cmp.Diff(want, *ev); diff != "" {
			t.Errorf("GetEvent(%d) mismatch (-want +got):\n%s", got.ID, diff)
		}
		if _, err := s.GetEvent(ctx, got.ID+1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetEvent(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.SaveEvent(ctx, &NewEvent{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveEvent(empty key) = %v, want ErrInvalid", err)
		}
	})
}

func TestSaveEventDuplicateReturnsOriginal(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		first := mustSave(t, s, sampleEvent(1))
		reply := []byte("<xml><Content>hi</Content></xml>")
		if err := s.RecordAttempt(ctx, Attempt{EventID: first.ID, Duration: time.Millisecond, Reply: reply}, true); err != nil {
			t.Fatalf("RecordAttempt = %v", err)
		}
		later := time.Now().Add(time.Hour)
		dup := sampleEvent(1)
		dup.ReceivedAt = later
		got := mustSave(t, s, dup)
		want := Saved{ID: first.ID, Duplicate: true, Status: StatusHandled, Reply: reply}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("SaveEvent(duplicate) mismatch (-want +got):\n%s", diff)
		}
		mustSave(t, s, sampleEvent(1))
		ev, err := s.GetEvent(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Duplicates != 2 {
			t.Errorf("Duplicates = %d, want 2", ev.Duplicates)
		}
		if !ev.LastSeen.After(ev.ReceivedAt) {
			t.Errorf("LastSeen = %v, want after ReceivedAt %v", ev.LastSeen, ev.ReceivedAt)
		}
	})
}

func TestSaveEventDuplicatesInOneBatch(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		release := stallWriter(t, s, drv, dsn)
		const n = 5
		results := make([]Saved, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i] = mustSave(t, s, sampleEvent(7)) })
		}
		waitFor(t, func() bool { return len(s.w.queue) == n }, "the saves to queue up")
		before := s.w.batches.Load()
		release()
		wg.Wait()
		if got := s.w.batches.Load() - before; got != 1 {
			t.Errorf("the %d saves took %d batches, want 1", n, got)
		}
		var originals int
		for _, r := range results {
			if !r.Duplicate {
				originals++
			}
			if r.ID != results[0].ID || r.Status != StatusReceived {
				t.Errorf("Saved = %+v, want ID %d, status received", r, results[0].ID)
			}
		}
		if originals != 1 {
			t.Errorf("%d saves were not duplicates, want 1: %+v", originals, results)
		}
		ev, err := s.GetEvent(context.Background(), results[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Duplicates != n-1 {
			t.Errorf("Duplicates = %d, want %d", ev.Duplicates, n-1)
		}
	})
}

func TestSaveEventConcurrentDedupe(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		const keys, copies = 50, 4
		results := make([]Saved, keys*copies)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				<-start
				results[i] = mustSave(t, s, sampleEvent(i%keys))
			})
		}
		close(start)
		wg.Wait()
		assertDeduped(t, s, results, keys, copies)
	})
}

// assertDeduped checks that results (copies saves of each of keys events,
// results[i] for key i%keys) made exactly one row per key with the right count.
func assertDeduped(t *testing.T, s *Store, results []Saved, keys, copies int) {
	t.Helper()
	ids := map[int]int64{}
	originals := map[int]int{}
	for i, r := range results {
		k := i % keys
		if id, ok := ids[k]; ok && id != r.ID {
			t.Fatalf("key %d saved as ids %d and %d", k, id, r.ID)
		}
		ids[k] = r.ID
		if !r.Duplicate {
			originals[k]++
		}
	}
	for k := range keys {
		if originals[k] != 1 {
			t.Errorf("key %d: %d non-duplicate saves, want 1", k, originals[k])
		}
	}
	rows, _, err := s.ListEvents(context.Background(), EventFilter{Limit: MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != keys {
		t.Fatalf("ListEvents returned %d rows, want %d", len(rows), keys)
	}
	for _, ev := range rows {
		if ev.Duplicates != copies-1 {
			t.Errorf("event %s: Duplicates = %d, want %d", ev.DedupeKey, ev.Duplicates, copies-1)
		}
	}
}

func TestSaveEventRacingReplicas(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		a := openTest(t, drv, dsn, Options{})
		b := openTest(t, drv, dsn, Options{})
		for round := range 3 {
			results := make([]Saved, 20)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range results {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Go(func() {
					<-start
					results[i] = mustSave(t, s, sampleEvent(round))
				})
			}
			close(start)
			wg.Wait()
			assertDedupedKey(t, results)
		}
	})
}

func assertDedupedKey(t *testing.T, results []Saved) {
	t.Helper()
	var originals int
	for _, r := range results {
		if !r.Duplicate {
			originals++
		}
		if r.ID != results[0].ID {
			t.Errorf("Saved.ID = %d, want %d for every save", r.ID, results[0].ID)
		}
	}
	if originals != 1 {
		t.Errorf("%d of %d racing saves were not duplicates, want 1", originals, len(results))
	}
}

func TestDedupeSurvivesReopen(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		first := mustSave(t, s, sampleEvent(3))
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		s = openTest(t, drv, dsn, Options{})
		got := mustSave(t, s, sampleEvent(3))
		if !got.Duplicate || got.ID != first.ID {
			t.Errorf("SaveEvent after reopen = %+v, want duplicate of %d", got, first.ID)
		}
	})
}

func TestRecordAttempt(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		id := mustSave(t, s, sampleEvent(1)).ID
		t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
		attempts := []Attempt{
			{EventID: id, Started: t0, Duration: 1500 * time.Microsecond, Err: "boom"},
			{EventID: id, Started: t0.Add(time.Minute), Duration: 2 * time.Millisecond, Reply: []byte("<xml/>"), Replay: true},
		}
		if err := s.RecordAttempt(ctx, attempts[0], true); err != nil {
			t.Fatalf("RecordAttempt = %v", err)
		}
		ev, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != StatusFailed || ev.Attempts != 1 || ev.LastError != "boom" || ev.HandledAt != nil {
			t.Errorf("after a failure: status %q attempts %d last_error %q handled_at %v", ev.Status, ev.Attempts, ev.LastError, ev.HandledAt)
		}
		if err := s.RecordAttempt(ctx, attempts[1], true); err != nil {
			t.Fatalf("RecordAttempt = %v", err)
		}
		ev, err = s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		handled := t0.Add(time.Minute + 2*time.Millisecond)
		if ev.Status != StatusHandled || ev.Attempts != 2 || ev.LastError != "" ||
			ev.HandledAt == nil || !ev.HandledAt.Equal(handled) || string(ev.Reply) != "<xml/>" {
			t.Errorf("after a success: status %q attempts %d last_error %q handled_at %v reply %q",
				ev.Status, ev.Attempts, ev.LastError, ev.HandledAt, ev.Reply)
		}
		got, err := s.EventAttempts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(attempts) {
			t.Fatalf("EventAttempts = %d rows, want %d", len(got), len(attempts))
		}
		var want []EventAttempt
		for i, a := range attempts {
			want = append(want, EventAttempt{ID: got[i].ID, EventID: id, Started: a.Started,
				DurationUS: a.Duration.Microseconds(), Error: a.Err, Replay: a.Replay})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EventAttempts mismatch (-want +got):\n%s", diff)
		}
		if err := s.RecordAttempt(ctx, Attempt{EventID: id + 1}, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("RecordAttempt(unknown event) = %v, want ErrNotFound", err)
		}
	})
}

func TestReceivedEventsAfterReopen(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		var evs []*NewEvent
		for i := range 30 {
			evs = append(evs, sampleEvent(i))
		}
		saved := saveAll(t, s, evs)
		var want []int64
		for i, sv := range saved {
			switch i % 3 {
			case 0:
				want = append(want, sv.ID)
			case 1:
				s.RecordAttempt(ctx, Attempt{EventID: sv.ID}, false)
			case 2:
				s.RecordAttempt(ctx, Attempt{EventID: sv.ID, Err: "x"}, false)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openTest(t, drv, dsn, Options{})
		var got []int64
		after := int64(0)
		for {
			page, err := s.ReceivedEvents(ctx, 4, after)
			if err != nil {
				t.Fatalf("ReceivedEvents = %v", err)
			}
			if len(page) == 0 {
				break
			}
			for _, ev := range page {
				if ev.Status != StatusReceived {
					t.Errorf("ReceivedEvents listed %d with status %q", ev.ID, ev.Status)
				}
				got = append(got, ev.ID)
			}
			after = page[len(page)-1].ID
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReceivedEvents ids mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestSaveEventContextCancelledWhileWaiting(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		release := stallWriter(t, s, drv, dsn)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := s.SaveEvent(ctx, sampleEvent(1))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SaveEvent(stalled writer) = %v, want context.DeadlineExceeded", err)
		}
		release()
		// The cancelled save was still queued when its batch began: it is skipped.
		rows, _, err := s.ListEvents(context.Background(), EventFilter{EventKey: sampleEvent(1).EventKey})
		if err != nil || len(rows) != 0 {
			t.Errorf("ListEvents(cancelled key) = %d rows, %v; want none", len(rows), err)
		}
		cctx, ccancel := context.WithCancel(context.Background())
		ccancel()
		if _, err := s.SaveEvent(cctx, sampleEvent(2)); !errors.Is(err, context.Canceled) {
			t.Errorf("SaveEvent(cancelled ctx) = %v, want context.Canceled", err)
		}
	})
}

func TestSaveAfterClose(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := s.SaveEvent(ctx, sampleEvent(1)); !errors.Is(err, ErrClosed) {
			t.Errorf("SaveEvent after Close = %v, want ErrClosed", err)
		}
		if err := s.RecordAttempt(ctx, Attempt{EventID: 1}, false); !errors.Is(err, ErrClosed) {
			t.Errorf("RecordAttempt after Close = %v, want ErrClosed", err)
		}
		if err := s.SaveRejected(ctx, &Rejected{}); !errors.Is(err, ErrClosed) {
			t.Errorf("SaveRejected after Close = %v, want ErrClosed", err)
		}
		if _, err := s.GetEvent(ctx, 1); !errors.Is(err, ErrClosed) {
			t.Errorf("GetEvent after Close = %v, want ErrClosed", err)
		}
		if err := s.Ping(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Ping after Close = %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	})
}

func TestCloseFlushesFireAndForget(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		id := mustSave(t, s, sampleEvent(1)).ID
		const n = 300
		for i := range n {
			err := s.RecordAttempt(ctx, Attempt{EventID: id, Err: fmt.Sprint("e", i)}, false)
			if err != nil {
				t.Fatalf("RecordAttempt = %v", err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openTest(t, drv, dsn, Options{})
		ev, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Attempts != n || ev.LastError != fmt.Sprint("e", n-1) {
			t.Errorf("after Close: attempts %d last_error %q, want %d, %q", ev.Attempts, ev.LastError, n, fmt.Sprint("e", n-1))
		}
		rows, err := s.EventAttempts(ctx, id)
		if err != nil || len(rows) != n {
			t.Errorf("EventAttempts = %d rows, %v; want %d", len(rows), err, n)
		}
	})
}

func TestFireAndForgetOutlivesContext(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		id := mustSave(t, s, sampleEvent(1)).ID
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the request has ended; its outcome must still be recorded
		if err := s.RecordAttempt(ctx, Attempt{EventID: id}, false); err != nil {
			t.Fatalf("RecordAttempt(ended ctx, fire-and-forget) = %v", err)
		}
		if err := s.RecordAttempt(ctx, Attempt{EventID: id}, true); !errors.Is(err, context.Canceled) {
			t.Errorf("RecordAttempt(ended ctx, wait) = %v, want context.Canceled", err)
		}
		if err := s.MarkNotified(context.Background(), id); err != nil { // flushes the queue
			t.Fatal(err)
		}
		ev, err := s.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Attempts != 1 || ev.Status != StatusHandled {
			t.Errorf("attempts %d status %q, want 1 handled", ev.Attempts, ev.Status)
		}
		if ev.ReceivedAt.Location() != time.UTC || ev.HandledAt.Location() != time.UTC {
			t.Errorf("times come back in %v and %v, want UTC", ev.ReceivedAt.Location(), ev.HandledAt.Location())
		}
	})
}

// TestBornNotified: with Options.BornNotified new events owe no
// notification, so no fan-out scan ever sees them.
func TestBornNotified(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		for _, born := range []bool{false, true} {
			s := openTest(t, drv, testDSN(t, drv), Options{BornNotified: born})
			mustSave(t, s, sampleEvent(1))
			evs, err := s.UnnotifiedEvents(context.Background(), 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: 0}[born]; len(evs) != want {
				t.Errorf("%s BornNotified=%v: %d unnotified events, want %d", drv, born, len(evs), want)
			}
		}
	})
}
