package models

import (
	"context"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// migrateLockKey is the PostgreSQL advisory lock that serialises the
// migrations of replicas starting at the same time.
const migrateLockKey int64 = 0x70757368676174 // "pushgat"

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
// immediate write lock, so replicas opening together do not race.
func (s *Store) migrate(ctx context.Context) error {
	models := allModels()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return err
			}
		}
		for _, ix := range droppedIndexes {
			if err := tx.Exec("DROP INDEX IF EXISTS " + ix).Error; err != nil {
				return err
			}
		}
		return tx.AutoMigrate(models...)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
