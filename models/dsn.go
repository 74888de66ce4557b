package models

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// sqliteDefaults are the mattn/go-sqlite3 DSN parameters pushgate needs. Each
// is added unless the caller's DSN already sets it (under any alias).
var sqliteDefaults = []struct {
	aliases []string
	value   string
}{
	{[]string{"_journal_mode", "_journal"}, "WAL"},
	{[]string{"_synchronous", "_sync"}, "FULL"},
	{[]string{"_busy_timeout", "_timeout"}, "5000"},
	{[]string{"_txlock"}, "immediate"},
}

// sqliteDSN returns dsn (DefaultSQLiteDSN if empty) with the missing defaults appended.
func sqliteDSN(dsn string) string {
	if dsn == "" {
		dsn = DefaultSQLiteDSN
	}
	var have url.Values
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		have, _ = url.ParseQuery(dsn[i+1:]) // mattn rejects a bad query itself
	}
	var b strings.Builder
	b.WriteString(dsn)
	sep := "?"
	if strings.IndexByte(dsn, '?') >= 0 {
		sep = "&"
		if strings.HasSuffix(dsn, "?") || strings.HasSuffix(dsn, "&") {
			sep = ""
		}
	}
outer:
	for _, d := range sqliteDefaults {
		for _, a := range d.aliases {
			if _, ok := have[a]; ok {
				continue outer
			}
		}
		b.WriteString(sep)
		b.WriteString(d.aliases[0])
		b.WriteByte('=')
		b.WriteString(d.value)
		sep = "&"
	}
	return b.String()
}

// isMemoryDSN reports whether an SQLite DSN names an in-memory database, which
// exists per connection and so must live in a one-connection pool.
func isMemoryDSN(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// openSQLite opens the general pool and the writer's one-connection pool (the
// same pool for an in-memory database), and the GORM dialector over the former.
func openSQLite(dsn string) (general, writer *sql.DB, d gorm.Dialector, err error) {
	full := sqliteDSN(dsn)
	general, err = sql.Open(sqlite.DriverName, full)
	if err != nil {
		return nil, nil, nil, err
	}
	d = sqlite.New(sqlite.Config{DriverName: sqlite.DriverName, DSN: full, Conn: general})
	if isMemoryDSN(full) {
		general.SetMaxOpenConns(1)
		general.SetMaxIdleConns(1)
		general.SetConnMaxLifetime(0)
		general.SetConnMaxIdleTime(0)
		return general, general, d, nil
	}
	general.SetMaxOpenConns(8)
	general.SetMaxIdleConns(4)
	writer, err = sql.Open(sqlite.DriverName, full)
	if err != nil {
		general.Close()
		return nil, nil, nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	return general, writer, d, nil
}

// openPostgres opens a pgx pool through database/sql and the GORM dialector over it.
func openPostgres(dsn string) (*sql.DB, gorm.Dialector, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	// Scan timestamptz in UTC, as SQLite rows come back.
	utc := stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	})
	db := stdlib.OpenDB(*cfg, utc)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	return db, postgres.New(postgres.Config{Conn: db}), nil
}

// rebind turns the ? placeholders of q into $1, $2, ... for PostgreSQL. q must
// not hold a ? inside a literal.
func rebind(driver, q string) string {
	if driver != DriverPostgres || strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// rebind is rebind for this Store's driver; sibling files use it for raw SQL.
func (s *Store) rebind(q string) string { return rebind(s.driver, q) }
