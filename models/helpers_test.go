package models

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/pushgate/pushgate/internal/pgtest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema set-up
)

// drivers is the table every behavioural test runs against.
var drivers = []string{DriverSQLite, DriverPostgres}

// testPostgresDSN gives the test its own PostgreSQL schema (see internal/pgtest).
func testPostgresDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// testDSN returns a fresh database for drv: an SQLite file in t.TempDir() or a
// PostgreSQL schema.
func testDSN(t testing.TB, drv string) string {
	t.Helper()
	if drv == DriverPostgres {
		return testPostgresDSN(t)
	}
	return filepath.Join(t.TempDir(), "pushgate.db")
}

// openTest opens a Store on dsn and closes it when the test ends.
func openTest(t testing.TB, drv, dsn string, opt Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), drv, dsn, opt)
	if err != nil {
		t.Fatalf("Open(%s, %q) = %v", drv, dsn, err)
	}
	t.Cleanup(func() {
		s.Close()
		if n := s.w.bulkFallbacks.Load(); n != 0 {
			t.Errorf("%d batches fell back from array statements to row by row", n)
		}
	})
	return s
}

// newTestStore opens a Store on a fresh database for drv and returns it with its DSN.
func newTestStore(t testing.TB, drv string) (*Store, string) {
	t.Helper()
	dsn := testDSN(t, drv)
	return openTest(t, drv, dsn, Options{}), dsn
}

// eachDriver runs f as a subtest per driver.
func eachDriver(t *testing.T, f func(t *testing.T, drv string)) {
	t.Helper()
	for _, drv := range drivers {
		t.Run(drv, func(t *testing.T) { f(t, drv) })
	}
}

// sampleEvent returns a click event whose dedupe key leads with its CreateTime.
func sampleEvent(i int) *NewEvent {
	ct := int64(1408090502 + i)
	return &NewEvent{
		DedupeKey:  fmt.Sprintf("t:%d:gh_x:oUser:event:CLICK:%d", ct, i),
		Kind:       "event.CLICK",
		MsgType:    "event",
		Event:      "CLICK",
		EventKey:   fmt.Sprintf("KEY_%d", i),
		FromUser:   "oUser",
		ToUser:     "gh_x",
		CreateTime: ct,
		Format:     "xml",
		Payload:    []byte(fmt.Sprintf(`{"EventKey":"KEY_%d"}`, i)),
		Raw:        []byte(fmt.Sprintf("<xml><EventKey>KEY_%d</EventKey></xml>", i)),
	}
}

// mustSave saves e or fails the test.
func mustSave(t testing.TB, s *Store, e *NewEvent) Saved {
	t.Helper()
	got, err := s.SaveEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("SaveEvent(%q) = %v", e.DedupeKey, err)
	}
	return got
}

// saveAll saves evs from a few goroutines (so they are group-committed) and
// returns the results in the order of evs.
func saveAll(t testing.TB, s *Store, evs []*NewEvent) []Saved {
	t.Helper()
	out := make([]Saved, len(evs))
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(evs); i += workers {
				out[i], errs[i] = s.SaveEvent(context.Background(), evs[i])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("SaveEvent(%q) = %v", evs[i].DedupeKey, err)
		}
	}
	return out
}

// blockWriter takes the database's write lock from outside the Store, so that
// the Store's writer stalls on its next batch. The returned func releases it.
func blockWriter(t testing.TB, drv, dsn string) (release func()) {
	t.Helper()
	ctx := context.Background()
	var (
		db  *sql.DB
		err error
	)
	if drv == DriverPostgres {
		db, err = sql.Open("pgx", dsn)
	} else {
		db, err = sql.Open("sqlite3", sqliteDSN(dsn))
	}
	if err != nil {
		t.Fatalf("blockWriter: %v", err)
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on SQLite: the write lock
	if err == nil && drv == DriverPostgres {
		_, err = tx.ExecContext(ctx, "LOCK TABLE events IN EXCLUSIVE MODE")
	}
	if err != nil {
		t.Fatalf("blockWriter: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			tx.Rollback()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// stallWriter blocks the writer of s inside a batch holding one sentinel save,
// and returns a func that releases it and waits for the sentinel's commit.
func stallWriter(t testing.TB, s *Store, drv, dsn string) (release func()) {
	t.Helper()
	unblock := blockWriter(t, drv, dsn)
	begun := s.w.batches.Load()
	done := make(chan error, 1)
	go func() {
		_, err := s.SaveEvent(context.Background(), &NewEvent{DedupeKey: "sentinel"})
		done <- err
	}()
	waitFor(t, func() bool { return s.w.batches.Load() > begun }, "the writer to take the sentinel")
	return func() {
		unblock()
		if err := <-done; err != nil {
			t.Fatalf("sentinel SaveEvent = %v", err)
		}
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
