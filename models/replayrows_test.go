package models

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestGetEventsReplayColumns: GetEvents with ReplayColumns (scanned by
// hand) reads what GORM reads for the same columns, on both drivers,
// including a missing id, an authorizer's push and an empty raw body.
func TestGetEventsReplayColumns(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		var ids []int64
		for i := range 5 {
			e := sampleEvent(i)
			e.Account = "acct" + string(rune('a'+i%2))
			e.HTTPRequestID = "req-" + string(rune('a'+i))
			if i == 3 {
				e.AuthorizerAppID = "wxauth"
				e.Raw = nil
			}
			ids = append(ids, mustSave(t, s, e).ID)
		}
		ctx := context.Background()
		if err := s.RecordAttempt(ctx, Attempt{EventID: ids[1], Started: time.Now(), Err: "boom"}, true); err != nil {
			t.Fatal(err)
		}
		ask := append(slices.Clone(ids), ids[4]+1000) // one id that does not exist
		got, err := s.GetEvents(ctx, ask, ReplayColumns...)
		if err != nil {
			t.Fatal(err)
		}
		// The same columns in another order go through GORM.
		other := slices.Clone(ReplayColumns)
		slices.Reverse(other)
		want, err := s.GetEvents(ctx, ask, other...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) || len(want) != len(ids) {
			t.Fatalf("got %d and %d events, want %d", len(got), len(want), len(ids))
		}
		for i := range got {
			if !got[i].ReceivedAt.Equal(want[i].ReceivedAt) {
				t.Errorf("event %d: received_at %v, GORM %v", got[i].ID, got[i].ReceivedAt, want[i].ReceivedAt)
			}
			got[i].ReceivedAt = want[i].ReceivedAt
			if len(got[i].Raw) == 0 && len(want[i].Raw) == 0 {
				got[i].Raw, want[i].Raw = nil, nil
			}
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("event %d:\n got %+v\nwant %+v", ids[i], got[i], want[i])
			}
		}
		if got[1].Status != StatusFailed && got[1].Status != StatusReceived || got[1].Attempts != 1 {
			t.Errorf("event after a failed attempt: status %q attempts %d", got[1].Status, got[1].Attempts)
		}
		if got[3].AuthorizerAppID != "wxauth" || got[0].HTTPRequestID != "req-a" || got[2].Account != "accta" {
			t.Errorf("columns not read: %+v", got)
		}
	})
}
