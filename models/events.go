package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// NewEvent is what the receiver hands in for one accepted push.
type NewEvent struct {
	// DedupeKey identifies the push across platform retries; computed by the
	// caller. Keys that lead with the CreateTime keep the unique index fast.
	DedupeKey string
	// LegacyKey is the key an earlier version stored the same push under
	// (events.Meta.LegacyKey), "" if none. A row stored under it before an
	// upgrade, with the same Payload or the same Raw, is this push's
	// original: see
	// Store.LegacyUntil.
	LegacyKey string
	// LegacyIDKey is the key versions before events' ids had key spaces of
	// their own stored an event with a MsgID under
	// (events.Meta.LegacyIDKey), "" if none; looked up like LegacyKey.
	LegacyIDKey string
	// LegacyRawKey is the key versions before events.Meta.Unkept stored a
	// push that decoding did not hold whole under
	// (events.Meta.LegacyUnkeptKey), "" if none. A row under it is the
	// push's original only if its raw body is the same.
	LegacyRawKey string

	// Account is the name of the account the push arrived for; "" means
	// "default".
	Account string
	// AuthorizerAppID is the app id of the authorized account an Open
	// Platform account received the push for; "" for any other push.
	AuthorizerAppID string
	// NonceKey, when set, is unique among stored events: a push under a
	// NonceKey taken by a push with another DedupeKey is refused with
	// ErrNonceUsed (the same DedupeKey is an ordinary duplicate). The
	// receiver sets it to the signed URL's timestamp, account and nonce.
	NonceKey string

	Kind, MsgType, Event, EventKey string
	FromUser, ToUser               string
	CreateTime                     int64
	MsgID, RequestID               string
	Format                         string    // "xml" | "json"
	Payload                        []byte    // decoded event as JSON
	Raw                            []byte    // body exactly as received
	ReceivedAt                     time.Time // zero = the Store's clock
	HTTPRequestID                  string    // the id of the HTTP request that delivered the push
	TraceParent                    string    // the W3C traceparent of the push's span; "" when tracing is off
	// Expected says the caller announced this save with ExpectSave; saving
	// it (or failing to) ends the announcement.
	Expected bool
	// LateFunc, when set, is called (on its own goroutine) with the outcome
	// of a save whose caller stopped waiting: SaveEvent returned ctx's error
	// while the writer held the event, which may have been committed since.
	// It lets the caller dispatch a push whose commit came after its answer.
	LateFunc func(Saved, error)
}

// ExpectSave announces a SaveEvent call to come soon (the caller is reading
// and decoding a push): while saves are announced, the writer holds a batch
// open for a moment (Options.Linger) so that they share its commit. Follow
// it with SaveEvent with NewEvent.Expected set, or with CancelSave.
func (s *Store) ExpectSave() { s.w.expected.Add(1) }

// CancelSave withdraws an ExpectSave that no SaveEvent follows (the push
// was refused).
func (s *Store) CancelSave() { s.w.expected.Add(-1) }

// ExpectedSaves returns how many announced saves have not been queued yet.
func (s *Store) ExpectedSaves() int64 { return s.w.expected.Load() }

// WriterStats counts the work of the Store's group-commit writer since Open.
type WriterStats struct {
	Batches int64 // transactions begun (one commit each, unless it failed)
	Writes  int64 // writes (saves, attempts, ...) they carried
}

// WriterStats returns the writer's counts, for metrics: Writes/Batches is
// how many writes share a commit.
func (s *Store) WriterStats() WriterStats {
	return WriterStats{Batches: s.w.batches.Load(), Writes: s.w.writes.Load()}
}

// CommitSizeBounds are the upper bounds of CommitSizes' buckets.
var CommitSizeBounds = [...]float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// commitSizeBucket returns the index in writer.sizes of a batch of n writes.
func commitSizeBucket(n int) int {
	for i, b := range CommitSizeBounds {
		if float64(n) <= b {
			return i
		}
	}
	return len(CommitSizeBounds)
}

// CommitSizes is a histogram of the writes per batch of the Store's
// group-commit writer since Open, in Prometheus' shape.
type CommitSizes struct {
	Buckets map[float64]uint64 // upper bound (CommitSizeBounds) -> batches of at most that many writes (cumulative)
	Count   uint64             // batches, as WriterStats.Batches
	Sum     float64            // writes they carried, as WriterStats.Writes
}

// CommitSizes returns the histogram of the writer's batch sizes, for
// metrics. Its counts are read one by one while the writer runs: Count is
// the sum of the buckets, and Sum may be ahead of them by a batch.
func (s *Store) CommitSizes() CommitSizes {
	cs := CommitSizes{Buckets: make(map[float64]uint64, len(CommitSizeBounds))}
	var n uint64
	for i, b := range CommitSizeBounds {
		n += uint64(s.w.sizes[i].Load())
		cs.Buckets[b] = n
	}
	cs.Count = n + uint64(s.w.sizes[len(CommitSizeBounds)].Load())
	cs.Sum = float64(s.w.writes.Load())
	return cs
}

// Saved tells the caller of SaveEvent what happened.
type Saved struct {
	ID        int64
	Duplicate bool   // true: the key existed; ID, Status and Reply are the original's
	Status    string // StatusReceived, StatusHandled or StatusFailed
	Reply     []byte // the original's stored passive reply (nil = "success")
}

// SaveEvent stores e durably exactly once per DedupeKey. An event with a
// text field no database can hold alike (a NUL character, invalid UTF-8)
// is refused with an error wrapping ErrUnstorable: it could never be
// stored. It returns after the row (or, for a duplicate, the bump of the original's duplicates and
// last_seen) is committed: fsync'd on SQLite with synchronous=FULL.
//
// Concurrent callers share one transaction, committed by the Store's writer
// goroutine. If ctx ends while waiting, SaveEvent returns ctx's error and the
// event may still be committed (e.LateFunc then learns the outcome); e's byte
// slices must not be modified until SaveEvent returned, nor, with a
// LateFunc, until it was called.
func (s *Store) SaveEvent(ctx context.Context, e *NewEvent) (Saved, error) {
	if e.DedupeKey == "" {
		if e.Expected {
			s.CancelSave()
		}
		return Saved{}, fmt.Errorf("models: save event: empty dedupe key: %w", ErrInvalid)
	}
	if err := unstorableFields(e); err != nil {
		if e.Expected {
			s.CancelSave()
		}
		return Saved{}, fmt.Errorf("models: save event: %w", err)
	}
	op := getOp(ctx, opSaveEvent, true)
	op.ev, op.expected = *e, e.Expected
	if op.ev.ReceivedAt.IsZero() {
		op.ev.ReceivedAt = s.now()
	}
	op.ev.ReceivedAt = dbTime(op.ev.ReceivedAt)
	op.id = s.flight.begin(s.ids)
	id := op.id
	owned, err := s.w.do(ctx, op)
	if owned {
		s.flight.end(id) // not queued, or finished (the writer ended it then)
	} else {
		// The caller gave up; the writer still holds op and may write it.
		if late := e.LateFunc; late != nil {
			go func() {
				err := <-op.done
				saved := op.saved
				putOp(op)
				late(saved, err)
			}()
		}
		return Saved{}, fmt.Errorf("models: save event %q: %w", e.DedupeKey, err)
	}
	saved := op.saved
	putOp(op)
	if err != nil {
		return Saved{}, fmt.Errorf("models: save event %q: %w", e.DedupeKey, err)
	}
	return saved, nil
}

// applySave inserts op's event, or counts it as a duplicate of the row that
// holds its key (committed, or inserted earlier in the same batch).
func (s *Store) applySave(b *batchTx, op *writeOp) error {
	e := &op.ev
	if found, err := s.bumpLegacy(b, op); err != nil {
		return err
	} else if found {
		return s.recordNonce(b, op)
	}
	// On SQLite the insert itself checks used_nonces (a query fewer per
	// push in the writer); settleConflict tells why nothing was inserted.
	insert, guarded := stmtInsertEvent, false
	if e.NonceKey != "" {
		if s.driver == DriverSQLite {
			insert, guarded = stmtInsertEventNonceFree, true
		} else if err := s.nonceFree(b, op); err != nil {
			return err
		}
	}
	for {
		args := []any{op.id, e.DedupeKey, accountOrDefault(e.Account), e.AuthorizerAppID, e.NonceKey, e.Kind,
			e.MsgType, e.Event, e.EventKey, e.FromUser, e.ToUser, e.CreateTime, e.MsgID, e.RequestID, e.Format,
			e.HTTPRequestID, e.TraceParent, e.ReceivedAt, e.ReceivedAt, nullBytes(e.Payload), nullBytes(e.Raw)}
		if guarded {
			args = append(args, e.NonceKey, e.DedupeKey)
		}
		n, err := b.exec(insert, args...)
		if err != nil {
			return err
		}
		if n == 1 {
			op.saved = Saved{ID: op.id, Status: StatusReceived}
			return nil
		}
		if guarded {
			// Refused for its nonce before it is counted as a duplicate, as
			// PostgreSQL does.
			if err := s.nonceFree(b, op); err != nil {
				return err
			}
		}
		err = s.settleConflict(b, op)
		if !errors.Is(err, errIDTaken) {
			return err
		}
		// Another replica took this id in the same millisecond: take a new one.
		op.renewed = true
		op.id = s.NewID()
	}
}

// errIDTaken is settleConflict's answer when neither the dedupe key nor the
// nonce key of a push that was not inserted is taken: its id was.
var errIDTaken = errors.New("event id taken")

// settleConflict explains why op's event was not inserted: its dedupe key
// is taken (op is a duplicate of that row, counted as such), its nonce key
// is taken by another push (errSoft wrapping ErrNonceUsed; a nonce kept in
// used_nonces is checked before, see nonceFree), or its id is
// (errIDTaken, once; after a renewal, an error).
func (s *Store) settleConflict(b *batchTx, op *writeOp) error {
	e := &op.ev
	var (
		id     int64
		status string
		reply  []byte
	)
	err := b.stmt(stmtBumpDuplicate).QueryRow(e.ReceivedAt, e.DedupeKey).Scan(&id, &status, &reply)
	if err == nil {
		// id == op.id only if a retried batch had in fact committed this very row.
		op.saved = Saved{ID: id, Duplicate: id != op.id, Status: status, Reply: reply}
		if op.saved.Duplicate {
			return s.recordNonce(b, op)
		}
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if e.NonceKey != "" {
		var other int64
		err := b.stmt(stmtNonceTaken).QueryRow(e.NonceKey).Scan(&other)
		if err == nil {
			return errSoft{fmt.Errorf("nonce key %q taken by event %d: %w", e.NonceKey, other, ErrNonceUsed)}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if !op.renewed {
		return errIDTaken
	}
	// The conflicting row was deleted after the insert saw it.
	return fmt.Errorf("dedupe key %q: conflicting row vanished", e.DedupeKey)
}

// accountOrDefault stores "" as "default".
func accountOrDefault(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

// Attempt is one dispatch of a stored event, as reported to RecordAttempt.
type Attempt struct {
	EventID  int64
	Started  time.Time // zero = the Store's clock
	Duration time.Duration
	Err      string // "" = success
	Replay   bool
	Reply    []byte // passive reply produced; stored on the event when Err == ""
	// RetryAt, with Err set, asks for another dispatch at RetryAt: the event
	// stays (or becomes again) received, and recovery does not claim it
	// before then (see ClaimReceived).
	RetryAt time.Time
}

// RecordAttempt stores the attempt as a row of event_attempts and updates its
// event: attempts += 1, status handled (Err == "") or failed (received, with
// recovery held off until RetryAt, when RetryAt is set), last_error, and on
// success handled_at (Started+Duration) and reply. It is group-committed like
// SaveEvent. With wait true it returns after the commit (ErrNotFound if the
// event does not exist); with wait false the write is queued, committed with
// the next batch (Close flushes it) and an error is only logged.
//
// An attempt is not lost to a failing database: while the database cannot
// take writes (a lost connection, a full disk, a read-only file) the writer
// holds the attempt and writes it, in order, once it can; meanwhile
// AttemptPending reports its event, and ClaimReceived refuses it, so no
// recovery dispatches the event again. When the writer holds all it may,
// RecordAttempt waits for room (back-pressure) rather than dropping it.
func (s *Store) RecordAttempt(ctx context.Context, a Attempt, wait bool) error {
	if a.Started.IsZero() {
		a.Started = s.now()
	}
	a.Started = dbTime(a.Started)
	a.Err = storableText(a.Err)
	op := getOp(ctx, opAttempt, wait)
	op.att = a
	op.id = s.NewID()
	owned, err := s.w.do(ctx, op)
	if owned {
		putOp(op)
	}
	if err != nil {
		return fmt.Errorf("models: record attempt on event %d: %w", a.EventID, err)
	}
	return nil
}

// applyAttempt updates the attempt's event, then inserts the attempt row.
func (s *Store) applyAttempt(b *batchTx, op *writeOp) error {
	a := &op.att
	var (
		n   int64
		err error
	)
	if a.Err == "" {
		handled := dbTime(a.Started.Add(a.Duration))
		n, err = b.exec(stmtAttemptHandled, handled, nullBytes(a.Reply), a.EventID)
	} else if !a.RetryAt.IsZero() {
		n, err = b.exec(stmtAttemptRetry, a.Err, dbTime(a.RetryAt), a.EventID)
	} else {
		n, err = b.exec(stmtAttemptFailed, a.Err, a.EventID)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return errSoft{fmt.Errorf("event %d: %w", a.EventID, ErrNotFound)}
	}
	_, err = b.exec(stmtInsertAttempt, op.id, a.EventID, a.Started, a.Duration.Microseconds(), a.Err, a.Replay)
	return err
}

// bumpLegacy counts op as a duplicate of a row stored under one of its
// legacy keys (LegacyKey, LegacyIDKey) with the same payload or the same raw body (a kind typed since that row
// was stored has another payload: its fields typed and in another order;
// a retry re-sends the same body), when rows under legacy keys may hold its original
// (see LegacyUntil). found reports whether there was one.
func (s *Store) bumpLegacy(b *batchTx, op *writeOp) (found bool, err error) {
	e := &op.ev
	if e.CreateTime > s.legacyUntil {
		return s.bumpLegacyRaw(b, op)
	}
	for _, key := range [...]string{e.LegacyKey, e.LegacyIDKey} {
		if key == "" {
			continue
		}
		var (
			id     int64
			status string
			reply  []byte
		)
		err = b.stmt(stmtBumpLegacy).QueryRow(e.ReceivedAt, key, nullBytes(e.Payload), nullBytes(e.Raw)).Scan(&id, &status, &reply)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, err
		}
		op.saved = Saved{ID: id, Duplicate: true, Status: status, Reply: reply}
		return true, nil
	}
	return s.bumpLegacyRaw(b, op)
}

// bumpLegacyRaw counts op as a duplicate of a row stored under its
// LegacyRawKey with the same raw body, when rows stored before Open may
// hold its original (see LegacyUntil).
func (s *Store) bumpLegacyRaw(b *batchTx, op *writeOp) (found bool, err error) {
	e := &op.ev
	if e.LegacyRawKey == "" || e.CreateTime > s.legacyRawUntil {
		return false, nil
	}
	var (
		id     int64
		status string
		reply  []byte
	)
	err = b.stmt(stmtBumpLegacyRaw).QueryRow(e.ReceivedAt, e.LegacyRawKey, nullBytes(e.Raw)).Scan(&id, &status, &reply)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	op.saved = Saved{ID: id, Duplicate: true, Status: status, Reply: reply}
	return true, nil
}

// AttemptPending reports whether an attempt on event id was recorded in this
// process (RecordAttempt) and is still waiting to be written: its event is
// still "received" in the database although its handler has run.
func (s *Store) AttemptPending(id int64) bool { return s.w.isPending(id) }
