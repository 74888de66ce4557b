// Package benchfill builds large events tables for the growth benchmarks
// (issue #15) with set-based SQL: INSERT ... SELECT over generate_series on
// PostgreSQL, over a recursive CTE on SQLite, a chunk of rows per
// statement and transaction. Building 1,000,000 events through SaveEvent
// took 28-42 s per store; this builds them in a few seconds.
//
// The rows are what a store holds after months of handled menu clicks,
// views, subscriptions, scans and locations: ids laid out as the models'
// id generator makes them (milliseconds since 2020-01-01 << 22 | node << 12
// | sequence) and matching received_at, digest dedupe keys led by the
// CreateTime and prefixed by the account, nonce keys, the raw XML push and
// its JSON payload (about 250 and 180 bytes), one attempt row per event.
// The tables and indexes are the migrated ones: open a Store on the
// database first.
//
// It does not import models (whose tests use it); models' tests check
// that its ids agree with models.IDTime.
package benchfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Epoch is the zero of the id clock (models' idEpoch).
var Epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Node and AttemptNode are the id generator node numbers of the built
// events and attempts: two writers of the past, never colliding with each
// other (or, being older, with any id made now).
const (
	Node        = 1
	AttemptNode = 2
)

// Accounts and Events spread the rows: row g is for account g%10 and event
// (g/10)%5, so an account + event filter matches 1/50 of them.
var (
	Accounts = []string{"acct0", "acct1", "acct2", "acct3", "acct4", "acct5", "acct6", "acct7", "acct8", "acct9"}
	Events   = []string{"CLICK", "VIEW", "subscribe", "SCAN", "LOCATION"}
)

// Spec says what to build.
type Spec struct {
	N        int       // events
	From, To time.Time // received_at spread evenly over [From, To)
	Status   string    // "handled" (the default) or another status
	Chunk    int       // rows per statement and transaction; default 500,000
	// Progress, if set, is called after each chunk with the rows built so far.
	Progress func(done int)
}

// ID returns the id of row g of a fill of n rows over [from, to), as
// Fill makes it.
func ID(g, n int, from, to time.Time) int64 {
	ms := msOf(g, n, from, to)
	return ms<<22 | Node<<12 | int64(g&4095)
}

func msOf(g, n int, from, to time.Time) int64 {
	f := from.Sub(Epoch).Milliseconds()
	span := to.Sub(from).Milliseconds()
	return f + int64(g)*span/int64(max(n, 1))
}

// Fill inserts s.N events (and an attempt each) into the migrated tables of
// db; driver is "sqlite" or "postgres". Ids are unique as long as fewer
// than 4,096 rows fall in one millisecond of [From, To). It runs ANALYZE
// at the end.
func Fill(ctx context.Context, db *sql.DB, driver string, s Spec) error {
	if s.Status == "" {
		s.Status = "handled"
	}
	if s.Chunk <= 0 {
		s.Chunk = 500_000
	}
	spanMs := s.To.Sub(s.From).Milliseconds()
	if spanMs <= 0 {
		return fmt.Errorf("benchfill: empty time range %v..%v", s.From, s.To)
	}
	if s.N > 0 && spanMs*4096 < int64(s.N) {
		return fmt.Errorf("benchfill: %d rows do not fit in %v (at most 4,096 a millisecond)", s.N, s.To.Sub(s.From))
	}
	fromMs := s.From.Sub(Epoch).Milliseconds()
	var evSQL, atSQL, indexes string
	var setup, reset []string
	switch driver {
	case "postgres":
		evSQL, atSQL = pgEvents, pgAttempts
		indexes = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
 AND tablename IN ('events', 'event_attempts') AND indexname NOT IN ('events_pkey', 'event_attempts_pkey')`
		setup = []string{"SET maintenance_work_mem = '256MB'"}
		reset = []string{"RESET maintenance_work_mem"}
	case "sqlite", "sqlite3":
		evSQL, atSQL = sqliteEvents, sqliteAttempts
		indexes = `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('events', 'event_attempts') AND sql IS NOT NULL`
		// A larger page cache for the index builds; the build is not
		// worth an fsync a chunk (a crash leaves an unfinished build, which
		// its caller does not mark built).
		setup = []string{"PRAGMA cache_size = -262144", "PRAGMA synchronous = OFF"}
		reset = []string{"PRAGMA cache_size = -2000", "PRAGMA synchronous = FULL"}
	default:
		return fmt.Errorf("benchfill: unknown driver %q", driver)
	}
	// One connection throughout: the session settings are its own.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("benchfill: %s: %w", q, err)
		}
	}
	defer func() {
		for _, q := range reset {
			conn.ExecContext(context.Background(), q)
		}
	}()
	// The secondary indexes are dropped and made again from their
	// definitions once the rows are in: sorting once is much faster than
	// keeping eight B-trees in order row by row.
	var names, defs []string
	rows, err := conn.QueryContext(ctx, indexes)
	if err != nil {
		return fmt.Errorf("benchfill: list indexes: %w", err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("benchfill: list indexes: %w", err)
	}
	for _, name := range names {
		if _, err := conn.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return fmt.Errorf("benchfill: drop index %s: %w", name, err)
		}
	}
	for lo := 0; lo < s.N; lo += s.Chunk {
		hi := min(lo+s.Chunk, s.N)
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Arguments: lo, hi, n, from (ms since the epoch), span (ms), status.
		if _, err := tx.ExecContext(ctx, evSQL, lo, hi, s.N, fromMs, spanMs, s.Status); err != nil {
			tx.Rollback()
			return fmt.Errorf("benchfill: events %d..%d: %w", lo, hi, err)
		}
		if _, err := tx.ExecContext(ctx, atSQL, lo, hi, s.N, fromMs, spanMs); err != nil {
			tx.Rollback()
			return fmt.Errorf("benchfill: attempts %d..%d: %w", lo, hi, err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if s.Progress != nil {
			s.Progress(hi)
		}
	}
	for i, def := range defs {
		if _, err := conn.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("benchfill: make index %s again: %w", names[i], err)
		}
	}
	analyze := "ANALYZE"
	if driver == "postgres" {
		analyze = "ANALYZE events; ANALYZE event_attempts"
	}
	if _, err := conn.ExecContext(ctx, analyze); err != nil {
		return fmt.Errorf("benchfill: %s: %w", analyze, err)
	}
	return nil
}

// The rows, in both dialects. r.ms is the row's millisecond since the
// epoch; ct its CreateTime (seconds); acct and ev index Accounts and
// Events; ekey is the event key each kind of push carries.
//
// PostgreSQL: $1 lo, $2 hi, $3 n, $4 from ms, $5 span ms, $6 status.
const pgRows = `WITH r AS (
 SELECT g, $4::bigint + g * $5::bigint / $3::bigint AS ms,
  (ARRAY['acct0','acct1','acct2','acct3','acct4','acct5','acct6','acct7','acct8','acct9'])[1 + g % 10] AS acct,
  (ARRAY['CLICK','VIEW','subscribe','SCAN','LOCATION'])[1 + (g / 10) % 5] AS ev,
  'o6_bm' || lpad((g % 20000)::text, 23, '0') AS fromu
 FROM generate_series($1::bigint, $2::bigint - 1) AS g
), k AS (
 SELECT r.*, 1577836800 + r.ms / 1000 AS ct,
  CASE r.ev WHEN 'CLICK' THEN 'MENU_' || (r.g % 40) WHEN 'VIEW' THEN 'https://example.com/p/' || (r.g % 100)
   WHEN 'SCAN' THEN 'qrscene_' || (r.g % 500) ELSE '' END AS ekey
 FROM r
)`

const pgEvents = pgRows + `
INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type, event, event_key, from_user, to_user,
 create_time, msg_id, request_id, format, http_request_id, trace_parent, status, attempts, duplicates,
 received_at, last_seen, handled_at, last_error, payload, raw, notified)
SELECT ((k.ms << 22) | (1 << 12) | (k.g & 4095)), k.acct || '/d:' || lpad(k.ct::text, 10, '0') || ':' || md5(k.g::text) || md5((-k.g)::text),
 k.acct, '', k.ct || ':' || k.acct || ':' || lpad((k.g * 7919 % 1000000000)::text, 10, '0'), 'event.' || k.ev, 'event', k.ev, k.ekey,
 k.fromu, 'gh_3a9f0c2b71de', k.ct, '', '', 'xml', substr(md5('r' || k.g), 1, 16), '', $6::text, 1, 0,
 timestamptz '2020-01-01 00:00:00+00' + k.ms * interval '1 millisecond',
 timestamptz '2020-01-01 00:00:00+00' + k.ms * interval '1 millisecond',
 timestamptz '2020-01-01 00:00:00+00' + (k.ms + 2) * interval '1 millisecond', '',
 convert_to('{"ToUserName":"gh_3a9f0c2b71de","FromUserName":"' || k.fromu || '","CreateTime":' || k.ct ||
  ',"MsgType":"event","Event":"' || k.ev || '","EventKey":"' || k.ekey || '"}', 'UTF8'),
 convert_to('<xml><ToUserName><![CDATA[gh_3a9f0c2b71de]]></ToUserName><FromUserName><![CDATA[' || k.fromu ||
  ']]></FromUserName><CreateTime>' || k.ct || '</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[' || k.ev ||
  ']]></Event><EventKey><![CDATA[' || k.ekey || ']]></EventKey></xml>', 'UTF8'),
 true
FROM k`

const pgAttempts = `INSERT INTO event_attempts (id, event_id, started, duration_us, error, replay)
SELECT ((ms << 22) | (2 << 12) | (g & 4095)), ((ms << 22) | (1 << 12) | (g & 4095)),
 timestamptz '2020-01-01 00:00:00+00' + ms * interval '1 millisecond', 150 + g % 700, '', false
FROM (SELECT g, $4::bigint + g * $5::bigint / $3::bigint AS ms FROM generate_series($1::bigint, $2::bigint - 1) AS g) AS r`

// SQLite: ?1 lo, ?2 hi, ?3 n, ?4 from ms, ?5 span ms, ?6 status. Times are
// text as the driver writes a UTC time.Time: "2006-01-02 15:04:05.999999999-07:00"
// (fraction without trailing zeros, none when zero).
const sqliteTime = `strftime('%Y-%m-%d %H:%M:%S', 1577836800 + (X) / 1000, 'unixepoch') ||
 CASE WHEN (X) % 1000 = 0 THEN '' ELSE rtrim('.' || printf('%03d', (X) % 1000), '0') END || '+00:00'`

func sqliteTimeOf(x string) string { return strings.ReplaceAll(sqliteTime, "(X)", "("+x+")") }

var sqliteEvents = `INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type, event, event_key, from_user, to_user,
 create_time, msg_id, request_id, format, http_request_id, trace_parent, status, attempts, duplicates,
 received_at, last_seen, handled_at, last_error, payload, raw, notified)
WITH RECURSIVE c(g) AS (SELECT ?1 UNION ALL SELECT g + 1 FROM c WHERE g + 1 < ?2),
r AS (
 SELECT g, ?4 + g * ?5 / ?3 AS ms, 'acct' || (g % 10) AS acct,
  CASE (g / 10) % 5 WHEN 0 THEN 'CLICK' WHEN 1 THEN 'VIEW' WHEN 2 THEN 'subscribe' WHEN 3 THEN 'SCAN' ELSE 'LOCATION' END AS ev,
  'o6_bm' || printf('%023d', g % 20000) AS fromu
 FROM c
), k AS (
 SELECT r.*, 1577836800 + r.ms / 1000 AS ct,
  CASE r.ev WHEN 'CLICK' THEN 'MENU_' || (r.g % 40) WHEN 'VIEW' THEN 'https://example.com/p/' || (r.g % 100)
   WHEN 'SCAN' THEN 'qrscene_' || (r.g % 500) ELSE '' END AS ekey
 FROM r
)
SELECT ((k.ms << 22) | (1 << 12) | (k.g & 4095)), k.acct || '/d:' || printf('%010d', k.ct) || ':' || lower(hex(randomblob(32))),
 k.acct, '', k.ct || ':' || k.acct || ':' || printf('%010d', k.g * 7919 % 1000000000), 'event.' || k.ev, 'event', k.ev, k.ekey,
 k.fromu, 'gh_3a9f0c2b71de', k.ct, '', '', 'xml', lower(hex(randomblob(8))), '', ?6, 1, 0,
 ` + sqliteTimeOf("k.ms") + `,
 ` + sqliteTimeOf("k.ms") + `,
 ` + sqliteTimeOf("k.ms + 2") + `, '',
 CAST('{"ToUserName":"gh_3a9f0c2b71de","FromUserName":"' || k.fromu || '","CreateTime":' || k.ct ||
  ',"MsgType":"event","Event":"' || k.ev || '","EventKey":"' || k.ekey || '"}' AS BLOB),
 CAST('<xml><ToUserName><![CDATA[gh_3a9f0c2b71de]]></ToUserName><FromUserName><![CDATA[' || k.fromu ||
  ']]></FromUserName><CreateTime>' || k.ct || '</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[' || k.ev ||
  ']]></Event><EventKey><![CDATA[' || k.ekey || ']]></EventKey></xml>' AS BLOB),
 1
FROM k`

var sqliteAttempts = `INSERT INTO event_attempts (id, event_id, started, duration_us, error, replay)
WITH RECURSIVE c(g) AS (SELECT ?1 UNION ALL SELECT g + 1 FROM c WHERE g + 1 < ?2),
r AS (SELECT g, ?4 + g * ?5 / ?3 AS ms FROM c)
SELECT ((ms << 22) | (2 << 12) | (g & 4095)), ((ms << 22) | (1 << 12) | (g & 4095)), ` + sqliteTimeOf("ms") + `, 150 + g % 700, '', 0
FROM r`
