package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// opKind says what a queued write does.
type opKind uint8

const (
	opSaveEvent opKind = iota + 1
	opAttempt
	opRejected
	opFunc
)

// writeOp is one queued write and, once done, its outcome.
type writeOp struct {
	kind     opKind
	wait     bool            // a caller waits on done; false: fire-and-forget
	expected bool            // a save announced by ExpectSave: queuing it ends the announcement
	ctx      context.Context // the waiting caller's; an op whose ctx ended before its batch is skipped
	done     chan error      // capacity 1; receives the outcome when wait

	// inputs, by kind
	ev      NewEvent // opSaveEvent, ReceivedAt already set
	att     Attempt  // opAttempt
	rej     Rejected // opRejected, ID and ReceivedAt already set
	fn      func(ctx context.Context, tx *sql.Tx) error
	id      int64 // the new row's id (event or attempt)
	renewed bool  // ids were renewed once after a primary-key collision
	bulked  bool  // applied by applyBulk in the current transaction

	// outcome
	saved Saved
	err   error
}

var opPool = sync.Pool{New: func() any { return &writeOp{done: make(chan error, 1)} }}

func getOp(ctx context.Context, kind opKind, wait bool) *writeOp {
	op := opPool.Get().(*writeOp)
	op.kind, op.wait, op.ctx = kind, wait, ctx
	return op
}

// putOp recycles op. Only call it once op's outcome was received (or op was
// never queued): the writer may still hold an op whose caller gave up.
func putOp(op *writeOp) {
	done := op.done
	*op = writeOp{done: done}
	opPool.Put(op)
}

// Flush returns once every write queued before it (fire-and-forget ones
// among them: RecordAttempt without wait) has been through a commit: written,
// or failed and logged. While the database fails (attempts are then held by
// the writer, see writer.loop) it keeps trying, as a waited RecordAttempt
// would, until a commit lands, ctx ends or the Store closes.
func (s *Store) Flush(ctx context.Context) error {
	backoff := retryBackoff
	for {
		if err := s.checkOpen("flush"); err != nil {
			return err
		}
		err := s.groupExec(ctx, true, func(context.Context, *sql.Tx) error { return nil })
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, retryBackoffMax)
	}
}

// groupExec runs fn inside the next group-commit transaction. Sibling files use
// it for writes that should share the writer's commit (and, on SQLite, avoid
// competing with it for the write lock). fn may run more than once if its batch
// is retried, so it must only touch the database through tx, and it must not
// call the Store's write methods (the writer would wait on itself). Placeholders in
// fn's SQL must suit the driver (see Store.rebind). With wait false the write
// is queued and its error only logged.
func (s *Store) groupExec(ctx context.Context, wait bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := getOp(ctx, opFunc, wait)
	op.fn = fn
	owned, err := s.w.do(ctx, op)
	if owned {
		putOp(op)
	}
	if err != nil {
		return fmt.Errorf("models: write: %w", err)
	}
	return nil
}
