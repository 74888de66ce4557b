package models

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

func TestEventsAfterFilters(t *testing.T) {
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
			{"from and key", EventFilter{FromUser: "u2", EventKey: "k3"}, func(_ int, e *NewEvent) bool { return e.FromUser == "u2" && e.EventKey == "k3" }},
			{"to and msg type", EventFilter{ToUser: "gh_b", MsgType: "text"}, func(_ int, e *NewEvent) bool { return e.ToUser == "gh_b" && e.MsgType == "text" }},
			{"request id", EventFilter{RequestID: "r4"}, func(_ int, e *NewEvent) bool { return e.RequestID == "r4" }},
			{"status failed", EventFilter{Status: StatusFailed}, func(i int, _ *NewEvent) bool { return f.stat[i] == StatusFailed }},
			{"status handled", EventFilter{Status: StatusHandled}, func(i int, _ *NewEvent) bool { return f.stat[i] == StatusHandled }},
			{"time window", EventFilter{Since: since, Until: until}, func(i int, _ *NewEvent) bool { return i >= 100 && i < 200 }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := f.want(tt.keep)
				slices.Reverse(want) // oldest first
				var got []int64
				after := int64(0)
				for {
					rows, err := s.EventsAfter(context.Background(), tt.filter, after, s.EventHorizon(), 37)
					if err != nil {
						t.Fatalf("EventsAfter(%+v, %d) = %v", tt.filter, after, err)
					}
					if len(rows) == 0 {
						break
					}
					for i := range rows {
						if !tt.filter.Match(&rows[i]) {
							t.Errorf("Match(%+v) of row %d selected by SQL = false, want true", tt.filter, rows[i].ID)
						}
						got = append(got, rows[i].ID)
					}
					after = rows[len(rows)-1].ID
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("EventsAfter(%+v) ids (-want +got):\n%s", tt.filter, diff)
				}
				// Match agrees with the SQL on the rows it left out too.
				all, err := s.EventsAfter(context.Background(), EventFilter{}, 0, 0, FeedPage)
				if err != nil {
					t.Fatal(err)
				}
				var matched []int64
				for i := range all {
					if tt.filter.Match(&all[i]) {
						matched = append(matched, all[i].ID)
					}
				}
				if diff := cmp.Diff(want, matched); diff != "" {
					t.Errorf("Match(%+v) ids (-want +got):\n%s", tt.filter, diff)
				}
			})
		}
	})
}

func TestEventsAfterPlanUsesPrimaryKey(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		var evs []*NewEvent
		for i := range 2000 {
			evs = append(evs, sampleEvent(i))
		}
		saveAll(t, s, evs)
		explain, pkey := "EXPLAIN QUERY PLAN ", "PRIMARY KEY"
		if drv == DriverPostgres {
			explain, pkey = "EXPLAIN ", "events_pkey"
			if _, err := s.sqlDB.ExecContext(ctx, "ANALYZE events"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			f     EventFilter
			index []string // indexes in id order, by (status, id) for a status
		}{
			{EventFilter{}, []string{pkey}},
			{EventFilter{Event: "CLICK", FromUser: "oUser"}, []string{pkey}},
			{EventFilter{Status: StatusReceived}, []string{pkey, "idx_events_unhandled"}},
		} {
			f, want := c.f, c.index
			stmt := f.where(s.db.Session(&gorm.Session{DryRun: true}).Model(&Event{})).
				Where("id > ?", 1).Where("id < ?", 1<<62).Order("id").Limit(FeedPage).Find(&[]Event{}).Statement
			plan := explainPlan(t, s, explain+stmt.SQL.String(), stmt.Vars...)
			if !slices.ContainsFunc(want, func(ix string) bool { return strings.Contains(plan, ix) }) {
				t.Errorf("plan of EventsAfter(%+v) does not use %s:\n%s", f, want, plan)
			}
		}
	})
}

func TestInflightHorizon(t *testing.T) {
	g := newIDGen(1)
	var f inflight
	// A generator that made no id yet: the horizon is now, not 1 (a new
	// process must not take every stored event for new).
	before := FirstIDAt(time.Now())
	if got := f.horizon(g); got < before {
		t.Fatalf("horizon() of a fresh generator = %d, want at least FirstIDAt(now) %d", got, before)
	}
	a, b, c := f.begin(g), f.begin(g), f.begin(g)
	idle := int64(-1) // nothing in flight: above c, at most the current millisecond's first id
	steps := []struct {
		end  int64
		want int64
	}{
		{b, a},      // a still in flight
		{a, c},      // a and b done: c holds the horizon
		{a, c},      // repeated end: no change
		{c, idle},   // nothing in flight
		{999, idle}, // unknown id: ignored
	}
	if got := f.horizon(g); got != a {
		t.Fatalf("horizon() = %d, want %d", got, a)
	}
	for _, s := range steps {
		f.end(s.end)
		got := f.horizon(g)
		if s.want == idle {
			if hi := max(c+1, FirstIDAt(time.Now())); got <= c || got > hi {
				t.Errorf("after end(%d): horizon() = %d, want in (%d, %d]", s.end, got, c, hi)
			}
			continue
		}
		if got != s.want {
			t.Errorf("after end(%d): horizon() = %d, want %d", s.end, got, s.want)
		}
	}
}

// TestEventHorizonUnderConcurrentSaves reads in id order up to the horizon
// while many goroutines save: every saved event is read exactly once,
// although the commits land out of id order.
func TestEventHorizonUnderConcurrentSaves(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		const writers, each = 8, 150
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			saved []int64
		)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e := sampleEvent(w*each + i)
					e.DedupeKey = fmt.Sprintf("h:%d:%d", w, i)
					sv := mustSave(t, s, e)
					mu.Lock()
					saved = append(saved, sv.ID)
					mu.Unlock()
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		var got []int64
		after := int64(0)
		for finished := false; ; {
			select {
			case <-done:
				finished = true
			default:
			}
			rows, err := s.EventsAfter(ctx, EventFilter{}, after, s.EventHorizon(), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				got = append(got, r.ID)
				after = r.ID
			}
			if finished && len(rows) == 0 {
				break
			}
		}
		slices.Sort(saved)
		if diff := cmp.Diff(saved, got); diff != "" {
			t.Errorf("ids read up to the horizon (-saved +read):\n%s", diff)
		}
	})
}

// TestFilterColumnsCoverEveryField: every string field of EventFilter but
// Cursor is an exact-match condition, so a field added to the filter
// reaches the SQL, Matcher and the feeds' index together.
func TestFilterColumnsCoverEveryField(t *testing.T) {
	typ := reflect.TypeOf(EventFilter{})
	for i := range typ.NumField() {
		fld := typ.Field(i)
		if fld.Type.Kind() != reflect.String || fld.Name == "Cursor" {
			continue
		}
		var f EventFilter
		reflect.ValueOf(&f).Elem().Field(i).SetString("x")
		n := 0
		for _, w := range f.wants() {
			if w == "x" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("EventFilter.%s is in wants() %d times, want once (add it to filterCols and wants)", fld.Name, n)
		}
	}
}

// TestAllEventsAfterScansLikeGORM: the unfiltered fast path reads the same
// rows as the GORM query.
func TestAllEventsAfterScansLikeGORM(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		newListFixture(t, s)
		ctx := context.Background()
		fast, err := s.EventsAfter(ctx, EventFilter{}, 0, s.EventHorizon(), FeedPage)
		if err != nil {
			t.Fatal(err)
		}
		var slow []Event
		if err := s.db.WithContext(ctx).Order("id").Limit(FeedPage).Find(&slow).Error; err != nil {
			t.Fatal(err)
		}
		if len(fast) != listFixtureSize {
			t.Fatalf("EventsAfter read %d rows, want %d", len(fast), listFixtureSize)
		}
		if diff := cmp.Diff(slow, fast); diff != "" {
			t.Errorf("fast path vs GORM (-gorm +fast):\n%s", diff)
		}
	})
}
