package models

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRejectedSaveAndList(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		first := &Rejected{
			Reason: "undecodable body: EOF", Status: 400, Query: "signature=x&timestamp=1",
			RemoteAddr: "127.0.0.1:5555", ContentType: "text/xml", Raw: []byte("<xml"),
			ReceivedAt:    time.Date(2024, 1, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600)),
			HTTPRequestID: "req-42_a.b:c",
		}
		if err := s.SaveRejected(ctx, first); err != nil {
			t.Fatalf("SaveRejected = %v", err)
		}
		if first.ID == 0 {
			t.Fatal("SaveRejected did not assign an ID")
		}
		want := []Rejected{*first}
		for i := range 24 {
			r := &Rejected{Reason: fmt.Sprint("reason ", i), Status: 401, Raw: []byte{byte(i)}}
			if err := s.SaveRejected(ctx, r); err != nil {
				t.Fatalf("SaveRejected = %v", err)
			}
			if r.ReceivedAt.IsZero() {
				t.Fatal("SaveRejected did not assign ReceivedAt")
			}
			want = append([]Rejected{*r}, want...) // newest first
		}
		for i := range want {
			want[i].RawLen = int64(len(want[i].Raw)) // listings give the stored length
		}
		var got []Rejected
		cursor := ""
		for range 10 {
			page, next, err := s.ListRejected(ctx, 7, cursor)
			if err != nil {
				t.Fatalf("ListRejected = %v", err)
			}
			got = append(got, page...)
			if cursor = next; cursor == "" {
				break
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListRejected pages mismatch (-want +got):\n%s", diff)
		}
		all, next, err := s.ListRejected(ctx, 0, "")
		if err != nil || len(all) != len(want) || next != "" {
			t.Errorf("ListRejected(0) = %d rows, next %q, %v; want %d and no cursor", len(all), next, err, len(want))
		}
	})
}

// TestPruneAndTrimRejected: PruneRejected deletes refusals older than its
// bound; TrimRejected deletes the oldest until the bodies kept fit.
func TestPruneAndTrimRejected(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var ids []int64
		for i := range 10 {
			r := &Rejected{Reason: "junk", Status: 400, Raw: make([]byte, 100), BodySize: 100, ReceivedAt: t0.Add(time.Duration(i) * time.Hour)}
			if err := s.SaveRejected(ctx, r); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		if n, err := s.PruneRejected(ctx, t0.Add(2*time.Hour)); err != nil || n != 2 {
			t.Errorf("PruneRejected(t0+2h) = %d, %v; want 2", n, err)
		}
		if n, err := s.TrimRejected(ctx, 350); err != nil || n != 5 {
			t.Errorf("TrimRejected(350) over 800 bytes = %d, %v; want 5", n, err)
		}
		kept, _, err := s.ListRejected(ctx, 0, "")
		if err != nil || len(kept) != 3 || kept[0].ID != ids[9] || kept[2].ID != ids[7] {
			t.Errorf("ListRejected after pruning = %d rows, %v; want the newest 3", len(kept), err)
		}
		if n, err := s.TrimRejected(ctx, 350); err != nil || n != 0 {
			t.Errorf("TrimRejected(350) over 300 bytes = %d, %v; want 0", n, err)
		}
	})
}
