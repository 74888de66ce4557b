package models

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// writer is the group-commit writer of a Store: one goroutine takes whatever is
// queued (up to max) and applies it in one transaction, so concurrent requests
// share one commit (one fsync on SQLite with synchronous=FULL).
//
// Commits are the writer's main cost (an fsync each, and the wake-ups of
// everybody waiting on it), so it gathers a batch a little before committing
// it, in two cases: while saves announced by ExpectSave are on their way
// (pushes being decoded), for at most linger; and while the batch holds only
// fire-and-forget writes, for at most lazy, until a waited write joins it.
type writer struct {
	s       *Store
	db      *sql.DB
	st      *statements
	max     int
	linger  time.Duration
	lazy    time.Duration
	queue   chan *writeOp
	stopped chan struct{}

	expected atomic.Int64 // saves announced by ExpectSave and not queued yet
	gathered atomic.Int64 // ops in the batch being gathered; tests watch it
	timer    *time.Timer  // the writer goroutine's gathering timer

	mu     sync.RWMutex // held for reading while sending to queue; Close takes it to close queue
	closed bool

	closeGrace  time.Duration         // how long Close lets held attempts retry
	lastTrouble atomic.Pointer[error] // the trouble that failed the last batch; nil after a commit
	lastBatchAt atomic.Int64          // when the last batch ended, Unix nanoseconds
	troubles    atomic.Int64          // batches failed by trouble
	pendingMu   sync.Mutex            // guards pending
	pending     map[int64]int         // event id -> attempts recorded and not yet written

	batches       atomic.Int64                            // batches begun; tests watch it
	writes        atomic.Int64                            // ops taken into batches
	bulkFallbacks atomic.Int64                            // batches whose array statements failed
	sizes         [len(CommitSizeBounds) + 1]atomic.Int64 // batches by size: sizes[i] counts those of at most CommitSizeBounds[i] writes (not cumulative); the last, larger ones
}

func newWriter(s *Store, st *statements, max int, linger, lazy time.Duration) *writer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &writer{
		s: s, db: s.wdb, st: st, max: max, linger: linger, lazy: lazy,
		queue:      make(chan *writeOp, 4*max),
		stopped:    make(chan struct{}),
		timer:      t,
		closeGrace: 10 * time.Second,
		pending:    make(map[int64]int),
	}
}

func (w *writer) isClosed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.closed
}

// do queues op and, when op.wait, returns its outcome once committed. If ctx
// ends first it returns ctx's error; the op may still commit later. owned
// reports whether the caller may recycle op (putOp): false while the writer
// may still hold it.
//
// A fire-and-forget op is queued even if ctx has ended, as long as the queue has
// room: ctx only bounds the wait for room.
func (w *writer) do(ctx context.Context, op *writeOp) (owned bool, err error) {
	wait := op.wait // once queued, a fire-and-forget op belongs to the writer
	if err := w.enqueue(ctx, op); err != nil {
		return true, err
	}
	if !wait {
		return false, nil
	}
	select {
	case err := <-op.done:
		return true, err
	case <-ctx.Done():
		select {
		case err := <-op.done:
			return true, err
		default:
			return false, ctx.Err()
		}
	}
}

// enqueue queues op. An announced save (op.expected) stops being expected
// just before it is queued: once the writer has it, it must not wait for it
// as one still to come.
func (w *writer) enqueue(ctx context.Context, op *writeOp) error {
	if op.expected {
		w.expected.Add(-1)
	}
	if op.wait {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	if op.kind == opAttempt {
		w.pend(op.att.EventID, 1)
	}
	select {
	case w.queue <- op:
		return nil
	default:
	}
	select {
	case w.queue <- op:
		return nil
	case <-ctx.Done():
		if op.kind == opAttempt {
			w.pend(op.att.EventID, -1)
		}
		return ctx.Err()
	}
}

// pend counts attempts on event id recorded and not yet written (or given up).
func (w *writer) pend(id int64, delta int) {
	w.pendingMu.Lock()
	defer w.pendingMu.Unlock()
	if n := w.pending[id] + delta; n > 0 {
		w.pending[id] = n
	} else {
		delete(w.pending, id)
	}
}

// isPending reports whether an attempt on event id is waiting to be written.
func (w *writer) isPending(id int64) bool {
	w.pendingMu.Lock()
	defer w.pendingMu.Unlock()
	return w.pending[id] > 0
}

// busySince reports whether the writer has other writes to do than one op
// of the caller's: whether it took more than one op into its batches since
// writes counted before (see writer.writes), or has ops queued, or saves
// announced (ExpectSave).
func (w *writer) busySince(before int64) bool {
	return w.writes.Load()-before > 1 || len(w.queue) > 0 || w.expected.Load() > 0
}

// close stops accepting writes, lets the writer commit what is queued and
// waits for it to stop.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.stopped
}

// loop is the writer goroutine.
//
// An attempt whose write failed because of the database (isTrouble: a lost
// connection, a full disk, a read-only or locked file) is not dropped: it is
// held and leads the next batch, in the order it was recorded, until it
// lands. While attempts are held the writer waits a growing backoff
// (retryBackoff up to retryBackoffMax) between batches unless new writes
// come in; held attempts count towards the batch's max, so once max are
// held it takes no new writes and the queue's bound holds callers back
// instead of losing their writes. After Close it keeps trying for at most
// closeGrace, then logs the attempts it could not write.
func (w *writer) loop() {
	defer close(w.stopped)
	batch := make([]*writeOp, 0, w.max)
	var (
		held     []*writeOp
		backoff  time.Duration
		closedAt time.Time // when the queue was found closed
	)
	for {
		batch = append(batch[:0], held...)
		clear(held)
		held = held[:0]
		switch {
		case len(batch) == 0:
			op, ok := <-w.queue
			if !ok {
				return
			}
			batch = append(batch, op)
		case !closedAt.IsZero():
			if time.Since(closedAt) > w.closeGrace {
				for _, op := range batch {
					w.s.log.Error("models: attempt not recorded: the database kept failing after Close",
						"event", op.att.EventID, "err", op.err)
					w.finish(op, op.err)
				}
				for op := range w.queue {
					w.finish(op, ErrClosed)
				}
				return
			}
			time.Sleep(backoff)
		case len(batch) < w.max:
			w.timer.Reset(backoff)
			select {
			case op, ok := <-w.queue:
				w.timer.Stop()
				if ok {
					batch = append(batch, op)
				} else {
					closedAt = time.Now()
				}
			case <-w.timer.C:
			}
		default:
			// Full of held attempts: take nothing new (back-pressure).
			time.Sleep(backoff)
			if w.isClosed() {
				closedAt = time.Now()
			}
		}
		if closedAt.IsZero() {
			batch = w.gather(batch)
		}
		held = w.process(batch, held)
		clear(batch)
		switch {
		case len(held) == 0:
			backoff = 0
		case backoff == 0:
			backoff = retryBackoff
		default:
			backoff = min(2*backoff, retryBackoffMax)
		}
	}
}

// Backoff between batches while attempts are held (see loop).
const (
	retryBackoff    = 20 * time.Millisecond
	retryBackoffMax = time.Second
)

// gather adds to batch (holding at least one op) what is queued, then, while
// the batch is worth holding (see writer), waits for more until the batch is
// full or the wait's limit, counted from now, has passed.
func (w *writer) gather(batch []*writeOp) []*writeOp {
	start := time.Now()
	waited := false
	defer w.gathered.Store(0)
	for {
		batch = w.drain(batch)
		w.gathered.Store(int64(len(batch)))
		if len(batch) >= w.max {
			return batch
		}
		if !waited {
			waited = slices.ContainsFunc(batch, func(op *writeOp) bool { return op.wait })
		}
		var limit time.Duration
		switch {
		case !waited:
			limit = w.lazy
		case w.expected.Load() > 0:
			limit = w.linger
		default:
			return batch
		}
		left := limit - time.Since(start)
		if left <= 0 {
			return batch
		}
		w.timer.Reset(left)
		select {
		case op, ok := <-w.queue:
			w.timer.Stop()
			if !ok {
				return batch // closing: commit what is here
			}
			batch = append(batch, op)
		case <-w.timer.C:
			return batch
		}
	}
}

// drain adds to batch what is queued, without waiting, up to max ops.
func (w *writer) drain(batch []*writeOp) []*writeOp {
	for len(batch) < w.max {
		select {
		case op, ok := <-w.queue:
			if !ok {
				return batch
			}
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// process commits one batch and hands every op its outcome, except the
// attempts that failed because of the database (isTrouble): those it
// appends to held, oldest first, for the next batch, and returns held.
func (w *writer) process(batch, held []*writeOp) []*writeOp {
	w.batches.Add(1)
	w.writes.Add(int64(len(batch)))
	w.sizes[commitSizeBucket(len(batch))].Add(1)
	live := make([]*writeOp, 0, len(batch))
	for _, op := range batch {
		if op.wait && op.ctx != nil && op.ctx.Err() != nil && op.kind != opAttempt {
			w.finish(op, op.ctx.Err())
			continue
		}
		live = append(live, op)
	}
	if w.s.driver == DriverPostgres {
		// Take row locks in one order in every replica, so that two batches
		// inserting the same keys wait for each other instead of deadlocking.
		slices.SortStableFunc(live, func(a, b *writeOp) int {
			if c := cmp.Compare(a.kind, b.kind); c != 0 {
				return c
			}
			switch a.kind {
			case opSaveEvent:
				return cmp.Compare(a.ev.DedupeKey, b.ev.DedupeKey)
			case opAttempt:
				return cmp.Compare(a.att.EventID, b.att.EventID)
			}
			return 0
		})
	}
	ops := live
	bulk := w.s.driver == DriverPostgres
	var trouble error // the batch failed as a whole because of the database
	for transient := 0; len(ops) > 0; {
		failed, err := w.runTx(ops, bulk)
		if err == nil {
			break
		}
		switch {
		case failed == failedTx || isTrouble(err) || isTransient(err) && transient >= 3:
			// Begin or commit failed, the database is in trouble, or it keeps
			// failing: nothing was written, and the other ops would fail alike.
			trouble = err
			for _, op := range ops {
				op.err = err
			}
			ops = nil
		case isTransient(err):
			transient++ // deadlock or serialization failure: run the batch again
		case failed == failedBulk:
			// Run it row by row to learn which op is at fault.
			w.bulkFallbacks.Add(1)
			w.s.log.Warn("models: array write failed; retrying row by row", "err", err)
			bulk = false
		case isUniqueViolation(err) && !ops[failed].renewed:
			// Another replica took this id in the same millisecond: take a new one.
			ops[failed].renewed = true
			old := ops[failed].id
			if ops[failed].kind == opSaveEvent {
				ops[failed].id = w.s.flight.begin(w.s.ids)
				w.s.flight.end(old)
			} else {
				ops[failed].id = w.s.NewID()
			}
		default:
			// This op is bad; the others go again without it.
			ops[failed].err = err
			ops = slices.Delete(slices.Clone(ops), failed, failed+1)
		}
	}
	if len(live) > 0 {
		w.observe(trouble)
	}
	for _, op := range live {
		if trouble != nil && op.kind == opAttempt && op.err == trouble {
			held = append(held, op)
			continue
		}
		w.finish(op, op.err)
	}
	if n := len(held); n > 0 {
		w.s.log.Warn("models: attempts held until the database takes them", "held", n, "err", trouble)
	}
	return held
}

// observe notes a batch's outcome: nil, or the trouble that failed it. After
// trouble on an SQLite file the writer's connection is closed, so that the
// next batch opens the file afresh: a connection opened while the file was
// read-only (or the disk full) would otherwise fail for ever.
func (w *writer) observe(trouble error) {
	defer w.lastBatchAt.Store(time.Now().UnixNano())
	if trouble == nil {
		w.lastTrouble.Store(nil)
		return
	}
	w.lastTrouble.Store(&trouble)
	w.troubles.Add(1)
	if w.s.driver == DriverSQLite && w.db != w.s.sqlDB {
		w.db.SetMaxIdleConns(0) // closes the idle connection
		w.db.SetMaxIdleConns(1)
	}
}

// Failure positions returned by runTx besides an op's index.
const (
	failedTx   = -1 // begin or commit
	failedBulk = -2 // an array statement of applyBulk
)

// runTx applies ops in one transaction, with array statements for saves and
// attempts when bulk. On error nothing was committed, and failed is the index
// of the op whose statement failed, failedTx or failedBulk.
func (w *writer) runTx(ops []*writeOp, bulk bool) (failed int, err error) {
	ctx := context.Background() // one caller's cancellation must not abort the others' batch
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return failedTx, err
	}
	b := batchTx{tx: tx, st: w.st}
	for _, op := range ops {
		op.err, op.bulked = nil, false
	}
	if bulk {
		if err := w.s.applyBulk(&b, ops); err != nil {
			tx.Rollback()
			return failedBulk, err
		}
	}
	for i, op := range ops {
		if op.bulked {
			continue
		}
		if err := w.apply(ctx, &b, op); err != nil {
			if isSoft(err) {
				op.err = err
				continue
			}
			tx.Rollback()
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return failedTx, err
	}
	return 0, nil
}

func (w *writer) apply(ctx context.Context, b *batchTx, op *writeOp) error {
	switch op.kind {
	case opSaveEvent:
		return w.s.applySave(b, op)
	case opAttempt:
		return w.s.applyAttempt(b, op)
	case opRejected:
		return w.s.applyRejected(b, op)
	case opFunc:
		return op.fn(ctx, b.tx)
	}
	return errors.New("unknown write op")
}

// finish hands op its outcome: to the waiting caller, or to the log.
func (w *writer) finish(op *writeOp, err error) {
	if op.kind == opSaveEvent {
		w.s.flight.end(op.id) // committed or refused: no longer holds the horizon
	}
	if op.kind == opAttempt {
		w.pend(op.att.EventID, -1)
	}
	if err != nil {
		var soft errSoft
		if errors.As(err, &soft) {
			err = soft.err
		}
	}
	if op.wait {
		op.done <- err
		return
	}
	if err != nil {
		w.s.log.Error("models: fire-and-forget write failed", "kind", op.kind, "err", err)
	}
	putOp(op)
}
