package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrWriterStuck is returned by WriterHealth when a probe write was not
// committed within its context: the database hangs, or the writer is held
// up by a batch that does not end.
var ErrWriterStuck = errors.New("writer not committing")

// WriterProbe is the one-row table (per database) the health probe writes
// (table "writer_probes"): WriterHealth proves by it that a commit lands.
type WriterProbe struct {
	ID int64     `gorm:"primaryKey;autoIncrement:false"`
	At time.Time `gorm:"not null"`
}

// TableName pins the table name.
func (WriterProbe) TableName() string { return "writer_probes" }

func init() { registerModels(&WriterProbe{}) }

// probeFresh is how recent the writer's last batch must be, and committed,
// for WriterHealth to report it instead of probing.
const probeFresh = time.Second

// WriterHealth reports whether the Store's writer can commit: nil when it
// can. When the writer's last batch committed less than a second ago that
// is the answer; otherwise (the writer is idle, stuck in a batch, or its
// last batch failed) a probe write is committed through the writer and its
// outcome reported, within ctx (ErrWriterStuck when ctx ends first). The error wraps the database's
// own, which may name the DSN, host or user: log it, never show it.
//
// It recovers by itself: once the cause (a full disk, a read-only file, a
// stopped server) is gone, the next commit succeeds and WriterHealth says
// so; on an SQLite file the writer reopens its connection after a failure.
func (s *Store) WriterHealth(ctx context.Context) error {
	if err := s.checkOpen("writer health"); err != nil {
		return err
	}
	if at := s.w.lastBatchAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < probeFresh && s.w.lastTrouble.Load() == nil {
		return nil
	}
	now := dbTime(s.now())
	q := s.rebind(`INSERT INTO writer_probes (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`)
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, now)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("models: writer health: %w: %w", ErrWriterStuck, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("models: writer health: %w", err)
	}
	return nil
}
