package models

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func TestOpenUnsupportedDriver(t *testing.T) {
	if _, err := Open(context.Background(), "mysql", "", Options{}); !errors.Is(err, ErrUnsupportedDriver) {
		t.Errorf("Open(mysql) = %v, want ErrUnsupportedDriver", err)
	}
}

func TestOpenPingDriver(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		if got := s.Driver(); got != drv {
			t.Errorf("Driver() = %q, want %q", got, drv)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping() = %v", err)
		}
	})
}

func TestOpenInMemorySQLite(t *testing.T) {
	for _, dsn := range []string{":memory:", "file::memory:?cache=shared"} {
		s := openTest(t, DriverSQLite, dsn, Options{})
		sv := mustSave(t, s, sampleEvent(1))
		if _, err := s.GetEvent(context.Background(), sv.ID); err != nil {
			t.Errorf("%s: GetEvent = %v", dsn, err)
		}
	}
}

func TestReopenKeepsSchema(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		id := mustSave(t, s, sampleEvent(1)).ID
		s.Close()
		for range 2 {
			s = openTest(t, drv, dsn, Options{})
			if _, err := s.GetEvent(context.Background(), id); err != nil {
				t.Fatalf("GetEvent after reopen = %v", err)
			}
			s.Close()
		}
	})
}

func TestSQLiteFileSettings(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "p.db")
	s := openTest(t, DriverSQLite, dsn, Options{})
	for _, db := range []*sql.DB{s.sqlDB, s.wdb} {
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000"} {
			var got string
			if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
				t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
			}
		}
	}
	if s.wdb == s.sqlDB || s.wdb.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer pool: want a separate one-connection pool")
	}
}

func TestSQLiteDSN(t *testing.T) {
	const all = "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate"
	tests := []struct{ in, want string }{
		{"", "pushgate.db?" + all},
		{"/tmp/a.db", "/tmp/a.db?" + all},
		{"file:a.db?mode=rwc", "file:a.db?mode=rwc&" + all},
		{"a.db?_sync=NORMAL&_timeout=100", "a.db?_sync=NORMAL&_timeout=100&_journal_mode=WAL&_txlock=immediate"},
		{"a.db?", "a.db?" + all},
	}
	for _, tc := range tests {
		if got := sqliteDSN(tc.in); got != tc.want {
			t.Errorf("sqliteDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRebind(t *testing.T) {
	q := "UPDATE t SET a = ? WHERE b = ? AND c IN (?, ?)"
	if got, want := rebind(DriverPostgres, q), "UPDATE t SET a = $1 WHERE b = $2 AND c IN ($3, $4)"; got != want {
		t.Errorf("rebind(postgres) = %q, want %q", got, want)
	}
	if got := rebind(DriverSQLite, q); got != q {
		t.Errorf("rebind(sqlite) = %q, want it unchanged", got)
	}
}

func TestGroupExec(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		id := mustSave(t, s, sampleEvent(1)).ID
		err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, s.rebind("UPDATE events SET kind = ? WHERE id = ?"), "changed", id)
			return err
		})
		if err != nil {
			t.Fatalf("groupExec = %v", err)
		}
		boom := errors.New("boom")
		if err := s.groupExec(ctx, true, func(context.Context, *sql.Tx) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("groupExec(failing fn) = %v, want boom", err)
		}
		ev, err := s.GetEvent(ctx, id)
		if err != nil || ev.Kind != "changed" {
			t.Errorf("GetEvent = %+v, %v; want kind changed", ev, err)
		}
	})
}

// TestBadOpDoesNotSpoilBatch puts a failing write in the same batch as good
// ones: only the failing one reports an error.
func TestBadOpDoesNotSpoilBatch(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		release := stallWriter(t, s, drv, dsn)
		ctx := context.Background()
		errs := make(chan error, 3)
		go func() { _, err := s.SaveEvent(ctx, sampleEvent(1)); errs <- err }()
		go func() {
			errs <- s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
				return err
			})
		}()
		go func() { _, err := s.SaveEvent(ctx, sampleEvent(2)); errs <- err }()
		waitFor(t, func() bool { return len(s.w.queue) == 3 }, "three queued writes")
		release()
		var failed int
		for range 3 {
			if err := <-errs; err != nil {
				failed++
			}
		}
		if failed != 1 {
			t.Errorf("%d writes failed, want 1", failed)
		}
		rows, _, err := s.ListEvents(ctx, EventFilter{})
		if err != nil || len(rows) != 3 { // two events and the sentinel
			t.Errorf("ListEvents = %d rows, %v; want 3", len(rows), err)
		}
	})
}
