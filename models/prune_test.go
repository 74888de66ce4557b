package models

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

func TestPruneHandled(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		now := time.Now()
		old := now.Add(-48 * time.Hour)
		type row struct {
			at     time.Time
			status string
			gone   bool
		}
		rows := []row{
			{old, StatusHandled, true},
			{old, StatusHandled, true},
			{old, StatusReceived, false},
			{old, StatusFailed, false},
			{now, StatusHandled, false},
			{now, StatusReceived, false},
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			e := sampleEvent(i)
			e.ReceivedAt = r.at
			ids[i] = mustSave(t, s, e).ID
			switch r.status {
			case StatusHandled:
				s.RecordAttempt(ctx, Attempt{EventID: ids[i], Err: "first try failed"}, false)
				s.RecordAttempt(ctx, Attempt{EventID: ids[i]}, true)
			case StatusFailed:
				s.RecordAttempt(ctx, Attempt{EventID: ids[i], Err: "x"}, true)
			}
		}
		n, err := s.PruneHandled(ctx, now.Add(-24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("PruneHandled = %d, %v; want 2, nil", n, err)
		}
		for i, r := range rows {
			_, err := s.GetEvent(ctx, ids[i])
			if gone := errors.Is(err, ErrNotFound); gone != r.gone || (err != nil && !gone) {
				t.Errorf("event %d (%s, %v ago): GetEvent = %v, want gone=%v", i, r.status, now.Sub(r.at).Round(time.Hour), err, r.gone)
			}
			att, err := s.EventAttempts(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if r.gone && len(att) != 0 {
				t.Errorf("event %d pruned but %d attempts left", i, len(att))
			}
		}
		if n, err := s.PruneHandled(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
			t.Errorf("second PruneHandled = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestPruneHandledManyChunks(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		var evs []*NewEvent
		const n = pruneChunk*2 + 17
		for i := range n {
			e := sampleEvent(i)
			e.ReceivedAt = time.Now().Add(-time.Hour)
			evs = append(evs, e)
		}
		saved := saveAll(t, s, evs)
		for i, sv := range saved {
			s.RecordAttempt(ctx, Attempt{EventID: sv.ID}, i == len(saved)-1)
		}
		got, err := s.PruneHandled(ctx, time.Now())
		if err != nil || got != n {
			t.Fatalf("PruneHandled = %d, %v; want %d", got, err, n)
		}
		left, _, err := s.ListEvents(ctx, EventFilter{})
		if err != nil || len(left) != 0 {
			t.Errorf("after pruning: %d events, %v", len(left), err)
		}
	})
}

// TestPruneDeliveries: succeeded deliveries last updated before the cutoff go
// with their attempts; newer ones, pending ones and dead ones stay.
func TestPruneDeliveries(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		clock := newFakeClock()
		s := openTest(t, drv, testDSN(t, drv), Options{Now: clock.Now})
		ctx := context.Background()
		ds := make([]NewDelivery, 5)
		for i := range ds {
			ds[i] = newDelivery(i)
		}
		if err := s.CreateDeliveries(ctx, 0, ds); err != nil {
			t.Fatal(err)
		}
		claimed := mustClaim(t, s, clock.Now(), 5)
		// Old: two succeeded (one after a failed try), one dead, one pending again.
		record(t, s, claimed[0], 200, "", time.Time{})
		record(t, s, claimed[1], 500, "http 500", clock.Now())
		retried := mustClaim(t, s, clock.Now(), 1)[0]
		record(t, s, retried, 200, "", time.Time{})
		record(t, s, claimed[2], 500, "http 500", time.Time{})
		record(t, s, claimed[3], 500, "http 500", clock.Now().Add(48*time.Hour))
		cutoff := clock.Now().Add(time.Hour)
		clock.Advance(2 * time.Hour)
		record(t, s, claimed[4], 200, "", time.Time{}) // succeeded after the cutoff

		n, err := s.PruneDeliveries(ctx, cutoff)
		if err != nil || n != 2 {
			t.Fatalf("PruneDeliveries = %d, %v; want 2, nil", n, err)
		}
		for i, gone := range []bool{true, true, false, false, false} {
			_, err := s.GetDelivery(ctx, claimed[i].ID)
			if errors.Is(err, ErrNotFound) != gone || (err != nil && !errors.Is(err, ErrNotFound)) {
				t.Errorf("delivery %d: GetDelivery = %v, want gone=%v", i, err, gone)
			}
			atts, err := s.DeliveryAttempts(ctx, claimed[i].ID)
			if err != nil || (len(atts) == 0) != gone {
				t.Errorf("delivery %d: %d attempts left, %v; want gone=%v", i, len(atts), err, gone)
			}
		}
	})
}

// TestPruneIdleDoesNotPause: a prune of several chunks on a store nothing
// else writes to never leaves the writer (no pause between its chunks).
func TestPruneIdleDoesNotPause(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		const n = 3*pruneChunk + 17
		fillEvents(t, s, n)
		got, err := s.PruneHandled(context.Background(), time.Now())
		if err != nil || got != n {
			t.Fatalf("PruneHandled = %d, %v; want %d, nil", got, err, n)
		}
		if y := s.pruneYields.Load(); y != 0 {
			t.Errorf("the prune paused %d times on an idle store, want 0", y)
		}
	})
}

// TestPruneYieldsToWaitingPushes: a prune chunk committed in a batch with
// pushes leaves the writer to them afterwards (one pause); its later
// chunks, with nothing else to write, run without a pause.
func TestPruneYieldsToWaitingPushes(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		const n = 3*pruneChunk + 17
		fillEvents(t, s, n)

		// Hold the writer in a batch of its own while pushes, then the
		// prune's first chunk, queue behind it.
		entered, release := make(chan struct{}), make(chan struct{})
		holdDone := make(chan error, 1)
		go func() {
			holdDone <- s.groupExec(ctx, true, func(context.Context, *sql.Tx) error {
				close(entered)
				<-release
				return nil
			})
		}()
		<-entered
		const pushes = 20
		pushErrs := make(chan error, pushes)
		for i := range pushes {
			go func() {
				_, err := s.SaveEvent(ctx, sampleEvent(i))
				pushErrs <- err
			}()
		}
		waitQueued := func(want int) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); len(s.w.queue) < want; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d writes queued, want %d", len(s.w.queue), want)
				}
			}
		}
		waitQueued(pushes)
		type result struct {
			n   int64
			err error
		}
		pruned := make(chan result, 1)
		go func() {
			n, err := s.PruneHandled(ctx, time.Now())
			pruned <- result{n, err}
		}()
		waitQueued(pushes + 1)
		close(release)
		if err := <-holdDone; err != nil {
			t.Fatal(err)
		}
		for range pushes {
			if err := <-pushErrs; err != nil {
				t.Fatal(err)
			}
		}
		r := <-pruned
		if r.err != nil || r.n != n {
			t.Fatalf("PruneHandled = %d, %v; want %d, nil", r.n, r.err, n)
		}
		if y := s.pruneYields.Load(); y != 1 {
			t.Errorf("the prune paused %d times, want 1 (after its first chunk, committed with %d pushes; none after the later ones, alone on the writer)", y, pushes)
		}
	})
}
