package handlers_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// failFastDSN is a fresh database for drv on which a write waiting for a
// lock fails soon: after SQLite's busy timeout of 100 ms, PostgreSQL's
// lock_timeout of 500 ms (the migration at Open shares catalog locks with
// parallel tests). lockDatabase then makes every write fail.
func failFastDSN(t *testing.T, drv string) string {
	t.Helper()
	if drv == models.DriverPostgres {
		return recoverDSN(t, drv) + " lock_timeout=500"
	}
	return recoverDSN(t, drv) + "?_busy_timeout=100"
}

// lockDatabase takes the database's write lock from outside pushgate (on
// PostgreSQL, the locks of the tables pushes, attempts, refusals and the health probe
// write), so that every such write fails until the returned func releases it.
func lockDatabase(t *testing.T, drv, dsn string) (release func()) {
	t.Helper()
	driver := "sqlite3"
	if drv == models.DriverPostgres {
		driver = "pgx"
	} else if strings.Contains(dsn, "?") {
		dsn += "&_txlock=immediate"
	} else {
		dsn += "?_txlock=immediate"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err == nil && drv == models.DriverPostgres {
		_, err = tx.Exec("LOCK TABLE events, event_attempts, writer_probes, rejected_pushes IN EXCLUSIVE MODE")
	}
	if err != nil {
		t.Fatalf("lockDatabase: %v", err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback(); db.Close() }) }
	t.Cleanup(release)
	return release
}

// TestAttemptsSurviveFailingDatabase: pushes are stored and acknowledged,
// then the database fails every write while their handlers finish. The
// recovery that runs meanwhile and after the database is back must not
// dispatch any of them again, and every handler run must end recorded.
func TestAttemptsSurviveFailingDatabase(t *testing.T) {
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			dsn := failFastDSN(t, drv)
			cfg := configs.Default()
			cfg.WeChat.Token = testToken
			cfg.AdminToken = testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, dsn
			cfg.ReplyBudget = 100 * time.Millisecond
			ts := serveConfig(t, cfg, afterGrace)
			gate := make(chan struct{})
			counter := &keyCounter{runs: map[string]int{}}
			ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
				<-gate
				return counter.handle(ctx, e)
			}
			const n = 20
			for i := range n {
				if code, body := ts.push(t, "text/xml", clickBody(fmt.Sprintf("k%d", i), 7000+i)); code != 200 {
					t.Fatalf("push %d = %d %q, want 200", i, code, body)
				}
			}
			release := lockDatabase(t, drv, dsn)
			close(gate)
			eventually(t, "every handler to run", func() bool { return ts.rec.calls.Load() == n })
			time.Sleep(500 * time.Millisecond) // attempts fail a few times
			ctx := context.Background()
			if got, _ := ts.srv.RecoverReceived(ctx, math.MaxInt64); got != 0 {
				t.Errorf("RecoverReceived while the database fails dispatched %d, want 0", got)
			}
			release()
			eventually(t, "every event handled", func() bool {
				rows, _, err := ts.store.ListEvents(ctx, models.EventFilter{Status: models.StatusHandled, Limit: 2 * n})
				return err == nil && len(rows) == n
			})
			if got, err := ts.srv.RecoverReceived(ctx, math.MaxInt64); err != nil || got != 0 {
				t.Errorf("RecoverReceived after the database is back = %d, %v; want 0", got, err)
			}
			counter.mu.Lock()
			defer counter.mu.Unlock()
			for i := range n {
				if k := fmt.Sprintf("k%d", i); counter.runs[k] != 1 {
					t.Errorf("handler of %s ran %d times, want 1", k, counter.runs[k])
				}
			}
			rows, _, err := ts.store.ListEvents(ctx, models.EventFilter{Limit: 2 * n})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.Attempts != 1 {
					t.Errorf("event %d: %d attempts recorded, want 1", r.ID, r.Attempts)
				}
			}
		})
	}
}
