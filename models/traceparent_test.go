package models

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTraceParentKept: an event's TraceParent is stored by both insert paths
// (one row, and the array statements of a group commit on PostgreSQL),
// read back for the fan-out, and carried by the deliveries it creates to
// their claims.
func TestTraceParentKept(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		ctx := context.Background()
		s, _ := newTestStore(t, drv)
		tp := func(i int) string {
			if i%3 == 2 {
				return "" // tracing off
			}
			return fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
		}
		evs := make([]*NewEvent, 24)
		for i := range evs {
			evs[i] = sampleEvent(i)
			evs[i].TraceParent = tp(i)
		}
		saved := []Saved{mustSave(t, s, evs[0])}
		saved = append(saved, saveAll(t, s, evs[1:])...)
		ids := make([]int64, len(saved))
		want := make(map[int64]string, len(saved))
		for i, sv := range saved {
			ids[i], want[sv.ID] = sv.ID, tp(i)
		}
		for _, id := range ids[:3] {
			ev, err := s.GetEvent(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.TraceParent != want[id] {
				t.Errorf("Got(GetEvent(%d).TraceParent) = %q, want %q", id, ev.TraceParent, want[id])
			}
		}
		unnotified, err := s.UnnotifiedEventsByID(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		got := make(map[int64]string, len(unnotified))
		fan := make([]EventDeliveries, 0, len(unnotified))
		for _, ev := range unnotified {
			got[ev.ID] = ev.TraceParent
			fan = append(fan, EventDeliveries{EventID: ev.ID, Deliveries: []NewDelivery{
				{URL: "http://127.0.0.1:1/hook", Kind: ev.Kind, Body: []byte("{}"), TraceParent: ev.TraceParent}}})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UnnotifiedEventsByID trace parents (-want +got):\n%s", diff)
		}
		if _, err := s.FanOut(ctx, fan); err != nil {
			t.Fatal(err)
		}
		ds, err := s.ClaimDueDeliveries(ctx, time.Now().Add(time.Minute), 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		claimed := make(map[int64]string, len(ds))
		for _, d := range ds {
			claimed[d.EventID] = d.TraceParent
		}
		if diff := cmp.Diff(want, claimed); diff != "" {
			t.Errorf("claimed deliveries' trace parents by event (-want +got):\n%s", diff)
		}
	})
}

// TestCommitSizes: the histogram of batch sizes counts every batch once,
// in the bucket of its size, and sums their writes.
func TestCommitSizes(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		evs := make([]*NewEvent, 40)
		for i := range evs {
			evs[i] = sampleEvent(i)
		}
		saveAll(t, s, evs)
		cs, st := s.CommitSizes(), s.WriterStats()
		if cs.Count != uint64(st.Batches) || cs.Sum != float64(st.Writes) {
			t.Errorf("Got(CommitSizes count, sum) = %d, %v, want %d, %d (WriterStats)", cs.Count, cs.Sum, st.Batches, st.Writes)
		}
		if cs.Sum < float64(len(evs)) {
			t.Errorf("Got(CommitSizes sum) = %v, want at least %d", cs.Sum, len(evs))
		}
		var prev uint64
		for _, b := range CommitSizeBounds {
			if cs.Buckets[b] < prev {
				t.Errorf("Got(bucket %v) = %d, below the bucket before (%d): want cumulative counts", b, cs.Buckets[b], prev)
			}
			prev = cs.Buckets[b]
		}
		if prev > cs.Count {
			t.Errorf("Got(bucket 256) = %d, above the count %d", prev, cs.Count)
		}
	})
}
