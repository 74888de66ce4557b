package models

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchSeq makes dedupe keys unique across benchmark runs in one process.
var benchSeq atomic.Int64

// benchEvent returns a unique event whose dedupe key leads with the time, like
// the receiver's keys for pushes without a MsgId.
func benchEvent() *NewEvent {
	n := benchSeq.Add(1)
	e := sampleEvent(0)
	e.CreateTime = time.Now().Unix()
	e.DedupeKey = fmt.Sprintf("t:%d:gh_x:oUser:event:CLICK:%d", e.CreateTime, n)
	return e
}

// benchSave saves unique events from 25*GOMAXPROCS goroutines and reports
// rows/s and the mean batch size.
func benchSave(b *testing.B, s *Store) {
	ctx := context.Background()
	batches := s.w.batches.Load()
	cpu0 := processCPU()
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.SaveEvent(ctx, benchEvent()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/float64(max(1, s.w.batches.Load()-batches)), "rows/batch")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/row")
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSaveEvent_SQLite: group-committed saves into an SQLite file with
// synchronous=FULL.
func BenchmarkSaveEvent_SQLite(b *testing.B) {
	s := openTest(b, DriverSQLite, filepath.Join(b.TempDir(), "bench.db"), Options{})
	benchSave(b, s)
}

// BenchmarkSaveEvent_SQLiteNoBatch is the baseline: the same insert through
// database/sql, one row per transaction (one fsync per row), from as many
// goroutines sharing one write connection.
func BenchmarkSaveEvent_SQLiteNoBatch(b *testing.B) {
	dsn := filepath.Join(b.TempDir(), "bench.db")
	s := openTest(b, DriverSQLite, dsn, Options{}) // migrates
	s.Close()
	db, err := sql.Open("sqlite3", sqliteDSN(dsn))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ins, err := db.Prepare(hotSQL[stmtInsertEvent])
	if err != nil {
		b.Fatal(err)
	}
	defer ins.Close()
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e, at := benchEvent(), dbTime(time.Now())
			tx, err := db.Begin()
			if err == nil {
				_, err = tx.Stmt(ins).Exec(processIDs.next(), e.DedupeKey, e.Kind, e.MsgType, e.Event, e.EventKey,
					e.FromUser, e.ToUser, e.CreateTime, e.MsgID, e.RequestID, e.Format, at, at, e.Payload, e.Raw)
				if err == nil {
					err = tx.Commit()
				} else {
					tx.Rollback()
				}
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSaveEvent_Postgres: group-committed saves into PostgreSQL.
func BenchmarkSaveEvent_Postgres(b *testing.B) {
	s := openTest(b, DriverPostgres, testPostgresDSN(b), Options{})
	benchSave(b, s)
}

// BenchmarkSaveAndAttempt_SQLite is the store's share of one push end to end:
// a waited save, then its attempt recorded fire-and-forget.
func BenchmarkSaveAndAttempt_SQLite(b *testing.B) {
	s := openTest(b, DriverSQLite, filepath.Join(b.TempDir(), "bench.db"), Options{})
	ctx := context.Background()
	cpu0 := processCPU()
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sv, err := s.SaveEvent(ctx, benchEvent())
			if err == nil {
				err = s.RecordAttempt(ctx, Attempt{EventID: sv.ID, Duration: time.Microsecond}, false)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := s.Close(); err != nil { // flush the queued attempts inside the timing
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/push")
}
