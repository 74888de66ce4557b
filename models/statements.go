package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// stmtID names a hot-path statement. The group-commit writer runs these through
// database/sql prepared statements: GORM's insert path costs about twice as much
// per row.
type stmtID int

const (
	stmtInsertEvent stmtID = iota
	stmtInsertEventNonceFree
	stmtBumpDuplicate
	stmtBumpLegacy
	stmtBumpLegacyRaw
	stmtNonceTaken
	stmtNonceRecord
	stmtNonceUsedBy
	stmtAttemptHandled
	stmtAttemptFailed
	stmtAttemptRetry
	stmtInsertAttempt
	stmtInsertRejected
	numStmts
)

// insertEventSQL inserts a new event, or nothing when a key is taken.
const insertEventSQL = `INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type, event, event_key,
 from_user, to_user, create_time, msg_id, request_id, format, http_request_id, trace_parent, status, attempts, duplicates, received_at,
 last_seen, last_error, payload, raw, notified)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 0, 0, ?, ?, '', ?, ?, false)
 ON CONFLICT DO NOTHING`

// nonceFreeInsert turns insertEventSQL into an INSERT ... SELECT that
// inserts nothing when used_nonces holds the push's nonce key for another
// push: two more arguments, the nonce key and the push's dedupe key.
func nonceFreeInsert(q string) string {
	q = strings.Replace(q, "VALUES (", "SELECT ", 1)
	return strings.Replace(q, ")\n ON CONFLICT DO NOTHING",
		"\n WHERE NOT EXISTS (SELECT 1 FROM used_nonces WHERE nonce_key = ? AND dedupe_key <> ?)\n ON CONFLICT DO NOTHING", 1)
}

// hotSQL is written with ? placeholders and rebound for PostgreSQL.
var hotSQL = [numStmts]string{
	stmtInsertEvent: insertEventSQL,
	// stmtInsertEventNonceFree is stmtInsertEvent unless used_nonces holds
	// the push's nonce key for another push (see nonceFree), in one
	// statement instead of a query and an insert. SQLite only: PostgreSQL
	// would not type the SELECT's arguments by their columns, and its
	// batches check their nonces in one query (usedNonces).
	stmtInsertEventNonceFree: nonceFreeInsert(insertEventSQL),
	stmtBumpDuplicate: `UPDATE events SET duplicates = duplicates + 1, last_seen = ?
 WHERE dedupe_key = ? RETURNING id, status, reply`,
	stmtBumpLegacy: `UPDATE events SET duplicates = duplicates + 1, last_seen = ?
 WHERE dedupe_key = ? AND (payload = ? OR raw = ?) RETURNING id, status, reply`,
	stmtBumpLegacyRaw: `UPDATE events SET duplicates = duplicates + 1, last_seen = ?
 WHERE dedupe_key = ? AND raw = ? RETURNING id, status, reply`,
	stmtNonceTaken:  `SELECT id FROM events WHERE nonce_key = ? AND nonce_key <> ''`,
	stmtNonceRecord: `INSERT INTO used_nonces (nonce_key, dedupe_key, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
	stmtNonceUsedBy: `SELECT dedupe_key FROM used_nonces WHERE nonce_key = ?`,
	stmtAttemptHandled: `UPDATE events SET attempts = attempts + 1, status = 'handled', last_error = '',
 handled_at = ?, reply = ? WHERE id = ?`,
	stmtAttemptFailed: `UPDATE events SET attempts = attempts + 1, status = 'failed', last_error = ?
 WHERE id = ?`,
	// A retry leaves the event received, claimed until its next attempt, so
	// that recovery (ClaimReceived) leaves it alone until then.
	stmtAttemptRetry: `UPDATE events SET attempts = attempts + 1, status = 'received', last_error = ?,
 recovery_until = ? WHERE id = ?`,
	stmtInsertAttempt: `INSERT INTO event_attempts (id, event_id, started, duration_us, error, replay)
 VALUES (?, ?, ?, ?, ?, ?)`,
	stmtInsertRejected: `INSERT INTO rejected_pushes (id, received_at, account, reason, status, query, remote_addr,
 content_type, raw, body_size, body_sha256, http_request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
}

// statements are the hot-path statements prepared on the writer's pool.
type statements struct {
	list [numStmts]*sql.Stmt
}

func prepareStatements(ctx context.Context, db *sql.DB, driver string, bornNotified bool) (*statements, error) {
	st := &statements{}
	for i, q := range hotSQL {
		if stmtID(i) == stmtInsertEventNonceFree && driver != DriverSQLite {
			continue
		}
		if stmtID(i) == stmtInsertEvent || stmtID(i) == stmtInsertEventNonceFree {
			q = withNotified(q, bornNotified)
		}
		p, err := db.PrepareContext(ctx, rebind(driver, q))
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare statement %d: %w", i, err)
		}
		st.list[i] = p
	}
	return st, nil
}

func (st *statements) close() {
	for _, p := range st.list {
		if p != nil {
			p.Close()
		}
	}
}

// batchTx is one group-commit transaction. It binds the prepared statements to
// the transaction the first time each is used.
type batchTx struct {
	tx    *sql.Tx
	st    *statements
	bound [numStmts]*sql.Stmt
}

func (b *batchTx) stmt(id stmtID) *sql.Stmt {
	if b.bound[id] == nil {
		b.bound[id] = b.tx.Stmt(b.st.list[id])
	}
	return b.bound[id]
}

// exec runs statement id and returns the rows it affected.
func (b *batchTx) exec(id stmtID, args ...any) (int64, error) {
	res, err := b.stmt(id).Exec(args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// nullBytes maps an empty slice to nil, stored as NULL.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// errSoft marks a per-operation outcome that does not spoil the batch it ran in
// (the event of an attempt was not found, say).
type errSoft struct{ err error }

func (e errSoft) Error() string { return e.err.Error() }
func (e errSoft) Unwrap() error { return e.err }

func isSoft(err error) bool {
	var s errSoft
	return errors.As(err, &s)
}

// withNotified returns an event insert that gives the notified column the
// value notified: the statements say "false" for it, as their last value.
func withNotified(insertSQL string, notified bool) string {
	if !notified {
		return insertSQL
	}
	i := strings.LastIndex(insertSQL, "false")
	return insertSQL[:i] + "true" + insertSQL[i+len("false"):]
}
