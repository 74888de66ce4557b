package models

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// EventsChannel is the PostgreSQL NOTIFY channel on which a replica
// announces the id of events it committed (see AnnounceEvent), so that the
// feeds of other replicas look in the store again. Like ResultsChannel, it
// is suffixed by the schema outside public (see Store.Channel).
const EventsChannel = "pushgate_events"

// FeedPage caps the page of EventsAfter.
const FeedPage = 1000

// EventsAfter returns up to limit events matching f (Limit and Cursor
// ignored) with after < id < before, oldest first: a page of a feed. A
// before of 0 means no upper bound. limit <= 0 or over FeedPage means
// FeedPage. The query walks the primary key in id order on both drivers.
func (s *Store) EventsAfter(ctx context.Context, f EventFilter, after, before int64, limit int) ([]Event, error) {
	if err := s.checkOpen("events after"); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > FeedPage {
		limit = FeedPage
	}
	if f.isZero() && before != 0 {
		return s.allEventsAfter(ctx, after, before, limit)
	}
	q := f.where(s.db.WithContext(ctx)).Where("id > ?", after)
	if before != 0 {
		q = q.Where("id < ?", before)
	}
	var out []Event
	if err := q.Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: events after %d: %w", after, err)
	}
	return out, nil
}

// LastEventID returns the largest event id below before (0: no bound), or 0
// when there is none.
func (s *Store) LastEventID(ctx context.Context, before int64) (int64, error) {
	if err := s.checkOpen("last event id"); err != nil {
		return 0, err
	}
	q := s.db.WithContext(ctx).Model(&Event{}).Select("id")
	if before != 0 {
		q = q.Where("id < ?", before)
	}
	var ids []int64
	if err := q.Order("id DESC").Limit(1).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("models: last event id: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// AnnounceEvent tells the feeds of every replica on this PostgreSQL
// database that events up to id are committed (NOTIFY on EventsChannel).
// The store stays the source of truth: listeners only look again. On
// SQLite, where one process owns the file, it does nothing.
func (s *Store) AnnounceEvent(ctx context.Context, id int64) error {
	if s.driver != DriverPostgres {
		return nil
	}
	if err := s.checkOpen("announce event"); err != nil {
		return err
	}
	if _, err := s.sqlDB.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.Channel(EventsChannel), strconv.FormatInt(id, 10)); err != nil {
		return fmt.Errorf("models: announce event %d: %w", id, err)
	}
	return nil
}

// ListenEvents reports the ids announced on EventsChannel by any replica
// (AnnounceEvent) to onEvent, until ctx ends or the connection fails, like
// ListenResults. Payloads that are not ids are ignored. On SQLite it
// returns ErrUnsupportedDriver.
func (s *Store) ListenEvents(ctx context.Context, listening func(), onEvent func(id int64)) error {
	return s.listen(ctx, "listen events", s.Channel(EventsChannel), listening, func(p string) {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			onEvent(id)
		}
	})
}

// isZero reports whether f selects every event.
func (f EventFilter) isZero() bool {
	return f.wants() == [FilterColumns]string{} && f.Since.IsZero() && f.Until.IsZero()
}

// initScanColumns lists every migrated column of events (those GORM reads
// into an Event) with the Event field each is scanned into, both taken from
// the model's schema, so that a column added to Event is read by
// allEventsAfter too.
func (s *Store) initScanColumns() {
	stmt := &gorm.Statement{DB: s.db}
	if err := stmt.Parse(&Event{}); err != nil {
		panic(fmt.Sprintf("models: parse Event: %v", err)) // the model of this package: a bug
	}
	var cols []string
	for _, f := range stmt.Schema.Fields {
		if f.DBName == "" || f.IgnoreMigration {
			continue
		}
		cols = append(cols, f.DBName)
		s.scanFields = append(s.scanFields, f.StructField.Index)
	}
	s.scanCols = strings.Join(cols, ", ")
}

// allEventsAfter is EventsAfter without a filter: the feeds' hub reads every
// new event this way after each commit, so it skips GORM's query building
// and scanning. It reads every column of events (initScanColumns).
func (s *Store) allEventsAfter(ctx context.Context, after, before int64, limit int) ([]Event, error) {
	s.scanColsOnce.Do(s.initScanColumns)
	rows, err := s.sqlDB.QueryContext(ctx, s.rebind("SELECT "+s.scanCols+
		" FROM events WHERE id > ? AND id < ? ORDER BY id LIMIT ?"), after, before, limit)
	if err != nil {
		return nil, fmt.Errorf("models: events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []Event
	dest := make([]any, len(s.scanFields))
	for rows.Next() {
		out = append(out, Event{})
		v := reflect.ValueOf(&out[len(out)-1]).Elem()
		for i, idx := range s.scanFields {
			dest[i] = v.FieldByIndex(idx).Addr().Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("models: events after %d: %w", after, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("models: events after %d: %w", after, err)
	}
	return out, nil
}
