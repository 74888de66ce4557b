package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// GetEvent returns the event with id, or an error wrapping ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id int64) (*Event, error) {
	if err := s.checkOpen("get event"); err != nil {
		return nil, err
	}
	var ev Event
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: event %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get event %d: %w", id, err)
	}
	return &ev, nil
}

// EventAttempts returns the attempts of event id, oldest first (none for an
// unknown event).
func (s *Store) EventAttempts(ctx context.Context, id int64) ([]EventAttempt, error) {
	if err := s.checkOpen("event attempts"); err != nil {
		return nil, err
	}
	var out []EventAttempt
	if err := s.db.WithContext(ctx).Where("event_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: attempts of event %d: %w", id, err)
	}
	return out, nil
}

// EventFilter selects events for ListEvents. Empty fields match everything.
type EventFilter struct {
	Event, MsgType, FromUser, ToUser, EventKey, RequestID, Status string
	// Since (inclusive) and Until (exclusive) bound received_at; zero = unbounded.
	Since, Until time.Time
	Limit        int    // 0 = DefaultPageSize; capped at MaxPageSize
	Cursor       string // from a previous page; "" = newest
}

// ListEvents returns the events matching f, newest first, and the cursor of the
// next page ("" after the last). A malformed cursor wraps ErrInvalid. Bodies
// are cut to ListBodyCap bytes by the database (RawLen, ReplyLen and
// PayloadLen give their stored lengths; a Payload over the cap is left out):
// GetEvent has them whole.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]Event, string, error) {
	if err := s.checkOpen("list events"); err != nil {
		return nil, "", err
	}
	after, paged, err := decodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	q := s.db.WithContext(ctx)
	for _, c := range []struct{ col, val string }{
		{"event", f.Event}, {"msg_type", f.MsgType}, {"from_user", f.FromUser}, {"to_user", f.ToUser},
		{"event_key", f.EventKey}, {"request_id", f.RequestID}, {"status", f.Status},
	} {
		if c.val != "" {
			q = q.Where(c.col+" = ?", c.val)
		}
	}
	if f.RequestID != "" {
		q = q.Where(requestIDCond)
	}
	if f.Status != "" && f.Status != StatusHandled {
		q = q.Where(unhandledCond)
	}
	if !f.Since.IsZero() {
		q = q.Where("received_at >= ?", dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("received_at < ?", dbTime(f.Until))
	}
	if paged {
		q = q.Where("id < ?", after)
	}
	var rows []Event
	if err := q.Select(s.eventListColumns()).Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", fmt.Errorf("models: list events: %w", err)
	}
	rows, next := nextCursor(rows, limit, func(e *Event) int64 { return e.ID })
	return rows, next, nil
}

// recoveryPage caps the page of ReceivedEvents and UnnotifiedEvents.
const recoveryPage = 1000

// ReceivedEvents returns up to limit events still "received" (stored but never
// dispatched, e.g. after a crash) with id > afterID, oldest first. Start-up
// recovery pages through them by passing the last id back as afterID.
func (s *Store) ReceivedEvents(ctx context.Context, limit int, afterID int64) ([]Event, error) {
	return s.eventsAfter(ctx, "received events", "status = ? AND "+unhandledCond, StatusReceived, limit, afterID)
}

// UnnotifiedEvents returns up to limit events not yet marked notified with
// id > afterID, oldest first.
func (s *Store) UnnotifiedEvents(ctx context.Context, limit int, afterID int64) ([]Event, error) {
	return s.eventsAfter(ctx, "unnotified events", unnotifiedCond, nil, limit, afterID)
}

// eventsAfter pages through the events matching cond (with its argument arg,
// or none if nil) in id order.
func (s *Store) eventsAfter(ctx context.Context, what, cond string, arg any, limit int, afterID int64) ([]Event, error) {
	if err := s.checkOpen(what); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > recoveryPage {
		limit = recoveryPage
	}
	var out []Event
	q := s.db.WithContext(ctx).Where(cond)
	if arg != nil {
		q = s.db.WithContext(ctx).Where(cond, arg)
	}
	err := q.Where("id > ?", afterID).
		Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", what, err)
	}
	return out, nil
}

// MarkNotified marks the events with the given ids as notified. Unknown ids are
// ignored. The update is group-committed with the writer's next batch.
func (s *Store) MarkNotified(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		for chunk := range chunks(ids, 500) {
			q := s.rebind("UPDATE events SET notified = true WHERE id IN (" + placeholders(len(chunk)) + ")")
			if _, err := tx.ExecContext(ctx, q, anys(chunk)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("models: mark notified: %w", err)
	}
	return nil
}

// chunks yields consecutive parts of ids of at most n elements.
func chunks(ids []int64, n int) func(yield func([]int64) bool) {
	return func(yield func([]int64) bool) {
		for len(ids) > 0 {
			k := min(n, len(ids))
			if !yield(ids[:k]) {
				return
			}
			ids = ids[k:]
		}
	}
}

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
