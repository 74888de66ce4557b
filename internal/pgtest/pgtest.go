// Package pgtest gives each test its own PostgreSQL schema on the test
// server: PUSHGATE_TEST_PG (a base DSN), by default 127.0.0.1:5432, user
// postgres, database test. PostgreSQL is required: an unreachable server
// fails the test, it never skips it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema set-up
)

// DefaultDSN is the test server when PUSHGATE_TEST_PG is not set.
const DefaultDSN = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"

// DSN creates a fresh schema, drops it when the test ends, and returns a
// DSN whose search_path is that schema.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PUSHGATE_TEST_PG")
	if base == "" {
		base = DefaultDSN
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("PostgreSQL test DSN %q (PUSHGATE_TEST_PG): %v", base, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("PostgreSQL is required by these tests but is not reachable at %q "+
			"(start it, or set PUSHGATE_TEST_PG to a base DSN): %v", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	// PostgreSQL reserves the pg_ prefix for system schemas, hence pgtest_.
	schema := "pgtest_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath adds search_path=schema to a key=value or URL DSN.
func WithSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " search_path=" + schema
}
