package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/pushgate/pushgate/models"
)

// Answer records data (a process's answer, normally JSON) as the answer to
// the sync request with the given id (the last element of its callback URL),
// stores it as the result keyed by id and wakes its waiters. A callback URL is
// single use: a second answer fails with ErrAlreadyAnswered, an id no request
// was made with fails with ErrUnknownRequest. An answer arriving after its
// waiter timed out is still stored (readable by Result).
//
// When the answer is the last one an async sync request waited for, Answer
// completes that request before it returns: whichever replica receives the
// last callback hands the final answer to the notifier.
func (b *Bridge) Answer(ctx context.Context, id string, data []byte) error {
	res, group, err := b.store.AnswerGroupedRequest(ctx, id, data)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return fmt.Errorf("bridge: answer: %w", ErrUnknownRequest)
	case errors.Is(err, models.ErrAlreadyAnswered):
		return fmt.Errorf("bridge: answer: %w", ErrAlreadyAnswered)
	case err != nil:
		return fmt.Errorf("bridge: answer: %w", err)
	}
	b.hub.wake(id, res)
	if group != "" {
		b.completeGroup(ctx, group, models.ClaimIfSettled)
	}
	return nil
}
