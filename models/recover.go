package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// claimReceivedSQL takes a recovery claim on one event. The conditions are
// checked by the UPDATE itself, so of several claimers (in one process or on
// several replicas sharing PostgreSQL) exactly one changes the row: on
// PostgreSQL a concurrent claimer waits for the row lock and re-checks the
// conditions against the winner's row, on SQLite the single writer runs one
// claim at a time.
const claimReceivedSQL = `UPDATE events SET recovery_until = ?
 WHERE id = ? AND status = 'received' AND (recovery_until IS NULL OR recovery_until < ?)`

// ClaimReceived claims event id for recovery until now+lease and reports
// whether this caller won. It wins when the event is still "received" and no
// other claim on it is running (none was taken, or the last one ended before
// now); it loses (false, nil) when the event was handled or failed meanwhile,
// when another claim holds it, or when no such event exists.
//
// Recovery (start-up and the periodic sweep) dispatches an event only after
// winning its claim, so two recoverers never dispatch it at once. The claim
// is not released: recording the dispatch's attempt moves the event out of
// "received", which ends every claim. A claimer that dies before that leaves
// the event to be claimed again once the lease has ended, so lease must cover
// a whole dispatch (the handler's timeout and the recording of its attempt).
// Replicas compare leases by their own clocks, which must agree to well
// within the lease's margin.
//
// The claim is group-committed like SaveEvent; it returns after the commit.
// The hot path never writes the claim column: events are inserted unclaimed.
func (s *Store) ClaimReceived(ctx context.Context, id int64, now time.Time, lease time.Duration) (bool, error) {
	if lease <= 0 {
		return false, fmt.Errorf("models: claim received event %d: lease %s: %w", id, lease, ErrInvalid)
	}
	if err := s.checkOpen("claim received event"); err != nil {
		return false, err
	}
	if s.AttemptPending(id) {
		// Its handler ran here; the attempt is on its way to the database.
		return false, nil
	}
	now = dbTime(now)
	until := dbTime(now.Add(lease))
	q := s.rebind(claimReceivedSQL)
	var won bool
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		won = false // the batch may be retried
		res, err := tx.ExecContext(ctx, q, until, id, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("models: claim received event %d: %w", id, err)
	}
	return won, nil
}
