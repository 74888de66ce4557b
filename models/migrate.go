package models

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// migrateLockClass is the first key of the PostgreSQL advisory lock that
// serialises the migrations of replicas starting at the same time; the
// second is a hash of the schema they migrate, so that stores in other
// schemas of one database (tests, several deployments) do not wait for
// each other.
const migrateLockClass int32 = 0x70757368 // "push"

var (
	registryMu sync.Mutex
	registry   []any
)

// registerModels adds GORM models that Open auto-migrates after the core
// ones. Sibling files (results, deliveries) call it from init().
func registerModels(models ...any) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, models...)
}

// allModels lists the core models followed by the registered ones.
func allModels() []any {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := []any{&Event{}, &EventAttempt{}, &Rejected{}}
	return append(out, registry...)
}

// migrate creates or updates the tables of every model. It runs in one
// transaction: on PostgreSQL under an advisory lock, on SQLite under the
// immediate write lock, so replicas opening together do not race. On
// PostgreSQL the indexes new to existing tables are built first, outside
// it and concurrently (see buildIndexesConcurrently).
func (s *Store) migrate(ctx context.Context) error {
	models := allModels()
	if err := s.buildIndexesConcurrently(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", migrateLockClass).Error; err != nil {
				return err
			}
		}
		if s.driver == DriverSQLite {
			// One process owns an SQLite file: nobody still needs them.
			for _, ix := range droppedIndexes {
				if err := tx.Exec("DROP INDEX IF EXISTS " + ix).Error; err != nil {
					return err
				}
			}
		}
		return tx.AutoMigrate(models...)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if s.driver == DriverPostgres {
		s.noteOldIndexes(ctx)
	}
	return nil
}

// noteOldIndexes logs the indexes of an earlier version still on a
// PostgreSQL database. They are not dropped here: replicas of the earlier
// version, still running during a rolling upgrade, query without the
// conditions of the partial indexes that replace them and would scan the
// table. Drop them once every replica runs this version.
func (s *Store) noteOldIndexes(ctx context.Context) {
	var left []string
	for _, ix := range droppedIndexes {
		if s.db.WithContext(ctx).Migrator().HasIndex(&Event{}, ix) {
			left = append(left, ix)
		}
	}
	if len(left) > 0 {
		s.log.Info("models: indexes of an earlier version remain; once every replica runs this version, drop them with DROP INDEX CONCURRENTLY",
			"indexes", strings.Join(left, ", "))
	}
}
