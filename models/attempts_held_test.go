package models

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// failFastDSN returns a fresh database for drv on which a write that waits
// for a lock fails soon: after SQLite's busy timeout of 100 ms, PostgreSQL's
// lock_timeout of 500 ms (the migration at Open shares catalog locks with
// parallel tests). blockWriter then makes the database fail every write.
func failFastDSN(t testing.TB, drv string) string {
	t.Helper()
	if drv == DriverPostgres {
		return testPostgresDSN(t) + " lock_timeout=500"
	}
	return testDSN(t, drv) + "?_busy_timeout=100"
}

// TestAttemptsHeldWhileDatabaseFails records attempts (fire-and-forget, as a
// push's handler does) while the database fails every write, then lets it
// take writes again: every attempt must be recorded, in order, and no
// recovery claim may be won meanwhile on an event whose attempt waits.
func TestAttemptsHeldWhileDatabaseFails(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := failFastDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		ctx := context.Background()
		const n = 20
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = mustSave(t, s, sampleEvent(i)).ID
		}
		release := blockWriter(t, drv, dsn)
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, id := range ids {
			// Event 0 gets a failure then a success: order matters.
			if i == 0 {
				if err := s.RecordAttempt(ctx, Attempt{EventID: id, Started: t0, Err: "first"}, false); err != nil {
					t.Fatalf("RecordAttempt(%d) = %v", id, err)
				}
			}
			a := Attempt{EventID: id, Started: t0.Add(time.Second), Duration: time.Millisecond, Reply: []byte(fmt.Sprint(i))}
			if err := s.RecordAttempt(ctx, a, false); err != nil {
				t.Fatalf("RecordAttempt(%d) = %v", id, err)
			}
		}
		// Let several batches fail.
		time.Sleep(600 * time.Millisecond)
		for _, id := range ids {
			if !s.AttemptPending(id) {
				t.Fatalf("AttemptPending(%d) = false while the database fails, want true", id)
			}
			won, err := s.ClaimReceived(ctx, id, time.Now(), time.Minute)
			if won || err != nil {
				t.Fatalf("ClaimReceived(%d) with its attempt waiting = %v, %v; want false, nil", id, won, err)
			}
		}
		release()
		waitFor(t, func() bool {
			for _, id := range ids {
				// The commit is visible a moment before the writer hands
				// the op its outcome (and stops counting it pending).
				if ev, err := s.GetEvent(ctx, id); err != nil || ev.Status == StatusReceived || s.AttemptPending(id) {
					return false
				}
			}
			return true
		}, "every held attempt to be written")
		for i, id := range ids {
			ev, err := s.GetEvent(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantAttempts := 1
			if i == 0 {
				wantAttempts = 2
			}
			if ev.Status != StatusHandled || ev.Attempts != wantAttempts || string(ev.Reply) != fmt.Sprint(i) {
				t.Errorf("GetEvent(%d) = status %q attempts %d reply %q; want %q %d %q",
					id, ev.Status, ev.Attempts, ev.Reply, StatusHandled, wantAttempts, fmt.Sprint(i))
			}
			atts, err := s.EventAttempts(ctx, id)
			if err != nil || len(atts) != wantAttempts {
				t.Errorf("EventAttempts(%d) = %d rows, %v; want %d", id, len(atts), err, wantAttempts)
			}
			if s.AttemptPending(id) {
				t.Errorf("AttemptPending(%d) = true after the write, want false", id)
			}
			won, err := s.ClaimReceived(ctx, id, time.Now(), time.Minute)
			if won || err != nil {
				t.Errorf("ClaimReceived(%d) after its attempt = %v, %v; want false, nil", id, won, err)
			}
		}
	})
}
