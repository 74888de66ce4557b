package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// GetEvents returns the events among ids that exist, in id order, with the
// columns named (all when none): the batched GetEvent of bulk replay (a
// few hundred ids a call).
func (s *Store) GetEvents(ctx context.Context, ids []int64, columns ...string) ([]Event, error) {
	if err := s.checkOpen("get events"); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if slices.Equal(columns, ReplayColumns) {
		return s.replayRows(ctx, ids)
	}
	var out []Event
	q := s.db.WithContext(ctx).Where("id IN ?", ids)
	if len(columns) > 0 {
		q = q.Select(columns)
	}
	if err := q.Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: get %d events: %w", len(ids), err)
	}
	return out, nil
}

// replayRows is GetEvents with ReplayColumns, scanned by hand: bulk
// replay reads every event it replays, and GORM's reflection cost more
// than the query.
func (s *Store) replayRows(ctx context.Context, ids []int64) ([]Event, error) {
	q := "SELECT " + strings.Join(ReplayColumns, ", ") + " FROM events WHERE id IN (" + placeholders(len(ids)) + ") ORDER BY id"
	rows, err := s.sqlDB.QueryContext(ctx, s.rebind(q), anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("models: get %d events: %w", len(ids), err)
	}
	defer rows.Close()
	out := make([]Event, 0, len(ids))
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.ID, &e.Account, &e.AuthorizerAppID, &e.Status, &e.Format, &e.Raw, &e.Attempts, &e.ReceivedAt, &e.HTTPRequestID); err != nil {
			return nil, fmt.Errorf("models: get %d events: %w", len(ids), err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("models: get %d events: %w", len(ids), err)
	}
	return out, nil
}

// EventIDs returns the ids of up to limit events matching f (its Cursor
// and Limit aside) with afterID < id < beforeID, oldest first; with
// skipReceived, those still received are left out. Bulk replay pages
// through a filter with it.
func (s *Store) EventIDs(ctx context.Context, f EventFilter, afterID, beforeID int64, limit int, skipReceived bool) ([]int64, error) {
	if err := s.checkOpen("list event ids"); err != nil {
		return nil, err
	}
	q := s.sinceIDBound(f.where(s.db.WithContext(ctx).Model(&Event{})), f.Since).Where("id > ? AND id < ?", afterID, beforeID)
	if skipReceived {
		q = q.Where("status <> ?", StatusReceived)
	}
	var ids []int64
	if err := q.Order("id").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("models: list event ids: %w", err)
	}
	return ids, nil
}

// ReplayColumns are the columns of an event that a replay reads (GetEvents
// with them reads no payload or reply).
var ReplayColumns = []string{"id", "account", "authorizer_appid", "status", "format", "raw", "attempts", "received_at", "http_request_id"}

// EventStatuses returns the status of each event among ids that exists.
func (s *Store) EventStatuses(ctx context.Context, ids []int64) (map[int64]string, error) {
	if err := s.checkOpen("event statuses"); err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     int64
		Status string
	}
	if err := s.db.WithContext(ctx).Model(&Event{}).Select("id, status").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: statuses of %d events: %w", len(ids), err)
	}
	for _, r := range rows {
		out[r.ID] = r.Status
	}
	return out, nil
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
	// Account is the name of the account the events arrived for.
	Account                                                       string
	Event, MsgType, FromUser, ToUser, EventKey, RequestID, Status string
	// Since (inclusive) and Until (exclusive) bound received_at; zero = unbounded.
	Since, Until time.Time
	Limit        int    // 0 = DefaultPageSize; capped at MaxPageSize
	Cursor       string // from a previous page; "" = newest

	// AuthorizerAppID is the authorized account an Open Platform account
	// received the events for.
	AuthorizerAppID string
}

// The exact-match conditions of an EventFilter: each column with the
// event's value of it (filterCols), and the filter's wanted value of each,
// in the same order (EventFilter.wants). The SQL of the queries (where), the
// in-memory test of the feeds (Matcher) and the feeds' index of subscribers
// all read these, so a field added here filters them all
// (TestFilterColumnsCoverEveryField checks that every string field is here).
var filterCols = [...]struct {
	col string
	get func(*Event) string
}{
	{"account", func(e *Event) string { return e.Account }},
	{"authorizer_appid", func(e *Event) string { return e.AuthorizerAppID }},
	{"event", func(e *Event) string { return e.Event }},
	{"msg_type", func(e *Event) string { return e.MsgType }},
	{"from_user", func(e *Event) string { return e.FromUser }},
	{"to_user", func(e *Event) string { return e.ToUser }},
	{"event_key", func(e *Event) string { return e.EventKey }},
	{"request_id", func(e *Event) string { return e.RequestID }},
	{"status", func(e *Event) string { return e.Status }},
}

// FilterColumns is how many exact-match columns an EventFilter has.
const FilterColumns = len(filterCols)

func (f EventFilter) wants() [FilterColumns]string {
	return [FilterColumns]string{f.Account, f.AuthorizerAppID, f.Event, f.MsgType, f.FromUser, f.ToUser, f.EventKey, f.RequestID, f.Status}
}

// FilterColumnValue returns e's value of exact-match column col (0 <=
// col < FilterColumns), as a Matcher compares it.
func FilterColumnValue(col int, e *Event) string { return filterCols[col].get(e) }

// Matcher is an EventFilter compiled for testing many events in memory.
type Matcher struct {
	cols         []int
	want         []string
	since, until time.Time
}

// Matcher compiles f.
func (f EventFilter) Matcher() Matcher {
	m := Matcher{since: f.Since, until: f.Until}
	if !m.since.IsZero() {
		m.since = dbTime(m.since)
	}
	if !m.until.IsZero() {
		m.until = dbTime(m.until)
	}
	for i, w := range f.wants() {
		if w != "" {
			m.cols, m.want = append(m.cols, i), append(m.want, w)
		}
	}
	return m
}

// Match reports whether e passes the filter (every field but Limit and
// Cursor), as the queries would select it.
func (m Matcher) Match(e *Event) bool {
	for i, c := range m.cols {
		if filterCols[c].get(e) != m.want[i] {
			return false
		}
	}
	if !m.since.IsZero() && e.ReceivedAt.Before(m.since) {
		return false
	}
	if !m.until.IsZero() && !e.ReceivedAt.Before(m.until) {
		return false
	}
	return true
}

// IndexKey returns the first exact-match condition of the filter, column
// and value, to index subscribers by; ok is false when there is none.
func (m Matcher) IndexKey() (col int, val string, ok bool) {
	if len(m.cols) == 0 {
		return 0, "", false
	}
	return m.cols[0], m.want[0], true
}

// Match reports whether e passes f (see Matcher.Match).
func (f EventFilter) Match(e *Event) bool { return f.Matcher().Match(e) }

// where adds f's conditions (every field but Limit and Cursor) to q.
func (f EventFilter) where(q *gorm.DB) *gorm.DB {
	for i, want := range f.wants() {
		if want != "" {
			q = q.Where(filterCols[i].col+" = ?", want)
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
	return q
}

// sinceSlack is how far before a since filter the ids of the events it
// matches may lie (see sinceIDBound).
const sinceSlack = time.Hour

// sinceIDBound adds to q, for a filter with Since, "id >= " the first id
// of an hour before Since: an event's id is made when its row is written,
// after its received_at was taken, so an event received at or after Since
// has such an id, unless the clock stepped back by more than the hour (or
// a caller of SaveEvent set a ReceivedAt ahead of the time of saving). A
// Store's clock ahead of the wall clock (a test's) widens the bound by
// as much. The received_at condition stays; the id bound only lets the
// database start a walk in id order at Since instead of at the newest
// event: at 10 million events a filter on account + event + since that
// matched nothing walked all of the pair's entries (PostgreSQL p99 566 ms).
func (s *Store) sinceIDBound(q *gorm.DB, since time.Time) *gorm.DB {
	if since.IsZero() {
		return q
	}
	ahead := max(s.now().Sub(time.Now()), 0)
	return q.Where("id >= ?", FirstIDAt(since.Add(-sinceSlack-ahead)))
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
	q := s.sinceIDBound(f.where(s.db.WithContext(ctx)), f.Since)
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
