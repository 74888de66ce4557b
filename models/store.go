// Package models is pushgate's durable store: the GORM models, their migration,
// and a Store whose methods say what they do (SaveEvent, RecordAttempt,
// ListEvents, PruneHandled, ...). No *gorm.DB leaves this package.
//
// SQLite (WAL, synchronous=FULL) is the embedded default; PostgreSQL lets
// several replicas share one database. Writes on the hot path are
// group-committed by one writer goroutine per Store: whatever is queued when a
// transaction starts goes into it, so durability costs one fsync per batch,
// not one per push. The unique index on the dedupe key decides duplicates,
// also between racing replicas.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Sentinel errors. Methods wrap them with %w; test with errors.Is.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("store closed")
	// ErrInvalid means an argument was unusable: an unknown cursor, an empty dedupe key.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnsupportedDriver is returned by Open for a driver other than sqlite or postgres.
	ErrUnsupportedDriver = errors.New("unsupported driver")
	// ErrNonceUsed is SaveEvent's error for a push whose NonceKey another
	// stored push, with another dedupe key, holds: a replayed signed URL.
	ErrNonceUsed = errors.New("nonce already used")
)

// Driver names accepted by Open and returned by Store.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DefaultSQLiteDSN is the database file used when Open gets an empty SQLite DSN.
const DefaultSQLiteDSN = "pushgate.db"

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock for received_at, last_seen and handled_at; default time.Now.
	Now func() time.Time
	// MaxBatch caps how many queued writes share one transaction; default 256.
	MaxBatch int
	// Logger receives slow-query warnings and errors of fire-and-forget writes;
	// default slog.Default().
	Logger *slog.Logger
	// BornNotified stores new events as already notified: set it when no
	// notification subscriber is configured, so that nothing is owed for
	// them and no later fan-out has to mark them.
	BornNotified bool
	// Linger is how long the writer may hold a batch open for saves announced
	// with ExpectSave (pushes being decoded) so that they share its commit;
	// default 1ms, negative disables it.
	Linger time.Duration
	// LazyDelay is how long a batch of fire-and-forget writes only (attempts
	// recorded after a handler ran) may wait for a write somebody waits on,
	// to share its commit instead of costing one of their own; default 10ms,
	// negative disables it. Close flushes them at once.
	LazyDelay time.Duration
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Linger == 0 {
		o.Linger = time.Millisecond
	}
	if o.LazyDelay == 0 {
		o.LazyDelay = 10 * time.Millisecond
	}
}

// Store is the durable store. It is safe for concurrent use. Several Store
// values (in one process or in several) may share one PostgreSQL database or
// one SQLite file.
type Store struct {
	// Fields used by sibling files of this package (results, deliveries).
	db     *gorm.DB         // GORM over sqlDB: models, migration, admin queries
	sqlDB  *sql.DB          // the general pool (readers; any writer on PostgreSQL)
	driver string           // DriverSQLite or DriverPostgres
	schema string           // PostgreSQL: current_schema() at open (see Channel)
	now    func() time.Time // injected clock
	log    *slog.Logger

	bornNotified bool  // Options.BornNotified
	legacyUntil  int64 // see LegacyUntil; set by Open
	// legacyRawUntil is LegacyUntil for NewEvent.LegacyRawKey: the newest
	// CreateTime among the rows of the hour before Open, whatever their key.
	legacyRawUntil int64
	wdb            *sql.DB // the group-commit writer's pool: one connection on an SQLite file, else sqlDB
	ids            *idGen
	flight         inflight // events being saved, for EventHorizon
	w              *writer
	pruneYields    atomic.Int64 // pauses of the prunes for other writes (see pruneYieldAfter); tests watch it
	borrowed       bool         // the pool is the caller's (OpenDB): Close leaves it open
	closeOnce      sync.Once

	listColsOnce sync.Once // initListColumns
	eventCols    string    // select list of ListEvents
	rejectedCols string    // select list of ListRejected

	scanColsOnce sync.Once // initScanColumns
	scanCols     string    // every column of events, as allEventsAfter selects them
	scanFields   [][]int   // the Event field of each of scanCols, by index path
	closeErr     error
}

// Open connects to driver ("sqlite" or "postgres") at dsn, migrates every
// registered model and starts the group-commit writer. An empty SQLite dsn means
// DefaultSQLiteDSN; PostgreSQL takes "host=... dbname=..." or a postgres:// URL.
func Open(ctx context.Context, driver, dsn string, opt Options) (*Store, error) {
	opt.setDefaults()
	s := &Store{now: opt.Now, log: opt.Logger, ids: processIDs, bornNotified: opt.BornNotified}
	var (
		dialector gorm.Dialector
		err       error
	)
	switch driver {
	case "sqlite", "sqlite3":
		s.driver = DriverSQLite
		s.sqlDB, s.wdb, dialector, err = openSQLite(dsn)
	case "postgres", "postgresql", "pgx":
		s.driver = DriverPostgres
		s.sqlDB, dialector, err = openPostgres(dsn)
		s.wdb = s.sqlDB
	default:
		return nil, fmt.Errorf("models: open %q: %w", driver, ErrUnsupportedDriver)
	}
	if err != nil {
		return nil, fmt.Errorf("models: open %s: %w", s.driver, err)
	}
	if err := s.start(ctx, dialector, opt); err != nil {
		return nil, err
	}
	return s, nil
}

// start opens GORM over the pools, migrates, prepares the hot-path
// statements and starts the writer; on error it closes the pools.
func (s *Store) start(ctx context.Context, dialector gorm.Dialector, opt Options) error {
	var err error
	// GORM logs a failed initialisation itself ("failed to initialize
	// database"); the error returned says it once, so it opens silent.
	s.db, err = gorm.Open(dialector, &gorm.Config{
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                func() time.Time { return dbTime(s.now()) },
		Logger:                 logger.Discard,
	})
	if err == nil {
		s.db.Logger = logger.NewSlogLogger(s.log, logger.Config{
			SlowThreshold:             500 * time.Millisecond,
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
		})
		err = s.sqlDB.PingContext(ctx)
	}
	if err == nil {
		err = s.migrate(ctx)
	}
	if err == nil {
		err = s.loadLegacyUntil(ctx)
	}
	if err == nil && s.driver == DriverPostgres {
		err = s.sqlDB.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s.schema)
	}
	var st *statements
	if err == nil {
		st, err = prepareStatements(ctx, s.wdb, s.driver, opt.BornNotified)
	}
	if err != nil {
		s.closePools()
		return fmt.Errorf("models: open %s: %w", s.driver, err)
	}
	s.w = newWriter(s, st, opt.MaxBatch, max(opt.Linger, 0), max(opt.LazyDelay, 0))
	go s.w.loop()
	return nil
}

// Close flushes queued writes (fire-and-forget ones too), stops the writer and
// closes the database. Calls after the first return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.w.close()
		s.w.st.close()
		s.closeErr = s.closePools()
	})
	return s.closeErr
}

func (s *Store) closePools() error {
	if s.borrowed {
		return nil // the caller's pool (OpenDB): the caller closes it
	}
	var errs []error
	if s.wdb != nil && s.wdb != s.sqlDB {
		errs = append(errs, s.wdb.Close())
	}
	if s.sqlDB != nil {
		errs = append(errs, s.sqlDB.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers; after Close it returns ErrClosed.
func (s *Store) Ping(ctx context.Context) error {
	if s.w.isClosed() {
		return fmt.Errorf("models: ping: %w", ErrClosed)
	}
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("models: ping: %w", err)
	}
	return nil
}

// Driver returns DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.driver }

// NewID returns a new time-ordered id (see IDTime). Ids are unique and
// increasing within a process, and unique across replicas with overwhelming
// probability.
func (s *Store) NewID() int64 { return s.ids.next() }

// dbTime normalises a time for storage: UTC (SQLite compares times as text) at
// microsecond precision (PostgreSQL's), so both drivers round-trip alike.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkOpen returns ErrClosed, wrapped with op, once Close has begun.
func (s *Store) checkOpen(op string) error {
	if s.w.isClosed() {
		return fmt.Errorf("models: %s: %w", op, ErrClosed)
	}
	return nil
}
