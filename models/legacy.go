package models

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Dedupe keys changed: versions before the whole-push digest keyed a push
// without MsgId or RequestID by "t:" and six of its fields, which merged
// distinct pushes. New rows are keyed by the digest (events.Meta.DedupeKey),
// and rows stored before the upgrade keep their old key. A platform retry
// of such a row arriving after the upgrade is still its duplicate: the
// writer looks the push up under its legacy key (NewEvent.LegacyKey) too,
// and takes a row found there, with the same payload, as its original.
//
// The look-up is only made for pushes that may have such an original: a
// CreateTime at most the newest CreateTime under a legacy key when the
// Store opened. On PostgreSQL, when that row is under an hour old, an
// upgrade may be rolling (replicas of the earlier version still store
// legacy keys), so pushes created up to an hour after Open are looked up
// too.

// legacyRollingWindow is how long after Open, on PostgreSQL, pushes are
// looked up under their legacy key when legacy rows are recent.
const legacyRollingWindow = time.Hour

// loadLegacyUntil finds the newest CreateTime under a legacy key: one probe
// of the dedupe index, whose "t:" keys of real (10-digit) CreateTimes sort
// by time.
func (s *Store) loadLegacyUntil(ctx context.Context) error {
	var key string
	err := s.sqlDB.QueryRowContext(ctx, rebind(s.driver,
		`SELECT dedupe_key FROM events WHERE dedupe_key >= ? AND dedupe_key < ? ORDER BY dedupe_key DESC LIMIT 1`),
		"t:", "t;").Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		s.legacyUntil = -1 << 63
		return nil
	}
	if err != nil {
		return err
	}
	digits, _, _ := strings.Cut(strings.TrimPrefix(key, "t:"), "|")
	until, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		s.legacyUntil = -1 << 63
		return nil
	}
	now := s.now()
	if s.driver == DriverPostgres && now.Sub(time.Unix(until, 0)) < legacyRollingWindow {
		until = max(until, now.Add(legacyRollingWindow).Unix())
	}
	s.legacyUntil = until
	return nil
}

// LegacyUntil returns the newest CreateTime for which a push is also looked
// up under its legacy dedupe key, or math.MinInt64 when the database held no
// row under a legacy key at Open.
func (s *Store) LegacyUntil() int64 { return s.legacyUntil }
