package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PruneResults deletes the results that expired at now and the pending
// requests past their ExpiresAt (answered, timed out or abandoned), and returns
// how many rows it deleted. It works in chunks of a few hundred rows, each
// group-committed with the writer's other writes; on PostgreSQL rows locked by
// another replica's pruning are left to it.
func (s *Store) PruneResults(ctx context.Context, now time.Time) (int64, error) {
	cutoff := dbTime(now)
	var total int64
	lock := ""
	if s.driver == DriverPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	for _, q := range []string{
		`DELETE FROM results WHERE request_id IN
 (SELECT request_id FROM results WHERE expires_at <= ? LIMIT ?` + lock + `)`,
		`DELETE FROM pending_requests WHERE id IN
 (SELECT id FROM pending_requests WHERE expires_at <= ? LIMIT ?` + lock + `)`,
	} {
		q = s.rebind(q)
		for {
			var n int64
			err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, q, cutoff, pruneChunk)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("models: prune results: %w", err)
			}
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}
