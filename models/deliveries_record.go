package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// DeliveryOutcome is the result of one attempt, as reported to
// RecordDeliveryAttempt.
type DeliveryOutcome struct {
	DeliveryID int64
	Lease      int64 // the claim's token (Delivery.Lease as claimed)
	Attempt    int   // this attempt's number: the claimed Delivery.Attempts + 1
	Started    time.Time
	Duration   time.Duration
	Status     int    // HTTP status; 0 = no answer
	Err        string // "" = success
	// NextAttemptAt is when to try again after a failure; zero makes the
	// delivery dead. Ignored on success.
	NextAttemptAt time.Time
}

// RecordDeliveryAttempt stores the attempt as a row of delivery_attempts and
// updates its delivery, in one transaction: attempts += 1, last_status,
// last_error, the lease released, and the status: succeeded (Err == ""),
// pending again at NextAttemptAt, or dead. If the claim is no longer the
// delivery's, the delivery is left alone, the attempt row is still written and
// the error wraps ErrLeaseLost. It returns after the commit.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, o DeliveryOutcome) error {
	lost, err := s.RecordDeliveryAttempts(ctx, []DeliveryOutcome{o})
	if err == nil && len(lost) > 0 {
		err = fmt.Errorf("models: record attempt %d of delivery %d (lease %d): %w", o.Attempt, o.DeliveryID, o.Lease, ErrLeaseLost)
	}
	return err
}

// RecordDeliveryAttempts is RecordDeliveryAttempt for several attempts in one
// transaction, group-committed with the writer's batch (on PostgreSQL in one
// statement, one round trip). It returns the ids of the deliveries whose claim
// was lost: their attempt rows are written, the deliveries left alone.
func (s *Store) RecordDeliveryAttempts(ctx context.Context, outs []DeliveryOutcome) (lost []int64, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	if err := s.checkOpen("record delivery attempts"); err != nil {
		return nil, err
	}
	now := dbTime(s.now())
	rows := make([]outcomeRow, len(outs))
	for i, o := range outs {
		r := outcomeRow{o: o, attemptID: s.NewID(), started: dbTime(o.Started), status: DeliverySucceeded}
		if o.Started.IsZero() {
			r.started = now
		}
		switch {
		case o.Err == "":
		case o.NextAttemptAt.IsZero():
			r.status = DeliveryDead
		default:
			r.status = DeliveryPending
			next := dbTime(o.NextAttemptAt)
			r.next = &next
		}
		rows[i] = r
	}
	record := s.recordSQLite
	if s.driver == DriverPostgres {
		record = s.recordPostgres
	}
	err = s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		updated, err := record(ctx, tx, rows, now)
		if err != nil {
			return err
		}
		lost = lost[:0]
		for _, r := range rows {
			if !updated[r.o.DeliveryID] {
				lost = append(lost, r.o.DeliveryID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("models: record %d delivery attempts: %w", len(outs), err)
	}
	return lost, nil
}

// outcomeRow is a DeliveryOutcome resolved for storage.
type outcomeRow struct {
	o         DeliveryOutcome
	attemptID int64
	started   time.Time
	status    string     // the delivery's new status
	next      *time.Time // its next attempt when pending again
}

const (
	updateDeliveryOutcome = `UPDATE deliveries SET status = ?, attempts = attempts + 1, lease = 0,
 next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?, last_error = ?, updated_at = ?
 WHERE id = ? AND lease = ? AND status = 'pending'`
	insertDeliveryAttempt = `INSERT INTO delivery_attempts (id, delivery_id, attempt, started,
 duration_us, status, error) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// recordSQLite runs two prepared statements per attempt: in-process, cheap.
func (s *Store) recordSQLite(ctx context.Context, tx *sql.Tx, rows []outcomeRow, now time.Time) (map[int64]bool, error) {
	upd, err := tx.PrepareContext(ctx, updateDeliveryOutcome)
	if err != nil {
		return nil, err
	}
	defer upd.Close()
	ins, err := tx.PrepareContext(ctx, insertDeliveryAttempt)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	updated := make(map[int64]bool, len(rows))
	for _, r := range rows {
		var next any
		if r.next != nil {
			next = *r.next
		}
		res, err := upd.ExecContext(ctx, r.status, next, r.o.Status, r.o.Err, now, r.o.DeliveryID, r.o.Lease)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n > 0 {
			updated[r.o.DeliveryID] = true
		}
		if _, err := ins.ExecContext(ctx, r.attemptID, r.o.DeliveryID, r.o.Attempt, r.started,
			r.o.Duration.Microseconds(), r.o.Status, r.o.Err); err != nil {
			return nil, err
		}
	}
	return updated, nil
}

// recordPostgres updates the deliveries and inserts the attempts in one
// statement, and reads back which deliveries the update matched.
func (s *Store) recordPostgres(ctx context.Context, tx *sql.Tx, rows []outcomeRow, now time.Time) (map[int64]bool, error) {
	var q strings.Builder
	q.WriteString(`WITH o (id, lease, final, next, status, err, aid, attempt, started, dur) AS (VALUES `)
	args := make([]any, 0, 1+10*len(rows))
	args = append(args, now)
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d::bigint, $%d::bigint, $%d::text, $%d::timestamptz, $%d::int, $%d::text,"+
			" $%d::bigint, $%d::int, $%d::timestamptz, $%d::bigint)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
		var next any
		if r.next != nil {
			next = *r.next
		}
		args = append(args, r.o.DeliveryID, r.o.Lease, r.status, next, r.o.Status, r.o.Err,
			r.attemptID, r.o.Attempt, r.started, r.o.Duration.Microseconds())
	}
	q.WriteString(`), u AS (UPDATE deliveries d SET status = o.final, attempts = d.attempts + 1, lease = 0,
 next_attempt_at = COALESCE(o.next, d.next_attempt_at), last_status = o.status, last_error = o.err, updated_at = $1
 FROM o WHERE d.id = o.id AND d.lease = o.lease AND d.status = 'pending' RETURNING d.id),
 i AS (INSERT INTO delivery_attempts (id, delivery_id, attempt, started, duration_us, status, error)
 SELECT aid, id, attempt, started, dur, status, err FROM o)
 SELECT id FROM u`)
	res, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	updated := make(map[int64]bool, len(rows))
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			return nil, err
		}
		updated[id] = true
	}
	return updated, res.Err()
}
