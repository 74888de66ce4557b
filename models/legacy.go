package models

import (
	"context"
	"database/sql"
	"math"
	"time"
)

// Dedupe keys changed: versions before the whole-push digest keyed a push
// without MsgId or RequestID by "t:" and six of its fields, which merged
// distinct pushes. New rows are keyed by the digest (events.Meta.DedupeKey),
// and rows stored before the upgrade keep their old key. A platform retry
// of such a row arriving after the upgrade is still its duplicate: the
// writer looks the push up under its legacy key (NewEvent.LegacyKey) too,
// and takes a row found there, with the same payload or the same raw body
// (the payload of a kind typed since differs), as its original.
//
// The look-up is only made for pushes that may have such an original: a
// CreateTime at most the newest CreateTime under a legacy key among the
// rows stored in the hour before the Store opened (the platform retries a
// push within seconds, so older rows have no retry to come). On
// PostgreSQL, when there are such rows, an upgrade may be rolling (replicas
// of the earlier version still store legacy keys), so pushes created up to
// an hour after Open are looked up too.

// legacyWindow is how far back from Open legacy rows are looked for, and,
// on PostgreSQL, how long after Open pushes are looked up under their
// legacy key when there are some.
const legacyWindow = time.Hour

// loadLegacyUntil finds the newest CreateTime under a legacy key among the
// rows of the last legacyWindow: a range of the primary key (ids are
// time-ordered), whatever the database's collation.
func (s *Store) loadLegacyUntil(ctx context.Context) error {
	now := s.now()
	var until sql.NullInt64
	err := s.sqlDB.QueryRowContext(ctx, rebind(s.driver,
		`SELECT max(create_time) FROM events WHERE id >= ? AND substr(dedupe_key, 1, 2) = 't:'`),
		FirstIDAt(now.Add(-legacyWindow))).Scan(&until)
	if err != nil {
		return err
	}
	s.legacyUntil = math.MinInt64
	if !until.Valid {
		return nil
	}
	s.legacyUntil = until.Int64
	if s.driver == DriverPostgres {
		s.legacyUntil = max(s.legacyUntil, now.Add(legacyWindow).Unix())
	}
	return nil
}

// LegacyUntil returns the newest CreateTime for which a push is also looked
// up under its legacy dedupe key, or math.MinInt64 when the database held no
// recent row under a legacy key at Open.
func (s *Store) LegacyUntil() int64 { return s.legacyUntil }
