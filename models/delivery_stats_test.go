package models

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDeliveryStats counts pending and dead deliveries and finds the oldest
// pending one's creation, on both drivers.
func TestDeliveryStats(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		clock := newFakeClock()
		s := openTest(t, drv, testDSN(t, drv), Options{Now: clock.Now})
		ctx := context.Background()
		got, err := s.DeliveryStats(ctx)
		if err != nil || got != (DeliveryStats{}) {
			t.Fatalf("DeliveryStats(empty) = %+v, %v; want zero", got, err)
		}
		t0 := clock.Now()
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(1)}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(2), newDelivery(3)}); err != nil {
			t.Fatal(err)
		}
		// The first one dies (no next attempt), one succeeds.
		ds := mustClaim(t, s, clock.Now(), 3)
		for _, d := range ds {
			switch d.URL {
			case newDelivery(1).URL:
				record(t, s, d, 500, "http 500", time.Time{})
			case newDelivery(2).URL:
				record(t, s, d, 200, "", time.Time{})
			}
		}
		got, err = s.DeliveryStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := DeliveryStats{Pending: 1, OldestPending: t0.Add(time.Minute), Dead: 1}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("DeliveryStats mismatch (-want +got):\n%s", diff)
		}
	})
}
