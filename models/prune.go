package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// pruneChunk is how many events one pruning transaction deletes, so that the
// writer's batches are never held up for long.
const pruneChunk = 500

// pruneYield is how long a prune leaves the writer to other writes after a
// chunk that met them (pushes in the chunk's batch, taken while the chunk
// was queued, or queued or announced when it ends; see pruneYieldAfter), in
// multiples of the time the chunk held the writer: under a steady ingest the
// prune then takes at most about a ninth of the writer's time. On an idle
// writer it does not pause. (2, pausing after every chunk twice as long as
// it took from its queuing, kept 0.72 of the ingest's rate pruning 1,000,000
// rows on SQLite, short of issue #15's 0.8.) A variable so that
// BenchmarkGrowthPruneDuringIngest can try others.
var pruneYield = 8.0

// PruneHandled deletes handled events (and their attempts) received before
// olderThan, and returns how many events it deleted; and the nonce keys of
// duplicates seen before olderThan (see UsedNonce). Events still received or
// failed are never deleted. It works in chunks of 500, each group-committed
// by the writer, in id order, each after the last one. After a chunk that
// met other writes (pushes in its batch, taken by the writer while the chunk
// was queued, or queued or announced when it ends), it pauses eight times as
// long as the chunk held the writer, so that pushes keep about eight ninths
// of the writer's time; while nothing else writes it runs chunk after chunk
// without pausing. Rows locked by another replica (PostgreSQL) or not yet
// handled when the walk passed them are left for the next prune.
func (s *Store) PruneHandled(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := s.pruneInChunks(ctx, &Event{}, "status = ? AND received_at < ?",
		[]any{StatusHandled, dbTime(olderThan)}, &EventAttempt{}, "event_id")
	if err == nil { // and the nonce keys of duplicates seen as long ago
		err = s.pruneUsedNonces(ctx, olderThan)
	}
	if err != nil {
		return n, fmt.Errorf("models: prune handled events: %w", err)
	}
	return n, nil
}

// PruneDeliveries deletes succeeded deliveries (and their attempts) last
// updated before olderThan, and returns how many deliveries it deleted.
// Pending and dead ones are never deleted: a dead one waits for somebody to
// look at it (and retry it). It works in chunks like PruneHandled.
func (s *Store) PruneDeliveries(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := s.pruneInChunks(ctx, &Delivery{}, "status = ? AND updated_at < ?",
		[]any{DeliverySucceeded, dbTime(olderThan)}, &DeliveryAttempt{}, "delivery_id")
	if err != nil {
		return n, fmt.Errorf("models: prune succeeded deliveries: %w", err)
	}
	return n, nil
}

// PruneRejected deletes the refused pushes received before olderThan and
// returns how many it deleted. It works in chunks like PruneHandled.
func (s *Store) PruneRejected(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := s.pruneInChunks(ctx, &Rejected{}, "received_at < ?", []any{dbTime(olderThan)}, nil, "")
	if err != nil {
		return n, fmt.Errorf("models: prune rejected pushes: %w", err)
	}
	return n, nil
}

// TrimRejected deletes the oldest refused pushes until the bodies kept
// (Raw) total at most maxBytes, and returns how many it deleted. The total
// is summed by the database from the stored lengths.
func (s *Store) TrimRejected(ctx context.Context, maxBytes int64) (int64, error) {
	if err := s.checkOpen("trim rejected pushes"); err != nil {
		return 0, err
	}
	size := "COALESCE(" + s.byteLen("raw") + ", 0)"
	var total int64
	if err := s.sqlDB.QueryRowContext(ctx, "SELECT COALESCE(SUM("+size+"), 0) FROM rejected_pushes").Scan(&total); err != nil {
		return 0, fmt.Errorf("models: trim rejected pushes: %w", err)
	}
	var deleted int64
	for after := int64(0); total > maxBytes; {
		rows, err := s.sqlDB.QueryContext(ctx, s.rebind("SELECT id, "+size+" FROM rejected_pushes WHERE id > ? ORDER BY id LIMIT ?"), after, pruneChunk)
		if err != nil {
			return deleted, fmt.Errorf("models: trim rejected pushes: %w", err)
		}
		var ids []int64
		for rows.Next() && total > maxBytes {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return deleted, fmt.Errorf("models: trim rejected pushes: %w", err)
			}
			ids, total, after = append(ids, id), total-n, id
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err == nil && len(ids) > 0 {
			var n int64
			err = s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
				res := s.gormTx(ctx, tx).Where("id IN ?", ids).Delete(&Rejected{})
				n = res.RowsAffected
				return res.Error
			})
			deleted += n
		}
		if err != nil {
			return deleted, fmt.Errorf("models: trim rejected pushes: %w", err)
		}
		if len(ids) == 0 {
			break
		}
	}
	return deleted, nil
}

// pruneInChunks deletes the rows of parent's table matching where (with
// args), pruneChunk at a time in id order, each chunk with the rows of
// child's table (if any) whose childFK names them, in one group-committed
// transaction. It returns how many parent rows it deleted.
//
// Each chunk's ids are looked for first on the general pool, outside the
// writer, above the last id of the chunk before; the writer's transaction
// then only checks them again by id (locking them on PostgreSQL, skipping
// those another replica holds) and deletes them. The search may walk many
// rows (at the end of a prune, every row newer than the last one deleted,
// none matching: 31 s on SQLite, 7.6 s on PostgreSQL after pruning
// 5,000,000 rows while pushes came in), which inside the transaction held
// the writer and every push queued behind it; and a walk from the first id would step,
// on PostgreSQL, over the index entries of every row deleted so far (dead
// until vacuumed). A row skipped on the way (locked, or not yet matching)
// is left for the next prune.
func (s *Store) pruneInChunks(ctx context.Context, parent any, where string, args []any, child any, childFK string) (int64, error) {
	var total, after int64
	for {
		var ids []int64
		if err := s.db.WithContext(ctx).Model(parent).Where(where, args...).Where("id > ?", after).
			Order("id").Limit(pruneChunk).Pluck("id", &ids).Error; err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		after = ids[len(ids)-1]
		var deleted int64
		writes := s.w.writes.Load()
		var held time.Time // when the writer began the chunk
		err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
			held, deleted = time.Now(), 0
			g := s.gormTx(ctx, tx)
			q := g.Model(parent).Where("id IN ?", ids).Where(where, args...)
			if s.driver == DriverPostgres {
				q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked})
			}
			var still []int64
			if err := q.Pluck("id", &still).Error; err != nil || len(still) == 0 {
				return err
			}
			if child != nil {
				if err := g.Where(childFK+" IN ?", still).Delete(child).Error; err != nil {
					return err
				}
			}
			res := g.Where("id IN ?", still).Delete(parent)
			deleted = res.RowsAffected
			return res.Error
		})
		if err != nil {
			return total, err
		}
		total += deleted
		if len(ids) < pruneChunk {
			return total, nil
		}
		if err := s.pruneYieldAfter(ctx, writes, held); err != nil {
			return total, err
		}
	}
}

// pruneYieldAfter follows a prune's chunk, queued when the writer had taken
// writes ops (writer.writes) and begun by it at held. If the writer had
// other writes than the chunk (taken into its batches since, or queued, or
// announced now), the prune leaves it to them for pruneYield times the time
// since held (the chunk's statements, the rest of its batch, the commit);
// else, the writer being idle, it goes on at once.
func (s *Store) pruneYieldAfter(ctx context.Context, writes int64, held time.Time) error {
	if !s.w.busySince(writes) {
		return nil
	}
	s.pruneYields.Add(1)
	t := time.NewTimer(time.Duration(pruneYield * float64(time.Since(held))))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pruneUsedNonces deletes the nonce keys of duplicates seen before
// olderThan, pruneChunk at a time with the pauses of pruneInChunks (the
// table has no id to walk).
func (s *Store) pruneUsedNonces(ctx context.Context, olderThan time.Time) error {
	q := s.rebind(`DELETE FROM used_nonces WHERE nonce_key IN
 (SELECT nonce_key FROM used_nonces WHERE seen_at < ? LIMIT ` + strconv.Itoa(pruneChunk) + `)`)
	for {
		var n int64
		writes := s.w.writes.Load()
		var held time.Time
		err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
			held = time.Now()
			res, err := tx.ExecContext(ctx, q, dbTime(olderThan))
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil || n < pruneChunk {
			return err
		}
		if err := s.pruneYieldAfter(ctx, writes, held); err != nil {
			return err
		}
	}
}

// gormTx returns a GORM handle whose statements run in tx (a group-commit
// transaction given to a groupExec function).
func (s *Store) gormTx(ctx context.Context, tx *sql.Tx) *gorm.DB {
	g := s.db.Session(&gorm.Session{Context: ctx, NewDB: true})
	g.Statement.ConnPool = tx
	return g
}
