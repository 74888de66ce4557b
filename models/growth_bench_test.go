package models

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// The cost of a store as it grows (issue #15). These benchmarks build their
// tables first (not timed), then measure, in the same run, against an empty
// store. PUSHGATE_BENCH_ROWS sets how many old events they build (default
// 1,000,000):
//
//	PUSHGATE_BENCH_ROWS=1000000 go test -run '^$' -bench Growth -benchtime 1x -timeout 30m ./models

func benchRows(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("PUSHGATE_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PUSHGATE_BENCH_ROWS=%q: %v", v, err)
		}
	}
	return n
}

// growthAccounts and growthEvents spread the built rows: the filtered
// listing asks for one account and one event, 1/50 of the rows.
var (
	growthAccounts = []string{"acct0", "acct1", "acct2", "acct3", "acct4", "acct5", "acct6", "acct7", "acct8", "acct9"}
	growthEvents   = []string{"CLICK", "VIEW", "subscribe", "SCAN", "LOCATION"}
)

// fillEvents inserts n handled events received evenly over the 30 days
// before an hour ago, ids in time order below any id the store makes next.
func fillEvents(b testing.TB, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	first, last := now.Add(-30*24*time.Hour), now.Add(-time.Hour)
	step := last.Sub(first) / time.Duration(max(n, 1))
	idStart := FirstIDAt(first)
	idStep := (FirstIDAt(last) - idStart) / int64(max(n, 1))
	start := time.Now()
	if s.driver == DriverPostgres {
		// One statement: the rows are made by the server.
		_, err := s.sqlDB.ExecContext(ctx, `INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type,
 event, event_key, from_user, to_user, create_time, msg_id, request_id, format, status, attempts, duplicates,
 received_at, last_seen, last_error, notified)
SELECT $1::bigint + g*$2::bigint, 'fill:' || g, 'acct' || (g % 10), '', '', 'event.CLICK', 'event',
 (ARRAY['CLICK','VIEW','subscribe','SCAN','LOCATION'])[1 + (g / 10) % 5], 'KEY_' || g, 'oUser' || (g % 1000), 'gh_x',
 1700000000 + g, '', '', 'xml', 'handled', 1, 0,
 $3::timestamptz + g * ($4::bigint * interval '1 microsecond'), $3::timestamptz + g * ($4::bigint * interval '1 microsecond'), '', true
FROM generate_series(0, $5::bigint - 1) AS g`, idStart, idStep, first, step.Microseconds(), n)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.sqlDB.ExecContext(ctx, "ANALYZE events"); err != nil {
			b.Fatal(err)
		}
	} else {
		const chunk = 100_000
		for lo := 0; lo < n; lo += chunk {
			tx, err := s.sqlDB.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			st, err := tx.PrepareContext(ctx, `INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type,
 event, event_key, from_user, to_user, create_time, msg_id, request_id, format, status, attempts, duplicates,
 received_at, last_seen, last_error, notified) VALUES (?, ?, ?, '', '', 'event.CLICK', 'event', ?, ?, ?, 'gh_x', ?, '', '', 'xml', 'handled', 1, 0, ?, ?, '', true)`)
			if err != nil {
				b.Fatal(err)
			}
			for g := lo; g < min(lo+chunk, n); g++ {
				at := dbTime(first.Add(time.Duration(g) * step))
				if _, err := st.ExecContext(ctx, idStart+int64(g)*idStep, "fill:"+strconv.Itoa(g), growthAccounts[g%10],
					growthEvents[(g/10)%5], "KEY_"+strconv.Itoa(g), "oUser"+strconv.Itoa(g%1000), 1700000000+g, at, at); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.sqlDB.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: built %d events in %v", s.driver, n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkGrowthIngest saves pushes from 50 goroutines (each waiting for
// its commit) into an empty store, into one holding PUSHGATE_BENCH_ROWS
// events, and into an empty one again, in the same run; it reports pushes/s.
func BenchmarkGrowthIngest(b *testing.B) {
	n := benchRows(b)
	for _, drv := range drivers {
		for _, size := range []int{0, n, 0} { // empty, built, empty again: the machine drifts
			b.Run(fmt.Sprintf("%s/rows=%d", drv, size), func(b *testing.B) {
				s, _ := newTestStore(b, drv)
				fillEvents(b, s, size)
				const pushes, workers = 20_000, 50
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range workers {
					wg.Go(func() {
						for i := w; i < pushes; i += workers {
							e := sampleEvent(i)
							e.Account = growthAccounts[i%10]
							if _, err := s.SaveEvent(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(pushes)/time.Since(start).Seconds(), "pushes/s")
			})
		}
	}
}

// BenchmarkGrowthListFiltered times GET /v1/events' query (ListEvents) with
// an account + event + since filter on a store holding PUSHGATE_BENCH_ROWS
// events: "recent" asks for the last 2 days (plenty match), "none" for a
// since after every stored event (nothing matches: the worst case of a scan
// in id order). It reports p50 and p99 of 200 calls.
func BenchmarkGrowthListFiltered(b *testing.B) {
	n := benchRows(b)
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			s, _ := newTestStore(b, drv)
			fillEvents(b, s, n)
			for _, c := range []struct {
				name  string
				since time.Duration
			}{{"recent", 48 * time.Hour}, {"none", 30 * time.Minute}} {
				b.Run(c.name, func(b *testing.B) {
					f := EventFilter{Account: "acct3", Event: "CLICK", Since: time.Now().Add(-c.since), Limit: 50}
					var lat []time.Duration
					var got int
					b.ResetTimer()
					for range 200 {
						t0 := time.Now()
						rows, _, err := s.ListEvents(context.Background(), f)
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t0))
						got = len(rows)
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(got), "rows")
				})
			}
		})
	}
}

// TestListEventsFilterPlanUsesAccountEventIndex: GET /v1/events with an
// account + event + since filter walks idx_events_account_event_id (account, event, id, received_at) instead of
// walking the table in id order (at 100,000 rows: p99 434 ms -> 1.3 ms on
// SQLite when nothing matches, BenchmarkGrowthListFiltered).
func TestListEventsFilterPlanUsesAccountEventIndex(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		fillEvents(t, s, 20_000)
		explain := "EXPLAIN QUERY PLAN "
		if drv == DriverPostgres {
			explain = "EXPLAIN "
		}
		f := EventFilter{Account: "acct3", Event: "CLICK", Since: time.Now().Add(-30 * time.Minute)}
		stmt := f.where(s.db.Session(&gorm.Session{DryRun: true}).Model(&Event{})).
			Select(s.eventListColumns()).Order("id DESC").Limit(DefaultPageSize + 1).Find(&[]Event{}).Statement
		plan := explainPlan(t, s, explain+stmt.SQL.String(), stmt.Vars...)
		if !strings.Contains(plan, "idx_events_account_event_id") {
			t.Errorf("plan of ListEvents(%+v) does not use idx_events_account_event_id:\n%s", f, plan)
		}
	})
}

// BenchmarkGrowthPruneDuringIngest builds PUSHGATE_BENCH_ROWS handled
// events, all older than the retention, then ingests from 50 goroutines
// (each waiting for its commit): first alone (20,000 pushes), then while
// PruneHandled deletes every built event, until the prune returns. It
// reports both ingest rates, their ratio and the prune's rows/s.
func BenchmarkGrowthPruneDuringIngest(b *testing.B) {
	n := benchRows(b)
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			s, _ := newTestStore(b, drv)
			fillEvents(b, s, n)
			var next atomic.Int64
			ingest := func(stop func() bool) float64 {
				const workers = 50
				var wg sync.WaitGroup
				var done atomic.Int64
				start := time.Now()
				for range workers {
					wg.Go(func() {
						for !stop() {
							i := int(next.Add(1))
							e := sampleEvent(i)
							e.Account = growthAccounts[i%10]
							if _, err := s.SaveEvent(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
							done.Add(1)
						}
					})
				}
				wg.Wait()
				return float64(done.Load()) / time.Since(start).Seconds()
			}
			b.ResetTimer()
			var alone atomic.Int64
			rate0 := ingest(func() bool { return alone.Add(1) > 20_000 })
			var pruned atomic.Bool
			var deleted int64
			var pruneTook time.Duration
			go func() {
				defer pruned.Store(true)
				t0 := time.Now()
				var err error
				deleted, err = s.PruneHandled(context.Background(), time.Now().Add(-30*time.Minute))
				pruneTook = time.Since(t0)
				if err != nil {
					b.Error(err)
				}
			}()
			rate1 := ingest(pruned.Load)
			if deleted != int64(n) {
				b.Errorf("PruneHandled deleted %d events, want %d", deleted, n)
			}
			b.ReportMetric(rate0, "alone-pushes/s")
			b.ReportMetric(rate1, "pruning-pushes/s")
			b.ReportMetric(rate1/rate0, "ratio")
			b.ReportMetric(float64(deleted)/pruneTook.Seconds(), "pruned/s")
		})
	}
}
