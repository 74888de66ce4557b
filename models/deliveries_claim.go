package models

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `id, event_id, url, kind, body, status, attempts, next_attempt_at, lease,
 last_status, last_error, created_at, updated_at, trace_parent`

// claimSQL claims due deliveries. The inner SELECT is the "find due" query: a
// range of the index idx_deliveries_due (status, next_attempt_at), so its cost
// does not grow with the pending deliveries that are not due. %s is the row
// locking clause: FOR UPDATE SKIP LOCKED on PostgreSQL, so that replicas
// claiming together take disjoint rows; nothing on SQLite, whose single writer
// runs one claim at a time.
const claimSQL = `UPDATE deliveries SET lease = ?, next_attempt_at = ?, updated_at = ?
 WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
 ORDER BY next_attempt_at LIMIT ?%s)
 RETURNING ` + deliveryColumns

func (s *Store) claimSQL() string {
	lock := ""
	if s.driver == DriverPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return s.rebind(fmt.Sprintf(claimSQL, lock))
}

// ClaimDueDeliveries claims up to limit pending deliveries due at now (oldest
// due first) for lease: each gets a new Lease token and its NextAttemptAt
// moves to now+lease, so no other claim takes it before the lease ends. The
// claimer must record the attempt (RecordDeliveryAttempt) or release the claim
// (ReleaseDelivery) within the lease; otherwise the delivery falls due again
// and is claimed anew. Several Stores on one PostgreSQL database never claim a
// delivery twice within its lease. Returned deliveries are ordered by id.
func (s *Store) ClaimDueDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("models: claim deliveries: lease %s: %w", lease, ErrInvalid)
	}
	if err := s.checkOpen("claim deliveries"); err != nil {
		return nil, err
	}
	now = dbTime(now)
	token := s.NewID()
	until := dbTime(now.Add(lease))
	q := s.claimSQL()
	var out []Delivery
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, q, token, until, dbTime(s.now()), now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d Delivery
			if err := scanDelivery(rows, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("models: claim deliveries: %w", err)
	}
	slices.SortFunc(out, func(a, b Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// NextDeliveryDue returns the earliest NextAttemptAt of the pending deliveries
// (claimed ones included: their lease end), and false when none is pending.
// It reads one entry of the index idx_deliveries_due.
func (s *Store) NextDeliveryDue(ctx context.Context) (time.Time, bool, error) {
	if err := s.checkOpen("next delivery due"); err != nil {
		return time.Time{}, false, err
	}
	var t dbTimeValue
	err := s.sqlDB.QueryRowContext(ctx, `SELECT next_attempt_at FROM deliveries WHERE status = 'pending'
 ORDER BY next_attempt_at LIMIT 1`).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("models: next delivery due: %w", err)
	}
	return t.Time, true, nil
}

// ReleaseDelivery gives back a claim without an attempt: the delivery is due
// again at once. If the claim is no longer the delivery's, nothing changes and
// the error wraps ErrLeaseLost.
func (s *Store) ReleaseDelivery(ctx context.Context, id, lease int64) error {
	if err := s.checkOpen("release delivery"); err != nil {
		return err
	}
	now := dbTime(s.now())
	q := s.rebind(`UPDATE deliveries SET lease = 0, next_attempt_at = ?, updated_at = ?
 WHERE id = ? AND lease = ? AND status = 'pending'`)
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, now, now, id, lease)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errSoft{fmt.Errorf("delivery %d lease %d: %w", id, lease, ErrLeaseLost)}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("models: release delivery %d: %w", id, err)
	}
	return nil
}

// scanDelivery reads the deliveryColumns of one row.
func scanDelivery(rows interface{ Scan(...any) error }, d *Delivery) error {
	var next, created, updated dbTimeValue
	err := rows.Scan(&d.ID, &d.EventID, &d.URL, &d.Kind, &d.Body, &d.Status, &d.Attempts, &next,
		&d.Lease, &d.LastStatus, &d.LastError, &created, &updated, &d.TraceParent)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = next.Time, created.Time, updated.Time
	return err
}

// dbTimeValue scans a time column however the driver hands it over: a
// time.Time, or SQLite's text when the column's declared type is lost (as in
// RETURNING or an aggregate).
type dbTimeValue struct{ time.Time }

// sqliteTimeLayouts are the layouts mattn/go-sqlite3 writes and reads.
var sqliteTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
}

// Scan implements sql.Scanner.
func (t *dbTimeValue) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		t.Time = v.UTC()
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		t.Time = time.Time{}
		return nil
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

func (t *dbTimeValue) parse(s string) error {
	for _, layout := range sqliteTimeLayouts {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", s)
}
