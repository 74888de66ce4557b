package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// ComponentTicketKind is the kind of the Open Platform event that carries
// a component_verify_ticket (events.ComponentKind("component_verify_ticket")).
const ComponentTicketKind = "component.component_verify_ticket"

// componentTicketCond is the condition of the partial index
// idx_events_component_ticket (account, create_time), repeated literally in
// the query so that SQLite uses it.
const componentTicketCond = "kind = '" + ComponentTicketKind + "'"

// LatestComponentTicket returns the stored component_verify_ticket event of
// account with the newest CreateTime (the newest stored, between equals),
// or an error wrapping ErrNotFound when the account has none.
//
// The ticket is read from the events themselves rather than kept in a table
// of its own: storing the push is the only write (no second statement on
// the hot path, nothing to keep in step), a committed push is visible to
// every replica sharing PostgreSQL, ordering by CreateTime lets a late
// retry of an older ticket never win, and a partial index holding only
// ticket rows makes the lookup one index probe. Pruning removes handled
// events after the retention (at least 1h), while WeChat pushes a ticket
// every 10 minutes and a ticket is valid for 12 hours: the newest is kept.
func (s *Store) LatestComponentTicket(ctx context.Context, account string) (*Event, error) {
	if err := s.checkOpen("latest component ticket"); err != nil {
		return nil, err
	}
	var ev Event
	err := s.db.WithContext(ctx).Where(componentTicketCond+" AND account = ?", account).
		Order("create_time DESC, id DESC").Limit(1).Take(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: component_verify_ticket of account %q: %w", account, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: component_verify_ticket of account %q: %w", account, err)
	}
	return &ev, nil
}
