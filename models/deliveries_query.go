package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// DeliveryFilter selects deliveries for ListDeliveries. Zero fields match
// everything.
type DeliveryFilter struct {
	Status  string // DeliveryPending, DeliverySucceeded or DeliveryDead
	EventID int64  // deliveries of this event
	Account string // deliveries of this account's events
	Limit   int    // 0 = DefaultPageSize; capped at MaxPageSize
	Cursor  string // from a previous page; "" = newest
}

// ListDeliveries returns the deliveries matching f, newest first, and the
// cursor of the next page ("" after the last). An unknown status or a
// malformed cursor wraps ErrInvalid.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, string, error) {
	if err := s.checkOpen("list deliveries"); err != nil {
		return nil, "", err
	}
	if f.Status != "" && !slices.Contains([]string{DeliveryPending, DeliverySucceeded, DeliveryDead}, f.Status) {
		return nil, "", fmt.Errorf("models: delivery status %q: %w", f.Status, ErrInvalid)
	}
	after, paged, err := decodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	q := s.db.WithContext(ctx)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.EventID != 0 {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.Account != "" {
		q = q.Where("account = ?", f.Account)
	}
	if paged {
		q = q.Where("id < ?", after)
	}
	var rows []Delivery
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", fmt.Errorf("models: list deliveries: %w", err)
	}
	rows, next := nextCursor(rows, limit, func(d *Delivery) int64 { return d.ID })
	return rows, next, nil
}

// GetDelivery returns the delivery with id, or an error wrapping ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, id int64) (*Delivery, error) {
	if err := s.checkOpen("get delivery"); err != nil {
		return nil, err
	}
	var d Delivery
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: delivery %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get delivery %d: %w", id, err)
	}
	return &d, nil
}

// DeliveryAttempts returns the attempts of delivery id, oldest first (none for
// an unknown delivery).
func (s *Store) DeliveryAttempts(ctx context.Context, id int64) ([]DeliveryAttempt, error) {
	if err := s.checkOpen("delivery attempts"); err != nil {
		return nil, err
	}
	var out []DeliveryAttempt
	if err := s.db.WithContext(ctx).Where("delivery_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: attempts of delivery %d: %w", id, err)
	}
	return out, nil
}

// RetryDelivery makes a dead or pending delivery due at once; its attempts
// so far are kept, so a failure of a dead delivery's retry leaves it dead
// again. A delivery being sent right now (claimed, lease not over) or already
// succeeded is left alone with an error wrapping ErrDeliveryState; an unknown
// id wraps ErrNotFound. It returns after the commit.
func (s *Store) RetryDelivery(ctx context.Context, id int64) error {
	if err := s.checkOpen("retry delivery"); err != nil {
		return err
	}
	now := dbTime(s.now())
	upd := s.rebind(`UPDATE deliveries SET status = 'pending', lease = 0, next_attempt_at = ?, updated_at = ?
 WHERE id = ? AND (status = 'dead' OR (status = 'pending' AND (lease = 0 OR next_attempt_at <= ?)))`)
	get := s.rebind(`SELECT status FROM deliveries WHERE id = ?`)
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, upd, now, now, id, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var status string
		err = tx.QueryRowContext(ctx, get, id).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errSoft{fmt.Errorf("delivery %d: %w", id, ErrNotFound)}
		case err != nil:
			return err
		case status == DeliverySucceeded:
			return errSoft{fmt.Errorf("delivery %d succeeded: %w", id, ErrDeliveryState)}
		}
		return errSoft{fmt.Errorf("delivery %d is being sent: %w", id, ErrDeliveryState)}
	})
	if err != nil {
		return fmt.Errorf("models: retry delivery %d: %w", id, err)
	}
	return nil
}
