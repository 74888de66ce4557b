package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// buildIndexesConcurrently creates, on PostgreSQL, the indexes a new version
// adds to tables that exist already, with CREATE INDEX CONCURRENTLY: inside
// the migration's transaction AutoMigrate would build them with a lock that
// stops every insert for as long as the build takes, minutes on a large
// events table while the replicas of the earlier version are still taking
// pushes. It runs before that transaction, under the session form of the
// migration's advisory lock (replicas starting together take turns), so
// AutoMigrate then finds the indexes in place. An index left invalid by an
// interrupted build is dropped and built again. New tables are left to
// AutoMigrate: they are empty.
func (s *Store) buildIndexesConcurrently(ctx context.Context) error {
	if s.driver != DriverPostgres {
		return nil
	}
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Try, sleep, try again: a replica blocked in pg_advisory_lock would hold
	// a snapshot, which the holder's CREATE INDEX CONCURRENTLY waits for,
	// while the holder keeps the lock it waits for (PostgreSQL breaks such a
	// cycle by failing one side).
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", migrateLockClass).Scan(&got); err != nil {
			return err
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext(current_schema()))", migrateLockClass)

	db := s.db.WithContext(ctx).Session(&gorm.Session{})
	db.Statement.ConnPool = conn
	for _, model := range allModels() {
		stmt := &gorm.Statement{DB: s.db}
		if err := stmt.Parse(model); err != nil {
			return err
		}
		table := stmt.Schema.Table
		if !db.Migrator().HasTable(table) {
			continue
		}
		for _, idx := range stmt.Schema.ParseIndexes() {
			if err := s.buildIndex(ctx, conn, table, idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildIndex creates idx on table concurrently unless a valid index of
// that name is there.
func (s *Store) buildIndex(ctx context.Context, conn *sql.Conn, table string, idx *schema.Index) error {
	var valid sql.NullBool
	err := conn.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1`, idx.Name).Scan(&valid)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return err
	case valid.Valid && valid.Bool:
		return nil
	default:
		s.log.Warn("models: dropping an index an interrupted build left invalid", "index", idx.Name)
		if _, err := conn.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+quoteIdent(idx.Name)); err != nil {
			return fmt.Errorf("drop invalid index %s: %w", idx.Name, err)
		}
	}
	q := createIndexConcurrentlySQL(table, idx)
	s.log.Info("models: building an index concurrently (inserts go on meanwhile)", "index", idx.Name, "table", table)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create index %s concurrently: %w", idx.Name, err)
	}
	return nil
}

// createIndexConcurrentlySQL is the statement GORM's PostgreSQL migrator
// would issue for idx, built concurrently.
func createIndexConcurrentlySQL(table string, idx *schema.Index) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if idx.Class != "" {
		b.WriteString(idx.Class + " ")
	}
	b.WriteString("INDEX CONCURRENTLY IF NOT EXISTS ")
	b.WriteString(quoteIdent(idx.Name) + " ON " + quoteIdent(table))
	if idx.Type != "" {
		b.WriteString(" USING " + idx.Type)
	}
	b.WriteString(" (")
	for i, f := range idx.Fields {
		if i > 0 {
			b.WriteString(",")
		}
		if f.Expression != "" {
			b.WriteString(f.Expression)
		} else {
			b.WriteString(quoteIdent(f.DBName))
		}
		if f.Collate != "" {
			b.WriteString(" COLLATE " + f.Collate)
		}
		if f.Sort != "" {
			b.WriteString(" " + f.Sort)
		}
	}
	b.WriteString(")")
	if idx.Where != "" {
		b.WriteString(" WHERE " + idx.Where)
	}
	return b.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
