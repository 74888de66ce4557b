package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newDelivery(i int) NewDelivery {
	return NewDelivery{URL: fmt.Sprintf("http://sink.test/%d", i), Kind: "event.CLICK", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}
}

func TestCreateDeliveriesFansOutOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		ev := mustSave(t, s, sampleEvent(1))
		other := mustSave(t, s, sampleEvent(2))
		got, err := s.UnnotifiedEventsByID(ctx, []int64{other.ID, ev.ID, ev.ID + 12345})
		if err != nil || len(got) != 2 || got[0].ID != ev.ID || got[0].Kind != "event.CLICK" || len(got[0].Payload) == 0 {
			t.Fatalf("UnnotifiedEventsByID = %+v, %v; want both events, oldest first", got, err)
		}
		if err := s.CreateDeliveries(ctx, ev.ID, []NewDelivery{newDelivery(1), newDelivery(2)}); err != nil {
			t.Fatalf("CreateDeliveries = %v", err)
		}
		if err := s.CreateDeliveries(ctx, ev.ID, []NewDelivery{newDelivery(3)}); !errors.Is(err, ErrNotified) {
			t.Errorf("CreateDeliveries(again) = %v, want ErrNotified", err)
		}
		if err := s.CreateDeliveries(ctx, ev.ID+12345, []NewDelivery{newDelivery(3)}); !errors.Is(err, ErrNotified) {
			t.Errorf("CreateDeliveries(unknown event) = %v, want ErrNotified", err)
		}
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(4)}); err != nil {
			t.Errorf("CreateDeliveries(no event) = %v", err)
		}
		// No subscriber wants it: still marked notified.
		if n, err := s.FanOut(ctx, []EventDeliveries{{EventID: other.ID}, {EventID: ev.ID}}); err != nil || n != 1 {
			t.Errorf("FanOut = %d, %v; want 1 (the other event only)", n, err)
		}
		left, err := s.UnnotifiedEvents(ctx, 0, 0)
		if err != nil || len(left) != 0 {
			t.Errorf("UnnotifiedEvents = %d events, %v; want none", len(left), err)
		}
		ds, _, err := s.ListDeliveries(ctx, DeliveryFilter{EventID: ev.ID})
		if err != nil || len(ds) != 2 {
			t.Fatalf("ListDeliveries(event) = %d, %v; want 2", len(ds), err)
		}
		d := ds[1]
		if d.Status != DeliveryPending || d.Attempts != 0 || d.URL != "http://sink.test/1" ||
			string(d.Body) != `{"n":1}` || d.NextAttemptAt.IsZero() || d.CreatedAt.IsZero() {
			t.Errorf("delivery = %+v, want a new pending one to sink.test/1", d)
		}
	})
}

func TestListDeliveriesFiltersAndPages(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		ev := mustSave(t, s, sampleEvent(1))
		if err := s.CreateDeliveries(ctx, ev.ID, []NewDelivery{newDelivery(0), newDelivery(1), newDelivery(2)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateDeliveries(ctx, 0, []NewDelivery{newDelivery(3), newDelivery(4)}); err != nil {
			t.Fatal(err)
		}
		d := mustClaim(t, s, time.Now(), 5)[0]
		record(t, s, d, 0, "refused", time.Time{})

		var ids []int64
		cursor := ""
		for page := 0; ; page++ {
			ds, next, err := s.ListDeliveries(ctx, DeliveryFilter{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(ids) != 5 || !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("paged ids = %v, want 5 newest first", ids)
		}
		dead, _, err := s.ListDeliveries(ctx, DeliveryFilter{Status: DeliveryDead})
		if err != nil || len(dead) != 1 || dead[0].ID != d.ID {
			t.Errorf("ListDeliveries(dead) = %v, %v; want delivery %d", dead, err, d.ID)
		}
		if _, _, err := s.ListDeliveries(ctx, DeliveryFilter{Status: "lost"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ListDeliveries(status lost) = %v, want ErrInvalid", err)
		}
		if _, _, err := s.ListDeliveries(ctx, DeliveryFilter{Cursor: "!!"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ListDeliveries(bad cursor) = %v, want ErrInvalid", err)
		}
	})
}
