package models

import (
	"context"
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
