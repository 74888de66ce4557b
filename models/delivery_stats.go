package models

import (
	"context"
	"fmt"
	"time"
)

// DeliveryStats is the state of the outbox, for metrics.
type DeliveryStats struct {
	Pending       int64     // deliveries still to be made
	OldestPending time.Time // creation of the oldest pending one; zero if none
	Dead          int64     // deliveries that gave up after their last attempt
}

// DeliveryStats counts the pending and dead deliveries and finds when the
// oldest pending one was created.
func (s *Store) DeliveryStats(ctx context.Context) (DeliveryStats, error) {
	var st DeliveryStats
	if err := s.checkOpen("delivery stats"); err != nil {
		return st, err
	}
	rows, err := s.sqlDB.QueryContext(ctx, `SELECT status, COUNT(*), MIN(created_at) FROM deliveries
 WHERE status IN ('`+DeliveryPending+`', '`+DeliveryDead+`') GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("models: delivery stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n      int64
			oldest dbTimeValue
		)
		if err := rows.Scan(&status, &n, &oldest); err != nil {
			return st, fmt.Errorf("models: delivery stats: %w", err)
		}
		switch status {
		case DeliveryPending:
			st.Pending, st.OldestPending = n, oldest.Time
		case DeliveryDead:
			st.Dead = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("models: delivery stats: %w", err)
	}
	return st, nil
}
