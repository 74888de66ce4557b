package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeliveryLifecycleUnderInjectedClock(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		clock := newFakeClock()
		s := openTest(t, drv, testDSN(t, drv), Options{Now: clock.Now})
		ctx := context.Background()
		t0 := clock.Now()
		if _, ok, err := s.NextDeliveryDue(ctx); ok || err != nil {
			t.Fatalf("NextDeliveryDue(empty) = %v, %v; want none", ok, err)
		}
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(1)}); err != nil {
			t.Fatal(err)
		}
		if due, ok, err := s.NextDeliveryDue(ctx); !ok || err != nil || !due.Equal(t0) {
			t.Fatalf("NextDeliveryDue = %v, %v, %v; want %v", due, ok, err, t0)
		}
		claimed := mustClaim(t, s, clock.Now(), 1)
		d := claimed[0]
		if d.Lease == 0 || !d.NextAttemptAt.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("claimed = %+v, want a lease until +30s", d)
		}
		mustClaim(t, s, clock.Now(), 0)
		if due, _, _ := s.NextDeliveryDue(ctx); !due.Equal(t0.Add(30 * time.Second)) {
			t.Errorf("NextDeliveryDue while claimed = %v, want the lease end", due)
		}
		if err := s.RetryDelivery(ctx, d.ID); !errors.Is(err, ErrDeliveryState) {
			t.Errorf("RetryDelivery(in flight) = %v, want ErrDeliveryState", err)
		}

		// A failure with a retry in 2 minutes.
		record(t, s, d, 500, "http 500", t0.Add(2*time.Minute))
		clock.Advance(time.Minute)
		mustClaim(t, s, clock.Now(), 0)
		clock.Advance(time.Minute)
		d = mustClaim(t, s, clock.Now(), 1)[0]
		if d.Attempts != 1 {
			t.Errorf("Attempts = %d, want 1", d.Attempts)
		}

		// The lease runs out: another claim takes it, the old one is lost.
		clock.Advance(30 * time.Second)
		again := mustClaim(t, s, clock.Now(), 1)[0]
		if again.Lease == d.Lease {
			t.Fatalf("reclaim kept lease %d", d.Lease)
		}
		err := s.RecordDeliveryAttempt(ctx, DeliveryOutcome{DeliveryID: d.ID, Lease: d.Lease, Attempt: 2, Err: "late"})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("RecordDeliveryAttempt(stale lease) = %v, want ErrLeaseLost", err)
		}
		if err := s.ReleaseDelivery(ctx, d.ID, d.Lease); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("ReleaseDelivery(stale lease) = %v, want ErrLeaseLost", err)
		}
		if err := s.ReleaseDelivery(ctx, again.ID, again.Lease); err != nil {
			t.Errorf("ReleaseDelivery = %v", err)
		}
		again = mustClaim(t, s, clock.Now(), 1)[0]

		// The last failure: dead. A retry makes it due at once.
		record(t, s, again, 0, "connection refused", time.Time{})
		got := mustGet(t, s, d.ID)
		if got.Status != DeliveryDead || got.Attempts != 2 || got.LastError != "connection refused" || got.Lease != 0 {
			t.Errorf("after the last failure = %+v, want dead after 2 attempts", got)
		}
		clock.Advance(time.Hour)
		if err := s.RetryDelivery(ctx, d.ID); err != nil {
			t.Fatalf("RetryDelivery(dead) = %v", err)
		}
		d = mustClaim(t, s, clock.Now(), 1)[0]
		record(t, s, d, 200, "", time.Time{})
		got = mustGet(t, s, d.ID)
		if got.Status != DeliverySucceeded || got.Attempts != 3 || got.LastStatus != 200 || got.LastError != "" {
			t.Errorf("after success = %+v, want succeeded after 3 attempts", got)
		}
		if err := s.RetryDelivery(ctx, d.ID); !errors.Is(err, ErrDeliveryState) {
			t.Errorf("RetryDelivery(succeeded) = %v, want ErrDeliveryState", err)
		}
		if err := s.RetryDelivery(ctx, d.ID+1); !errors.Is(err, ErrNotFound) {
			t.Errorf("RetryDelivery(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetDelivery(ctx, d.ID+1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetDelivery(unknown) = %v, want ErrNotFound", err)
		}
		atts, err := s.DeliveryAttempts(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var summary []string
		for _, a := range atts {
			summary = append(summary, fmt.Sprintf("%d:%d:%s", a.Attempt, a.Status, a.Error))
		}
		want := []string{"1:500:http 500", "2:0:late", "2:0:connection refused", "3:200:"}
		if diff := cmp.Diff(want, summary); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})
}

func TestRecordDeliveryAttemptsInOneBatch(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		clock := newFakeClock()
		s := openTest(t, drv, testDSN(t, drv), Options{Now: clock.Now})
		ctx := context.Background()
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(0), newDelivery(1), newDelivery(2), newDelivery(3)}); err != nil {
			t.Fatal(err)
		}
		ds := mustClaim(t, s, clock.Now(), 4)
		next := clock.Now().Add(10 * time.Minute)
		outs := []DeliveryOutcome{
			{DeliveryID: ds[0].ID, Lease: ds[0].Lease, Attempt: 1, Status: 200},
			{DeliveryID: ds[1].ID, Lease: ds[1].Lease, Attempt: 1, Status: 500, Err: "http 500", NextAttemptAt: next},
			{DeliveryID: ds[2].ID, Lease: ds[2].Lease, Attempt: 1, Err: "connection refused"},
			{DeliveryID: ds[3].ID, Lease: ds[3].Lease + 1, Attempt: 1, Err: "stale"},
		}
		lost, err := s.RecordDeliveryAttempts(ctx, outs)
		if err != nil || len(lost) != 1 || lost[0] != ds[3].ID {
			t.Fatalf("RecordDeliveryAttempts = %v, %v; want delivery %d lost", lost, err, ds[3].ID)
		}
		want := []struct {
			status   string
			attempts int
			next     time.Time
		}{
			{DeliverySucceeded, 1, time.Time{}},
			{DeliveryPending, 1, next},
			{DeliveryDead, 1, time.Time{}},
			{DeliveryPending, 0, ds[3].NextAttemptAt}, // still claimed
		}
		for i, w := range want {
			got := mustGet(t, s, ds[i].ID)
			if got.Status != w.status || got.Attempts != w.attempts || (!w.next.IsZero() && !got.NextAttemptAt.Equal(w.next)) {
				t.Errorf("delivery %d = %s, %d attempts, next %v; want %s, %d, %v", i, got.Status, got.Attempts, got.NextAttemptAt, w.status, w.attempts, w.next)
			}
			atts, err := s.DeliveryAttempts(ctx, ds[i].ID)
			if err != nil || len(atts) != 1 || atts[0].Error != outs[i].Err || atts[0].Status != outs[i].Status {
				t.Errorf("attempts of delivery %d = %+v, %v", i, atts, err)
			}
		}
	})
}

func TestClaimRacingStoresTakeDisjointDeliveries(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		a := openTest(t, drv, dsn, Options{})
		b := openTest(t, drv, dsn, Options{})
		const n = 300
		ds := make([]NewDelivery, n)
		for i := range ds {
			ds[i] = newDelivery(i)
		}
		if err := a.CreateDeliveries(context.Background(), 0, ds); err != nil {
			t.Fatal(err)
		}
		var (
			mu  sync.Mutex
			got = map[int64]int{}
			wg  sync.WaitGroup
		)
		for w := range 6 {
			s := []*Store{a, b}[w%2]
			wg.Go(func() {
				for {
					ds, err := s.ClaimDueDeliveries(context.Background(), time.Now(), 7, time.Minute)
					if err != nil {
						t.Errorf("ClaimDueDeliveries = %v", err)
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						got[d.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(got) != n {
			t.Errorf("claimed %d distinct deliveries, want %d", len(got), n)
		}
		for id, c := range got {
			if c != 1 {
				t.Errorf("delivery %d claimed %d times", id, c)
			}
		}
	})
}

// TestFindDueUsesIndex checks that the claim's search for due deliveries is a
// range of idx_deliveries_due on both drivers, not a scan of the table.
func TestFindDueUsesIndex(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		future := time.Now().Add(time.Hour)
		ds := make([]NewDelivery, 2000)
		for i := range ds {
			ds[i] = newDelivery(i)
			ds[i].DueAt = future
		}
		if err := s.CreateDeliveries(ctx, 0, ds); err != nil {
			t.Fatal(err)
		}
		explain := "EXPLAIN QUERY PLAN "
		if drv == DriverPostgres {
			explain = "EXPLAIN "
			if _, err := s.sqlDB.ExecContext(ctx, "ANALYZE deliveries"); err != nil {
				t.Fatal(err)
			}
		}
		plan := explainPlan(t, s, explain+s.claimSQL(), s.NewID(), time.Now(), time.Now(), time.Now(), 10)
		t.Logf("plan of the claim:\n%s", plan)
		if !strings.Contains(plan, "idx_deliveries_due") {
			t.Errorf("plan of the claim does not use idx_deliveries_due:\n%s", plan)
		}
		plan = explainPlan(t, s, explain+`SELECT next_attempt_at FROM deliveries WHERE status = 'pending'
 ORDER BY next_attempt_at LIMIT 1`)
		if !strings.Contains(plan, "idx_deliveries_due") {
			t.Errorf("plan of NextDeliveryDue does not use idx_deliveries_due:\n%s", plan)
		}
	})
}

// explainPlan runs an EXPLAIN (which does not execute the statement) and joins
// the text of its rows.
func explainPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.sqlDB.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
	}
	return strings.Join(lines, "\n")
}

func mustClaim(t *testing.T, s *Store, now time.Time, want int) []Delivery {
	t.Helper()
	ds, err := s.ClaimDueDeliveries(context.Background(), now, 10, 30*time.Second)
	if err != nil || len(ds) != want {
		t.Fatalf("ClaimDueDeliveries(%v) = %d deliveries, %v; want %d", now, len(ds), err, want)
	}
	return ds
}

func mustGet(t *testing.T, s *Store, id int64) *Delivery {
	t.Helper()
	d, err := s.GetDelivery(context.Background(), id)
	if err != nil {
		t.Fatalf("GetDelivery(%d) = %v", id, err)
	}
	return d
}

func record(t *testing.T, s *Store, d Delivery, status int, msg string, next time.Time) {
	t.Helper()
	o := DeliveryOutcome{DeliveryID: d.ID, Lease: d.Lease, Attempt: d.Attempts + 1, Status: status,
		Err: msg, NextAttemptAt: next, Duration: time.Millisecond}
	if err := s.RecordDeliveryAttempt(context.Background(), o); err != nil {
		t.Fatalf("RecordDeliveryAttempt(%+v) = %v", o, err)
	}
}
