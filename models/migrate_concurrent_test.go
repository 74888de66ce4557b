package models

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestMigrationBuildsNewIndexesConcurrently: an index a new version adds to
// the existing events table is built with CREATE INDEX CONCURRENTLY, so the
// replicas still running take inserts while it builds. A writer holding
// the table (as an insert does) makes the build wait; meanwhile another
// insert's lock is granted at once. Inside the migration's transaction the
// build would queue for a SHARE lock and every insert behind it.
func TestMigrationBuildsNewIndexesConcurrently(t *testing.T) {
	t.Parallel()
	const index = "idx_events_account_event_id"
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	openTest(t, DriverPostgres, dsn, Options{}) // the earlier version's tables
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP INDEX "+index); err != nil {
		t.Fatal(err)
	}

	// A writer in the middle of its transaction.
	writer, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback()
	if _, err := writer.ExecContext(ctx, "LOCK TABLE events IN ROW EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	opened := make(chan error, 1)
	go func() {
		s, err := Open(ctx, DriverPostgres, dsn, Options{})
		if err == nil {
			s.Close()
		}
		opened <- err
	}()

	// The build waits for the writer, as CONCURRENTLY does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE query ILIKE 'CREATE INDEX CONCURRENTLY%' AND query LIKE '%`+index+`%' AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		select {
		case err := <-opened:
			t.Fatalf("Open finished (%v) while a writer held the table: the index was not built concurrently", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no CREATE INDEX CONCURRENTLY waiting for the writer within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Another insert is not queued behind the build.
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "LOCK TABLE events IN ROW EXCLUSIVE MODE"); err != nil {
		t.Errorf("an insert's lock while the index builds: %v", err)
	}
	other.Rollback()

	writer.Rollback()
	if err := <-opened; err != nil {
		t.Fatalf("Open = %v", err)
	}
	var valid bool
	if err := db.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, index).Scan(&valid); err != nil || !valid {
		t.Errorf("index %s after Open: valid=%v, %v; want a valid index", index, valid, err)
	}
}

// TestMigrationRebuildsInvalidIndex: an index an interrupted concurrent
// build left invalid is dropped and built again at the next start.
func TestMigrationRebuildsInvalidIndex(t *testing.T) {
	t.Parallel()
	const index = "idx_events_account_event_id"
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	openTest(t, DriverPostgres, dsn, Options{})
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Mark it invalid, as a failed CREATE INDEX CONCURRENTLY leaves it.
	if _, err := db.ExecContext(ctx, `UPDATE pg_index SET indisvalid = false
		WHERE indexrelid = (SELECT c.oid FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace)`, index); err != nil {
		t.Fatal(err)
	}
	openTest(t, DriverPostgres, dsn, Options{})
	var valid bool
	if err := db.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, index).Scan(&valid); err != nil || !valid {
		t.Errorf("index %s after Open: valid=%v, %v; want rebuilt valid", index, valid, err)
	}
}

// TestMigrationConcurrentOpens: replicas starting together while an index
// is missing all open: the one building it never waits for another that
// waits for its lock (a blocked pg_advisory_lock held a snapshot, and
// PostgreSQL failed one side with "deadlock detected").
func TestMigrationConcurrentOpens(t *testing.T) {
	t.Parallel()
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	openTest(t, DriverPostgres, dsn, Options{})
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP INDEX idx_events_account_event_id"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(ctx, DriverPostgres, dsn, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Open of a replica starting with the others = %v", err)
		}
	}
}
