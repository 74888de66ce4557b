package models

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// OpenDB is Open over a connection pool the caller opened and keeps: driver
// is "sqlite" (a pool of the mattn/go-sqlite3 driver) or "postgres" (pgx's
// stdlib driver). It migrates and starts the writer like Open; Close leaves
// db open. Every write goes through db, so on SQLite db's DSN should set
// what Open's does: _journal_mode=WAL, _synchronous=FULL,
// _busy_timeout=5000 and _txlock=immediate.
func OpenDB(ctx context.Context, driver string, db *sql.DB, opt Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("models: open %s: a nil *sql.DB: %w", driver, ErrInvalid)
	}
	opt.setDefaults()
	s := &Store{now: opt.Now, log: opt.Logger, ids: processIDs, bornNotified: opt.BornNotified,
		sqlDB: db, wdb: db, borrowed: true}
	var dialector gorm.Dialector
	switch driver {
	case "sqlite", "sqlite3":
		s.driver = DriverSQLite
		dialector = sqlite.New(sqlite.Config{DriverName: sqlite.DriverName, Conn: db})
	case "postgres", "postgresql", "pgx":
		s.driver = DriverPostgres
		dialector = postgres.New(postgres.Config{Conn: db})
	default:
		return nil, fmt.Errorf("models: open %q: %w", driver, ErrUnsupportedDriver)
	}
	if err := s.start(ctx, dialector, opt); err != nil {
		return nil, err
	}
	return s, nil
}
