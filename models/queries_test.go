package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listFixture is a set of stored events with everything ListEvents filters on.
type listFixture struct {
	base time.Time
	evs  []*NewEvent
	ids  []int64
	stat []string
}

const listFixtureSize = 620

func newListFixture(t *testing.T, s *Store) *listFixture {
	t.Helper()
	f := &listFixture{base: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	for i := range listFixtureSize {
		e := sampleEvent(i)
		e.Event = []string{"CLICK", "VIEW", "subscribe"}[i%3]
		e.MsgType = []string{"event", "text"}[i%2]
		e.FromUser = fmt.Sprintf("u%d", i%5)
		e.ToUser = []string{"gh_a", "gh_b"}[i%2]
		e.EventKey = fmt.Sprintf("k%d", i%7)
		if i%4 == 0 {
			e.RequestID = fmt.Sprintf("r%d", i%10)
		}
		e.ReceivedAt = f.base.Add(time.Duration(i) * time.Minute)
		f.evs = append(f.evs, e)
	}
	for _, sv := range saveAll(t, s, f.evs) {
		f.ids = append(f.ids, sv.ID)
	}
	ctx := context.Background()
	for i, id := range f.ids {
		switch i % 3 {
		case 0:
			f.stat = append(f.stat, StatusReceived)
		case 1:
			f.stat = append(f.stat, StatusHandled)
			s.RecordAttempt(ctx, Attempt{EventID: id}, false)
		case 2:
			f.stat = append(f.stat, StatusFailed)
			s.RecordAttempt(ctx, Attempt{EventID: id, Err: "x"}, false)
		}
	}
	// A waited write commits after every fire-and-forget one queued before it.
	if err := s.MarkNotified(ctx, f.ids[0]); err != nil {
		t.Fatal(err)
	}
	return f
}

// want returns the ids of the fixture events that keep says, newest first.
func (f *listFixture) want(keep func(i int, e *NewEvent) bool) []int64 {
	var out []int64
	for i, e := range f.evs {
		if keep(i, e) {
			out = append(out, f.ids[i])
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// listAll pages through ListEvents with page size n and returns the ids.
func listAll(t *testing.T, s *Store, filter EventFilter, n int) []int64 {
	t.Helper()
	filter.Limit = n
	var ids []int64
	for pages := 0; ; pages++ {
		rows, next, err := s.ListEvents(context.Background(), filter)
		if err != nil {
			t.Fatalf("ListEvents(%+v) = %v", filter, err)
		}
		if len(rows) > n {
			t.Fatalf("ListEvents returned %d rows, limit %d", len(rows), n)
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if next == "" {
			return ids
		}
		if pages > listFixtureSize {
			t.Fatal("ListEvents keeps returning a next cursor")
		}
		filter.Cursor = next
	}
}

func TestListEvents(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		f := newListFixture(t, s)
		since, until := f.base.Add(100*time.Minute), f.base.Add(200*time.Minute)
		tests := []struct {
			name   string
			filter EventFilter
			keep   func(i int, e *NewEvent) bool
		}{
			{"all", EventFilter{}, func(int, *NewEvent) bool { return true }},
			{"event", EventFilter{Event: "VIEW"}, func(_ int, e *NewEvent) bool { return e.Event == "VIEW" }},
			{"msg_type", EventFilter{MsgType: "text"}, func(_ int, e *NewEvent) bool { return e.MsgType == "text" }},
			{"from_user", EventFilter{FromUser: "u3"}, func(_ int, e *NewEvent) bool { return e.FromUser == "u3" }},
			{"to_user", EventFilter{ToUser: "gh_b"}, func(_ int, e *NewEvent) bool { return e.ToUser == "gh_b" }},
			{"event_key", EventFilter{EventKey: "k4"}, func(_ int, e *NewEvent) bool { return e.EventKey == "k4" }},
			{"request_id", EventFilter{RequestID: "r8"}, func(_ int, e *NewEvent) bool { return e.RequestID == "r8" }},
			{"status", EventFilter{Status: StatusFailed}, func(i int, _ *NewEvent) bool { return f.stat[i] == StatusFailed }},
			{"since", EventFilter{Since: since}, func(i int, _ *NewEvent) bool { return i >= 100 }},
			{"until", EventFilter{Until: until}, func(i int, _ *NewEvent) bool { return i < 200 }},
			{"since and until in another zone", EventFilter{Since: since.In(time.FixedZone("X", -5*3600)), Until: until},
				func(i int, _ *NewEvent) bool { return i >= 100 && i < 200 }},
			{"combined", EventFilter{Event: "CLICK", FromUser: "u1", Status: StatusReceived},
				func(i int, e *NewEvent) bool {
					return e.Event == "CLICK" && e.FromUser == "u1" && f.stat[i] == StatusReceived
				}},
			{"no match", EventFilter{FromUser: "nobody"}, func(int, *NewEvent) bool { return false }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				want := f.want(tc.keep)
				for _, n := range []int{7, MaxPageSize} {
					got := listAll(t, s, tc.filter, n)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("ListEvents(%+v) pages of %d: ids mismatch (-want +got):\n%s", tc.filter, n, diff)
					}
				}
			})
		}
	})
}

func TestListEventsLimitsAndCursor(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		f := newListFixture(t, s)
		ctx := context.Background()
		for _, tc := range []struct{ limit, want int }{{0, DefaultPageSize}, {-3, DefaultPageSize}, {10, 10}, {1000, MaxPageSize}} {
			rows, next, err := s.ListEvents(ctx, EventFilter{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.want || next == "" {
				t.Errorf("ListEvents(Limit %d) = %d rows, next %q; want %d rows and a next cursor", tc.limit, len(rows), next, tc.want)
			}
		}
		rows, next, err := s.ListEvents(ctx, EventFilter{Limit: listFixtureSize})
		if err != nil || len(rows) != MaxPageSize {
			t.Fatalf("ListEvents = %d rows, %v", len(rows), err)
		}
		rest, last, err := s.ListEvents(ctx, EventFilter{Limit: listFixtureSize, Cursor: next})
		if err != nil || len(rest) != listFixtureSize-MaxPageSize || last != "" {
			t.Errorf("second page = %d rows, next %q, %v; want %d rows and no cursor", len(rest), last, err, listFixtureSize-MaxPageSize)
		}
		if got := rows[0]; got.ID != slices.Max(f.ids) || string(got.Raw) != string(f.evs[slices.Index(f.ids, got.ID)].Raw) {
			t.Errorf("first row = %d, want the newest %d with its raw body", got.ID, slices.Max(f.ids))
		}
		for _, bad := range []string{"garbage!", "AAAA", encodeCursor(1)[1:]} {
			if _, _, err := s.ListEvents(ctx, EventFilter{Cursor: bad}); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListEvents(Cursor %q) = %v, want ErrInvalid", bad, err)
			}
		}
	})
}

func TestUnnotifiedEventsAndMarkNotified(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		var evs []*NewEvent
		for i := range 10 {
			evs = append(evs, sampleEvent(i))
		}
		var ids []int64
		for _, sv := range saveAll(t, s, evs) {
			ids = append(ids, sv.ID)
		}
		slices.Sort(ids)
		if err := s.MarkNotified(ctx, ids[0], ids[3], ids[9], 12345); err != nil {
			t.Fatalf("MarkNotified = %v", err)
		}
		if err := s.MarkNotified(ctx); err != nil {
			t.Fatalf("MarkNotified() = %v", err)
		}
		page, err := s.UnnotifiedEvents(ctx, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		more, err := s.UnnotifiedEvents(ctx, 0, page[len(page)-1].ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range append(page, more...) {
			got = append(got, e.ID)
		}
		want := []int64{ids[1], ids[2], ids[4], ids[5], ids[6], ids[7], ids[8]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UnnotifiedEvents mismatch (-want +got):\n%s", diff)
		}
	})
}
