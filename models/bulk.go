package models

import (
	"fmt"
	"time"
)

// On PostgreSQL every statement is a network round trip, so the writer applies
// a batch's saves and attempts with a few array statements (unnest) instead of
// one statement per row. If such a statement fails, the batch is run again row
// by row (see writer.process), which tells which op was at fault.

const bulkInsertEventsSQL = `INSERT INTO events (id, dedupe_key, account, authorizer_appid, nonce_key, kind, msg_type,
 event, event_key, from_user, to_user, create_time, msg_id, request_id, format, http_request_id, trace_parent, status, attempts, duplicates,
 received_at, last_seen, last_error, payload, raw, notified)
SELECT u.id, u.dedupe_key, u.account, u.authorizer_appid, u.nonce_key, u.kind, u.msg_type, u.event, u.event_key, u.from_user,
 u.to_user, u.create_time, u.msg_id, u.request_id, u.format, u.http_request_id, u.trace_parent, 'received', 0, 0, u.received_at, u.received_at, '',
 u.payload, u.raw, false
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
 $9::bigint[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::bytea[], $15::bytea[],
 $16::text[], $17::text[], $18::text[], $19::text[], $20::text[])
 AS u(id, dedupe_key, kind, msg_type, event, event_key, from_user, to_user, create_time, msg_id, request_id,
 format, received_at, payload, raw, account, nonce_key, authorizer_appid, http_request_id, trace_parent)
ON CONFLICT DO NOTHING
RETURNING id`

const bulkUpdateAttemptedSQL = `UPDATE events e SET attempts = e.attempts + v.n, status = v.status,
 last_error = v.last_error,
 handled_at = CASE WHEN v.ok THEN v.handled_at ELSE e.handled_at END,
 reply = CASE WHEN v.ok THEN v.reply ELSE e.reply END,
 recovery_until = CASE WHEN v.retry THEN v.recovery_until ELSE e.recovery_until END
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[], $7::bytea[],
 $8::bool[], $9::timestamptz[])
 AS v(id, n, status, last_error, ok, handled_at, reply, retry, recovery_until)
WHERE e.id = v.id
RETURNING e.id`

const bulkInsertAttemptsSQL = `INSERT INTO event_attempts (id, event_id, started, duration_us, error, replay)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::text[], $6::bool[])`

// applyBulk applies the saves and attempts among ops with array statements and
// marks them bulked; the writer applies the rest one by one.
func (s *Store) applyBulk(b *batchTx, ops []*writeOp) error {
	var saves, atts []*writeOp
	for _, op := range ops {
		switch op.kind {
		case opSaveEvent:
			saves = append(saves, op)
		case opAttempt:
			atts = append(atts, op)
		}
	}
	if err := s.bulkSaves(b, saves); err != nil {
		return fmt.Errorf("bulk insert events: %w", err)
	}
	if err := s.bulkAttempts(b, atts); err != nil {
		return fmt.Errorf("bulk record attempts: %w", err)
	}
	return nil
}

func (s *Store) bulkSaves(b *batchTx, saves []*writeOp) error {
	if len(saves) < 2 {
		return nil // one row: the row-by-row statement is as cheap
	}
	// The first op of each key is inserted; later ones in the batch are its duplicates.
	first := make(map[string]*writeOp, len(saves))
	var (
		cands, dups                            []*writeOp
		ids, cts                               []int64
		keys, kinds, mts, evs, eks, froms, tos []string
		msgIDs, reqIDs, formats                []string
		accounts, nonceKeys, authorizers       []string
		httpIDs, traceParents                  []string
		ats                                    []time.Time
		payloads, raws                         [][]byte
	)
	used, err := s.usedNonces(b, saves)
	if err != nil {
		return err
	}
	for _, op := range saves {
		e := &op.ev
		found, err := s.bumpLegacy(b, op)
		if err != nil {
			return err
		}
		if found {
			op.bulked = true
			if err := s.settleBulkErr(s.recordNonce(b, op), op); err != nil {
				return err
			}
			continue
		}
		if key, ok := used[e.NonceKey]; ok && key != e.DedupeKey {
			op.bulked = true
			op.err = errSoft{fmt.Errorf("nonce key %q carried the push %q: %w", e.NonceKey, key, ErrNonceUsed)}
			continue
		}
		if _, ok := first[e.DedupeKey]; ok {
			dups = append(dups, op)
			continue
		}
		first[e.DedupeKey] = op
		cands = append(cands, op)
		ids, keys, kinds = append(ids, op.id), append(keys, e.DedupeKey), append(kinds, e.Kind)
		mts, evs, eks = append(mts, e.MsgType), append(evs, e.Event), append(eks, e.EventKey)
		froms, tos, cts = append(froms, e.FromUser), append(tos, e.ToUser), append(cts, e.CreateTime)
		msgIDs, reqIDs, formats = append(msgIDs, e.MsgID), append(reqIDs, e.RequestID), append(formats, e.Format)
		ats = append(ats, e.ReceivedAt)
		accounts, nonceKeys = append(accounts, accountOrDefault(e.Account)), append(nonceKeys, e.NonceKey)
		authorizers, httpIDs = append(authorizers, e.AuthorizerAppID), append(httpIDs, e.HTTPRequestID)
		traceParents = append(traceParents, e.TraceParent)
		payloads, raws = append(payloads, nullBytes(e.Payload)), append(raws, nullBytes(e.Raw))
	}
	rows, err := b.tx.Query(withNotified(bulkInsertEventsSQL, s.bornNotified), ids, keys, kinds, mts, evs, eks, froms, tos, cts,
		msgIDs, reqIDs, formats, ats, payloads, raws, accounts, nonceKeys, authorizers, httpIDs, traceParents)
	if err != nil {
		return err
	}
	inserted := make(map[int64]bool, len(cands))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		inserted[id] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, op := range cands {
		op.bulked = true
		if inserted[op.id] {
			op.saved = Saved{ID: op.id, Status: StatusReceived}
			continue
		}
		if err := s.settleBulk(b, op); err != nil { // a key was taken before this batch
			return err
		}
	}
	for _, op := range dups {
		op.bulked = true
		if err := s.settleBulk(b, op); err != nil {
			return err
		}
	}
	return nil
}

// settleBulk is settleConflict for an op of an array insert: a nonce taken
// is that op's outcome; a taken id fails the array statements, and the
// batch is run again row by row, where the id is renewed.
func (s *Store) settleBulk(b *batchTx, op *writeOp) error {
	return s.settleBulkErr(s.settleConflict(b, op), op)
}

// settleBulkErr makes a soft error op's outcome.
func (s *Store) settleBulkErr(err error, op *writeOp) error {
	if isSoft(err) {
		op.err = err
		return nil
	}
	return err
}

// usedNonces returns the dedupe keys kept in used_nonces (see UsedNonce)
// under the nonce keys of saves, by nonce key.
func (s *Store) usedNonces(b *batchTx, saves []*writeOp) (map[string]string, error) {
	var keys []string
	for _, op := range saves {
		if op.ev.NonceKey != "" {
			keys = append(keys, op.ev.NonceKey)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := b.tx.Query(`SELECT nonce_key, dedupe_key FROM used_nonces WHERE nonce_key = ANY($1::text[])`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var used map[string]string
	for rows.Next() {
		var nonce, key string
		if err := rows.Scan(&nonce, &key); err != nil {
			return nil, err
		}
		if used == nil {
			used = make(map[string]string, 1)
		}
		used[nonce] = key
	}
	return used, rows.Err()
}

func (s *Store) bulkAttempts(b *batchTx, atts []*writeOp) error {
	if len(atts) < 2 {
		return nil
	}
	// Fold the attempts on each event, in order, into one update that sets
	// what stmtAttemptHandled, stmtAttemptRetry and stmtAttemptFailed would.
	type fold struct {
		n         int
		status    string
		lastError string
		ok        bool // handled_at and reply: the last handled attempt's
		handledAt time.Time
		reply     []byte
		retry     bool // recovery_until: the last retry's RetryAt
		until     time.Time
	}
	folds := make(map[int64]*fold, len(atts))
	var order []int64
	for _, op := range atts {
		a := &op.att
		f := folds[a.EventID]
		if f == nil {
			f = &fold{}
			folds[a.EventID] = f
			order = append(order, a.EventID)
		}
		f.n++
		f.lastError = a.Err
		switch {
		case a.Err == "":
			f.status, f.ok = StatusHandled, true
			f.handledAt, f.reply = dbTime(a.Started.Add(a.Duration)), nullBytes(a.Reply)
		case !a.RetryAt.IsZero():
			f.status, f.retry, f.until = StatusReceived, true, dbTime(a.RetryAt)
		default:
			f.status = StatusFailed
		}
	}
	var (
		ns                 []int32
		statuses, lastErrs []string
		oks, retries       []bool
		handled, untils    []time.Time
		replies            [][]byte
	)
	for _, id := range order {
		f := folds[id]
		ns, statuses, lastErrs = append(ns, int32(f.n)), append(statuses, f.status), append(lastErrs, f.lastError)
		oks, handled, replies = append(oks, f.ok), append(handled, f.handledAt), append(replies, f.reply)
		retries, untils = append(retries, f.retry), append(untils, f.until)
	}
	rows, err := b.tx.Query(bulkUpdateAttemptedSQL, order, ns, statuses, lastErrs, oks, handled, replies, retries, untils)
	if err != nil {
		return err
	}
	found := make(map[int64]bool, len(order))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		found[id] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var (
		ids, eventIDs, durs []int64
		starts              []time.Time
		errs                []string
		replays             []bool
	)
	for _, op := range atts {
		op.bulked = true
		a := &op.att
		if !found[a.EventID] {
			op.err = errSoft{fmt.Errorf("event %d: %w", a.EventID, ErrNotFound)}
			continue
		}
		ids, eventIDs, starts = append(ids, op.id), append(eventIDs, a.EventID), append(starts, a.Started)
		durs, errs, replays = append(durs, a.Duration.Microseconds()), append(errs, a.Err), append(replays, a.Replay)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = b.tx.Exec(bulkInsertAttemptsSQL, ids, eventIDs, starts, durs, errs, replays)
	return err
}
