package models

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLazyWritesWaitForAWaitedOne: an attempt recorded fire-and-forget does
// not cost a commit of its own while nobody waits; it joins the commit of
// the next write somebody waits on.
func TestLazyWritesWaitForAWaitedOne(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s := openTest(t, drv, testDSN(t, drv), Options{LazyDelay: time.Hour})
		ctx := context.Background()
		id := mustSave(t, s, sampleEvent(1)).ID
		before := s.w.batches.Load()
		if err := s.RecordAttempt(ctx, Attempt{EventID: id}, false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return len(s.w.queue) == 0 }, "the attempt taken by the writer")
		if ev := mustEvent(t, s, id); ev.Status != StatusReceived {
			t.Fatalf("status %q before any waited write, want the attempt held back", ev.Status)
		}
		mustSave(t, s, sampleEvent(2))
		if n := s.w.batches.Load() - before; n != 1 {
			t.Errorf("the attempt and the save took %d batches, want 1", n)
		}
		if ev := mustEvent(t, s, id); ev.Status != StatusHandled {
			t.Errorf("status %q after the save's commit, want %q", ev.Status, StatusHandled)
		}
	})
}

// TestLazyWritesFlushedAtClose: Close commits held fire-and-forget writes at
// once instead of waiting out LazyDelay.
func TestLazyWritesFlushedAtClose(t *testing.T) {
	dsn := testDSN(t, DriverSQLite)
	s := openTest(t, DriverSQLite, dsn, Options{LazyDelay: time.Hour})
	id := mustSave(t, s, sampleEvent(1)).ID
	if err := s.RecordAttempt(context.Background(), Attempt{EventID: id}, false); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close waited for the lazy delay")
	}
	s2 := openTest(t, DriverSQLite, dsn, Options{})
	if ev := mustEvent(t, s2, id); ev.Status != StatusHandled {
		t.Errorf("status %q after Close, want %q", ev.Status, StatusHandled)
	}
}

// TestExpectedSavesShareACommit: while a save is announced (ExpectSave), the
// writer holds the batch of an earlier save open for it, so both commit
// together; without an announcement it commits at once.
func TestExpectedSavesShareACommit(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s := openTest(t, drv, testDSN(t, drv), Options{Linger: time.Hour})
		ctx := context.Background()
		mustSave(t, s, sampleEvent(0)) // nothing announced: no linger

		before := s.w.batches.Load()
		s.ExpectSave()
		first := make(chan Saved, 1)
		go func() { first <- mustSave(t, s, sampleEvent(1)) }()
		waitFor(t, func() bool { return s.w.gathered.Load() == 1 }, "the first save held by the writer")
		time.Sleep(20 * time.Millisecond)
		select {
		case sv := <-first:
			t.Fatalf("the first save committed (%+v) while another was announced", sv)
		default:
		}
		e := sampleEvent(2)
		e.Expected = true
		second, err := s.SaveEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		sv := <-first
		if n := s.w.batches.Load() - before; n != 1 {
			t.Errorf("the two saves took %d batches, want 1", n)
		}
		if sv.ID == 0 || second.ID == 0 || sv.ID == second.ID {
			t.Errorf("saves = %+v, %+v", sv, second)
		}
		if n := s.w.expected.Load(); n != 0 {
			t.Errorf("%d saves still announced, want 0", n)
		}

		// A withdrawn announcement releases the batch.
		s.ExpectSave()
		third := make(chan Saved, 1)
		go func() { third <- mustSave(t, s, sampleEvent(3)) }()
		waitFor(t, func() bool { return s.w.gathered.Load() == 1 }, "the third save held by the writer")
		s.CancelSave()
		// The writer looks again when something is queued; a save that was
		// not announced does not hold anything up.
		mustSave(t, s, sampleEvent(4))
		<-third
	})
}

// TestPartialIndexesServeTheirQueries: the lookups of recovery, fan-out and
// async results use the partial indexes on both drivers, and handled,
// notified events without a request id are in none of them.
func TestPartialIndexesServeTheirQueries(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		evs := make([]*NewEvent, 3000)
		for i := range evs {
			evs[i] = sampleEvent(i)
			if i%1000 == 0 {
				evs[i].RequestID = "req-" + evs[i].EventKey
			}
		}
		saved := saveAll(t, s, evs)
		ids := make([]int64, 0, len(saved))
		for i, sv := range saved {
			if i%1000 != 0 {
				s.RecordAttempt(ctx, Attempt{EventID: sv.ID}, false)
				ids = append(ids, sv.ID)
			}
		}
		if err := s.MarkNotified(ctx, ids...); err != nil {
			t.Fatal(err)
		}
		explain := "EXPLAIN QUERY PLAN "
		if drv == DriverPostgres {
			explain = "EXPLAIN "
			if _, err := s.sqlDB.ExecContext(ctx, "ANALYZE events"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct{ index, query string }{
			{"idx_events_unhandled", "SELECT id FROM events WHERE status = 'received' AND " + unhandledCond + " AND id > 0 ORDER BY id LIMIT 10"},
			{"idx_events_unnotified", "SELECT id FROM events WHERE " + unnotifiedCond + " AND id > 0 ORDER BY id LIMIT 10"},
			{"idx_events_request_id_set", "SELECT received_at FROM events WHERE request_id = 'req-KEY_1000' AND " + requestIDCond + " AND kind = 'event.CLICK' LIMIT 1"},
		} {
			plan := explainPlan(t, s, explain+s.rebind(c.query))
			if !strings.Contains(plan, c.index) {
				t.Errorf("plan of %s does not use %s:\n%s", c.query, c.index, plan)
			}
		}
		if drv == DriverSQLite {
			for index, want := range map[string]int{"idx_events_unhandled": 3, "idx_events_unnotified": 3, "idx_events_request_id_set": 3} {
				var n int
				q := "SELECT count(*) FROM events INDEXED BY " + index + " WHERE "
				q += map[string]string{"idx_events_unhandled": "status = 'received' AND " + unhandledCond,
					"idx_events_unnotified": unnotifiedCond, "idx_events_request_id_set": "request_id >= 'r' AND " + requestIDCond}[index]
				if err := s.sqlDB.QueryRowContext(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != want {
					t.Errorf("%s holds %d events, want %d", index, n, want)
				}
			}
		}
		// The lookups themselves find them.
		rec, err := s.ReceivedEvents(ctx, 100, 0)
		if err != nil || len(rec) != 3 {
			t.Errorf("ReceivedEvents = %d events, %v; want 3", len(rec), err)
		}
		un, err := s.UnnotifiedEvents(ctx, 100, 0)
		if err != nil || len(un) != 3 {
			t.Errorf("UnnotifiedEvents = %d events, %v; want 3", len(un), err)
		}
		list, _, err := s.ListEvents(ctx, EventFilter{RequestID: "req-KEY_2000"})
		if err != nil || len(list) != 1 {
			t.Errorf("ListEvents(request_id) = %d events, %v; want 1", len(list), err)
		}
		list, _, err = s.ListEvents(ctx, EventFilter{Status: StatusReceived})
		if err != nil || len(list) != 3 {
			t.Errorf("ListEvents(status=received) = %d events, %v; want 3", len(list), err)
		}
	})
}

// TestMigrateReplacesFullIndexes: a database made by a version with full
// indexes on status, notified and request_id gets the partial ones; on
// SQLite the old ones go, on PostgreSQL they stay until an operator drops
// them (replicas of the earlier version may still need them).
func TestMigrateReplacesFullIndexes(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		for _, q := range []string{
			"CREATE INDEX idx_events_status_id ON events (status, id)",
			"CREATE INDEX idx_events_notified_id ON events (notified, id)",
			"CREATE INDEX idx_events_request_id ON events (request_id)",
		} {
			if _, err := s.sqlDB.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		s = openTest(t, drv, dsn, Options{})
		for _, ix := range droppedIndexes {
			if has, want := s.db.Migrator().HasIndex(&Event{}, ix), drv == DriverPostgres; has != want {
				t.Errorf("index %s there: %v, want %v", ix, has, want)
			}
		}
		for _, ix := range []string{"idx_events_unhandled", "idx_events_unnotified", "idx_events_request_id_set"} {
			if !s.db.Migrator().HasIndex(&Event{}, ix) {
				t.Errorf("index %s is missing", ix)
			}
		}
	})
}

func mustEvent(t *testing.T, s *Store, id int64) *Event {
	t.Helper()
	ev, err := s.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
