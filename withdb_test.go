package pushgate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/pushgatetest"
)

// TestWithDB serves from a pool (SQLite) or a GORM connection (PostgreSQL)
// the caller opened, and checks that pushes land in it and that it stays
// open after the service stops.
func TestWithDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		open func(t *testing.T) (pushgate.Option, *sql.DB)
	}{
		{"sqlite sql.DB", func(t *testing.T) (pushgate.Option, *sql.DB) {
			dsn := filepath.Join(t.TempDir(), "own.db") + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate"
			db, err := sql.Open("sqlite3", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return pushgate.WithDB(db), db
		}},
		{"postgres gorm.DB", func(t *testing.T) (pushgate.Option, *sql.DB) {
			gdb, err := gorm.Open(postgres.Open(pgtest.DSN(t)), &gorm.Config{Logger: logger.Discard})
			if err != nil {
				t.Fatal(err)
			}
			db, _ := gdb.DB()
			return pushgate.WithGORM(gdb), db
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opt, db := tc.open(t)
			t.Cleanup(func() {
				// Cleanups run last in, first out: the server has stopped.
				var n int
				if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil || n != 1 {
					t.Errorf("after the service stopped: events in the caller's database = %d, %v, want 1, nil", n, err)
				}
				db.Close()
			})
			var calls atomic.Int64
			mux := events.NewMux()
			events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
				calls.Add(1)
				return nil, nil
			})
			srv := pushgatetest.NewServer(t, mux, pushgatetest.WithOptions(opt))
			if a := srv.PushFixture(t, "event.CLICK"); !a.Success() {
				t.Fatalf("push = %+v, want 200 success", a)
			}
			srv.WaitHandled(t, 1)
			if calls.Load() != 1 {
				t.Errorf("dispatches = %d, want 1", calls.Load())
			}
		})
	}
}
