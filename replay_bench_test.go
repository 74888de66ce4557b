package pushgate_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/internal/benchfill"
	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/models"
)

// BenchmarkReplayBulk (issue #15): `pushgate replay` over a time range,
// end to end, with the progress bar it draws: the command line against a
// real server on loopback, whose store holds PUSHGATE_BENCH_REPLAY_ROWS
// handled events (default 100,000, built with set-based SQL) received over
// the last day, all in the range, and a no-op handler for every kind. It
// reports events/s (matched events over the command's whole run) and
// checks that every event got its replay attempt.
//
//	go test -run '^$' -bench ReplayBulk -benchtime 1x .
func BenchmarkReplayBulk(b *testing.B) {
	n := 100_000
	if v := os.Getenv("PUSHGATE_BENCH_REPLAY_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PUSHGATE_BENCH_REPLAY_ROWS=%q: %v", v, err)
		}
	}
	for _, drv := range []string{"sqlite", "postgres"} {
		b.Run(drv, func(b *testing.B) {
			ctx := context.Background()
			var dsn, sqlDriver string
			if drv == "postgres" {
				dsn, sqlDriver = pgtest.DSN(b), "pgx"
			} else {
				dsn, sqlDriver = filepath.Join(b.TempDir(), "pushgate.db"), "sqlite3"
			}
			// Migrate, then build the rows.
			st, err := models.Open(ctx, drv, dsn, models.Options{})
			if err != nil {
				b.Fatal(err)
			}
			st.Close()
			db, err := sql.Open(sqlDriver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().UTC()
			from, to := now.Add(-24*time.Hour), now.Add(-time.Minute)
			t0 := time.Now()
			if err := benchfill.Fill(ctx, db, drv, benchfill.Spec{N: n, From: from, To: to}); err != nil {
				b.Fatal(err)
			}
			db.Close()
			b.Logf("%s: built %d events in %v", drv, n, time.Since(t0).Round(time.Millisecond))

			cfg := benchConfig(b, drv, dsn)
			mux := events.NewMux()
			mux.Fallback(events.HandlerFunc(func(context.Context, events.Event) (events.Reply, error) { return nil, nil }))
			svc, err := pushgate.New(cfg, mux, quiet())
			if err != nil {
				b.Fatal(err)
			}
			sctx, stop := context.WithCancel(ctx)
			if err := svc.Start(sctx); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(svc.Handler())
			defer func() { srv.Close(); stop(); svc.Close() }()

			var stdout, stderr bytes.Buffer
			args := []string{"replay", "--server", srv.URL, "--token", cfg.AdminToken,
				"--since", from.Add(-time.Second).Format(time.RFC3339Nano), "--until", to.Format(time.RFC3339Nano)}
			b.ResetTimer()
			cpu0 := processCPU()
			start := time.Now()
			if err := pushgate.Run(ctx, events.NewMux(), args, &stdout, &stderr); err != nil {
				b.Fatalf("pushgate %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			took := time.Since(start)
			cpu := processCPU() - cpu0
			b.StopTimer()
			if want := fmt.Sprintf("matched %d, handled %d, failed 0, busy 0", n, n); !strings.Contains(stdout.String(), want) {
				b.Errorf("pushgate replay printed %q, want %q", stdout.String(), want)
			}
			if want := fmt.Sprintf("] %d/%d", n, n); !strings.Contains(stderr.String(), want) {
				b.Errorf("the progress bar does not reach %q: ...%q", want, tail(stderr.String(), 200))
			}
			// Every event has its replay attempt, committed.
			db, err = sql.Open(sqlDriver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var replayed int
			if err := db.QueryRow("SELECT count(*) FROM event_attempts WHERE replay").Scan(&replayed); err != nil {
				b.Fatal(err)
			}
			if replayed != n {
				b.Errorf("%d replay attempts stored, want %d", replayed, n)
			}
			b.ReportMetric(float64(n)/took.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/event")
			b.ReportMetric(0, "ns/op")
			b.Logf("%s: replayed %d events in %v, %v of this process's CPU (server and command line; PostgreSQL's own not counted) (load average %s)",
				drv, n, took.Round(time.Millisecond), cpu.Round(time.Millisecond), loadAvg())
		})
	}
}

// benchConfig is a valid configuration on drv's dsn, listening nowhere
// (the benchmark serves its Handler), quiet.
func benchConfig(b *testing.B, drv, dsn string) *configs.Config {
	cfg := configs.Default()
	cfg.WeChat.Token = "bench-token"
	cfg.AdminToken = "bench-admin"
	cfg.DB.Driver, cfg.DB.DSN = drv, dsn
	cfg.Addr = "127.0.0.1:0"
	return cfg
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// loadAvg returns the 1-, 5- and 15-minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
