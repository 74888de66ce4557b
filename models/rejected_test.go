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
			ReceivedAt: time.Date(2024, 1, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600)),
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
