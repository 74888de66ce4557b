package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pushgate/pushgate/internal/benchfill"
	"github.com/pushgate/pushgate/internal/pgtest"
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

// growthAccounts spreads the pushes the benchmarks ingest as the built
// rows are spread.
var growthAccounts = benchfill.Accounts

// fillEvents inserts n handled events (and an attempt each) received
// evenly over the 30 days before an hour ago, ids in time order below any id
// the store makes next, with set-based SQL (internal/benchfill).
func fillEvents(b testing.TB, s *Store, n int) {
	b.Helper()
	if n == 0 {
		return
	}
	now := time.Now().UTC()
	start := time.Now()
	err := benchfill.Fill(context.Background(), s.sqlDB, s.driver, benchfill.Spec{
		N: n, From: now.Add(-30 * 24 * time.Hour), To: now.Add(-time.Hour),
		Progress: func(done int) {
			if done%2_000_000 == 0 {
				b.Logf("%s: %d events built (%v)", s.driver, done, time.Since(start).Round(time.Second))
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: built %d events and their attempts in %v (load average %s)", s.driver, n, time.Since(start).Round(time.Millisecond), loadAvg())
}

// loadAvg returns the 1-, 5- and 15-minute load averages ("?" where there is no /proc).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// growthStore returns a store holding n built events. With
// PUSHGATE_BENCH_CACHE set to a directory, the built database is kept
// between runs: an SQLite file in that directory, a PostgreSQL schema
// growth_<n>_v1 in the test database; a later run opens it instead of
// building (the pushes a benchmark ingests stay in it, a few tens of
// thousands a run; its rows' times are those of the day it was built).
// Without it (the default) each call builds a fresh store.
func growthStore(b testing.TB, drv string, n int) *Store {
	b.Helper()
	dir := os.Getenv("PUSHGATE_BENCH_CACHE")
	if dir == "" || n == 0 {
		s, _ := newTestStore(b, drv)
		fillEvents(b, s, n)
		return s
	}
	ctx := context.Background()
	var dsn string
	var built func() bool
	var markBuilt func(s *Store)
	if drv == DriverPostgres {
		base := os.Getenv("PUSHGATE_TEST_PG")
		if base == "" {
			base = pgtest.DefaultDSN
		}
		schema := fmt.Sprintf("growth_%d_v1", n)
		dsn = pgtest.WithSearchPath(base, schema)
		db, err := sql.Open("pgx", base)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		built = func() bool {
			var reg sql.NullString
			if err := db.QueryRowContext(ctx, "SELECT to_regclass($1)::text", schema+".growth_built").Scan(&reg); err != nil {
				b.Fatal(err)
			}
			return reg.Valid
		}
		if !built() {
			if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
				b.Fatal(err)
			}
		}
		markBuilt = func(s *Store) {
			if _, err := s.sqlDB.ExecContext(ctx, "CREATE TABLE growth_built (n bigint)"); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		dsn = filepath.Join(dir, fmt.Sprintf("growth-%d-v1.db", n))
		marker := dsn + ".built"
		built = func() bool { _, err := os.Stat(marker); return err == nil }
		if !built() {
			for _, f := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
				os.Remove(f)
			}
		}
		markBuilt = func(*Store) {
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if !built() {
		s, err := Open(ctx, drv, dsn, Options{})
		if err != nil {
			b.Fatal(err)
		}
		fillEvents(b, s, n)
		markBuilt(s)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	} else {
		b.Logf("%s: using the %d events built in %s", drv, n, dsn)
	}
	return openTest(b, drv, dsn, Options{})
}

// BenchmarkGrowthIngest saves pushes from 50 goroutines (each waiting for
// its commit) into an empty store and into one holding PUSHGATE_BENCH_ROWS
// events, alternately, 3 rounds each (a fresh empty store each round, the
// same built one), in the same run; it reports pushes/s of each round and
// the ratio of the built store's mean to the empty ones'.
func BenchmarkGrowthIngest(b *testing.B) {
	n := benchRows(b)
	tag := strconv.FormatInt(time.Now().UnixNano(), 36) // unique keys: a cached store keeps earlier runs' pushes
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			built := growthStore(b, drv, n)
			var empty, full []float64
			for round := range 6 {
				s, size := built, n
				if round%2 == 0 {
					s, _ = newTestStore(b, drv)
					size = 0
				}
				const pushes, workers = 20_000, 50
				var wg sync.WaitGroup
				start := time.Now()
				for w := range workers {
					wg.Go(func() {
						for i := w; i < pushes; i += workers {
							e := sampleEvent(i)
							e.Account = growthAccounts[i%10]
							e.DedupeKey = fmt.Sprintf("%s/%d/%s", tag, round, e.DedupeKey)
							if _, err := s.SaveEvent(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				rate := float64(pushes) / time.Since(start).Seconds()
				b.Logf("%s round %d, %d stored: %.0f pushes/s (load average %s)", drv, round, size, rate, loadAvg())
				if size == 0 {
					empty = append(empty, rate)
				} else {
					full = append(full, rate)
				}
			}
			mean := func(v []float64) float64 {
				var t float64
				for _, x := range v {
					t += x
				}
				return t / float64(len(v))
			}
			b.ReportMetric(mean(empty), "empty-pushes/s")
			b.ReportMetric(mean(full), "built-pushes/s")
			b.ReportMetric(mean(full)/mean(empty), "ratio")
		})
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
			s := growthStore(b, drv, n)
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
		stmt := s.sinceIDBound(f.where(s.db.Session(&gorm.Session{DryRun: true}).Model(&Event{})), f.Since).
			Select(s.eventListColumns()).Order("id DESC").Limit(DefaultPageSize + 1).Find(&[]Event{}).Statement
		plan := explainPlan(t, s, explain+stmt.SQL.String(), stmt.Vars...)
		if !strings.Contains(plan, "idx_events_account_event_id") {
			t.Errorf("plan of ListEvents(%+v) does not use idx_events_account_event_id:\n%s", f, plan)
		}
		// The since filter's id bound starts the walk at since (at 10
		// million rows, without it, nothing-matches took p99 566 ms on
		// PostgreSQL).
		bound := "id>?"
		if drv == DriverPostgres {
			bound = "(id >= "
		}
		if !strings.Contains(plan, bound) {
			t.Errorf("plan of ListEvents(%+v) does not bound the index walk by id (%q):\n%s", f, bound, plan)
		}
	})
}

// BenchmarkGrowthPruneDuringIngest builds PUSHGATE_BENCH_PRUNE_ROWS
// (default 5,000,000; never cached: the prune deletes them) handled
// events, all older than the retention, then ingests from 50 goroutines
// (each waiting for its commit) while windows alternate, in the same run:
// ingest alone for PUSHGATE_BENCH_ALONE_WINDOW (default 5s), then ingest
// while PruneHandled deletes the built events for
// PUSHGATE_BENCH_PRUNE_WINDOW (default 10s; the prune is cancelled at the
// window's end and the next prune window prunes what is left), until the
// prune returns by itself; one last alone window follows. On a shared
// machine whose load drifts during a long prune, alone and pruning are
// then measured under the same drift. It reports both ingest rates (pushes
// over the windows' time), their ratio, the range of the per-window ratios
// (a prune window's rate against the mean of the alone windows around
// it), and the prune's rows/s over its windows' time.
func BenchmarkGrowthPruneDuringIngest(b *testing.B) {
	n := 5_000_000
	if v := os.Getenv("PUSHGATE_BENCH_PRUNE_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PUSHGATE_BENCH_PRUNE_ROWS=%q: %v", v, err)
		}
	}
	window := func(env string, def time.Duration) time.Duration {
		if v := os.Getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				b.Fatalf("%s=%q: %v", env, v, err)
			}
			return d
		}
		return def
	}
	aloneW := window("PUSHGATE_BENCH_ALONE_WINDOW", 5*time.Second)
	pruneW := window("PUSHGATE_BENCH_PRUNE_WINDOW", 10*time.Second)
	if v := os.Getenv("PUSHGATE_BENCH_PRUNE_YIELD"); v != "" {
		var err error
		if pruneYield, err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatalf("PUSHGATE_BENCH_PRUNE_YIELD=%q: %v", v, err)
		}
	}
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			s, _ := newTestStore(b, drv)
			fillEvents(b, s, n)
			b.ResetTimer()
			var next, done atomic.Int64
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					for !stop.Load() {
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
			cutoff := time.Now().Add(-30 * time.Minute)
			var (
				aloneN, pruneN     int64
				aloneT, pruneT     time.Duration
				deleted            int64
				aloneRates, ratios []float64
				finished           bool
				lastLog            time.Time
			)
			start := time.Now()
			for !b.Failed() {
				c0, t0 := done.Load(), time.Now()
				time.Sleep(aloneW)
				c, t := done.Load()-c0, time.Since(t0)
				aloneN, aloneT = aloneN+c, aloneT+t
				aloneRates = append(aloneRates, float64(c)/t.Seconds())
				if k := len(aloneRates); k > 1 {
					ratios[k-2] /= (aloneRates[k-2] + aloneRates[k-1]) / 2
				}
				if finished {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), pruneW)
				c0, t0 = done.Load(), time.Now()
				got, err := s.PruneHandled(ctx, cutoff)
				c, t = done.Load()-c0, time.Since(t0)
				cancel()
				pruneN, pruneT, deleted = pruneN+c, pruneT+t, deleted+got
				ratios = append(ratios, float64(c)/t.Seconds())
				switch {
				case err == nil:
					finished = true
				case !errors.Is(err, context.DeadlineExceeded):
					b.Fatal(err)
				}
				if time.Since(lastLog) > time.Minute || finished {
					lastLog = time.Now()
					b.Logf("%s after %v: pruned %d (%.0f rows/s over %v of prune windows); ingest alone %.0f pushes/s, during the prune %.0f (%.2f) (load average %s)",
						drv, time.Since(start).Round(time.Second), deleted, float64(deleted)/pruneT.Seconds(), pruneT.Round(time.Second),
						float64(aloneN)/aloneT.Seconds(), float64(pruneN)/pruneT.Seconds(), float64(pruneN)/pruneT.Seconds()/(float64(aloneN)/aloneT.Seconds()), loadAvg())
				}
			}
			stop.Store(true)
			wg.Wait()
			var left int64
			if err := s.db.Model(&Event{}).Where("status = ? AND received_at < ?", StatusHandled, dbTime(cutoff)).Count(&left).Error; err != nil {
				b.Fatal(err)
			}
			if left != 0 {
				b.Errorf("%d built events left after the prune (it reported %d deleted of %d)", left, deleted, n)
			}
			rate0, rate1 := float64(aloneN)/aloneT.Seconds(), float64(pruneN)/pruneT.Seconds()
			slices.Sort(ratios)
			var lo, med, hi float64
			if k := len(ratios); k > 0 {
				lo, med, hi = ratios[0], ratios[k/2], ratios[k-1]
			}
			b.ReportMetric(rate0, "alone-pushes/s")
			b.ReportMetric(rate1, "pruning-pushes/s")
			b.ReportMetric(rate1/rate0, "ratio")
			b.ReportMetric(float64(n)/pruneT.Seconds(), "pruned/s")
			b.Logf("%s: ingest alone %.0f pushes/s, during the prune %.0f (%.2f; per window median %.2f, %.2f-%.2f over %d windows); pruned %d in %v of prune windows (%.0f rows/s, %d pauses), %v in all (load average %s)",
				drv, rate0, rate1, rate1/rate0, med, lo, hi, len(ratios), n, pruneT.Round(time.Second), float64(n)/pruneT.Seconds(),
				s.pruneYields.Load(), time.Since(start).Round(time.Second), loadAvg())
		})
	}
}

// BenchmarkGrowthReplicas (PostgreSQL): combined ingest of one replica
// against two on one database, alternately, 3 rounds each, in the same
// run. Each replica is a Store of its own (its own pool and writer) on the
// same schema; 50 goroutines save 20,000 pushes, each waiting for its
// commit, all through one Store or split 25 and 25 across the two. It
// reports pushes/s of each and the ratio two/one.
func BenchmarkGrowthReplicas(b *testing.B) {
	dsn := testPostgresDSN(b)
	one := openTest(b, DriverPostgres, dsn, Options{})
	two := []*Store{one, openTest(b, DriverPostgres, dsn, Options{})}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	var rates [2][]float64
	for round := range 6 {
		stores := []*Store{one}
		if round%2 == 1 {
			stores = two
		}
		const pushes, workers = 20_000, 50
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			s := stores[w%len(stores)]
			wg.Go(func() {
				for i := w; i < pushes; i += workers {
					e := sampleEvent(i)
					e.Account = growthAccounts[i%10]
					e.DedupeKey = fmt.Sprintf("%s/%d/%s", tag, round, e.DedupeKey)
					if _, err := s.SaveEvent(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rate := float64(pushes) / time.Since(start).Seconds()
		b.Logf("round %d, %d replica(s): %.0f pushes/s (load average %s)", round, len(stores), rate, loadAvg())
		rates[len(stores)-1] = append(rates[len(stores)-1], rate)
	}
	var stored int64
	if err := one.db.Model(&Event{}).Count(&stored).Error; err != nil {
		b.Fatal(err)
	}
	if stored != 6*20_000 {
		b.Errorf("%d events stored, want %d", stored, 6*20_000)
	}
	mean := func(v []float64) float64 {
		var t float64
		for _, x := range v {
			t += x
		}
		return t / float64(len(v))
	}
	b.ReportMetric(mean(rates[0]), "one-pushes/s")
	b.ReportMetric(mean(rates[1]), "two-pushes/s")
	b.ReportMetric(mean(rates[1])/mean(rates[0]), "ratio")
}
