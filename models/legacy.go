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
// Keys changed again when events' ids got key spaces of their own: an
// event with a MsgID (TEMPLATESENDJOBFINISH, …) was keyed "m:" and its id,
// like a user's message, and a message that shared the number was taken
// for its duplicate. Such rows keep their key, and a retry of one is looked
// up under it (NewEvent.LegacyIDKey) in the same way.
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

// loadLegacyUntil finds the newest CreateTime under a legacy key ("t:", or
// "m:" on an event) among the
// rows of the last legacyWindow: a range of the primary key (ids are
// time-ordered), whatever the database's collation.
func (s *Store) loadLegacyUntil(ctx context.Context) error {
	now := s.now()
	var until sql.NullInt64
	err := s.sqlDB.QueryRowContext(ctx, rebind(s.driver,
		`SELECT max(create_time) FROM events WHERE id >= ? AND (substr(dedupe_key, 1, 2) = 't:'
 OR (msg_id <> '' AND msg_type IN ('event', '') AND substr(dedupe_key, length(dedupe_key) - length(msg_id) - 1) = 'm:' || msg_id))`),
		FirstIDAt(now.Add(-legacyWindow))).Scan(&until)
	if err != nil {
		return err
	}
	// Rows of an earlier version under a key without the raw push's part
	// (NewEvent.LegacyRawKey) cannot be told by their key: any recent row
	// may be one. Only pushes decoding did not hold whole are looked up so.
	var rawUntil sql.NullInt64
	if err := s.sqlDB.QueryRowContext(ctx, rebind(s.driver, `SELECT max(create_time) FROM events WHERE id >= ?`),
		FirstIDAt(now.Add(-legacyWindow))).Scan(&rawUntil); err != nil {
		return err
	}
	s.legacyRawUntil = math.MinInt64
	if rawUntil.Valid {
		s.legacyRawUntil = rawUntil.Int64
		if s.driver == DriverPostgres {
			s.legacyRawUntil = max(s.legacyRawUntil, now.Add(legacyWindow).Unix())
		}
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
