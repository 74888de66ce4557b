package bridge

import (
	"context"
	"fmt"
	"time"
)

// Prune deletes the results that are expired now (by the Bridge's clock),
// the sync requests past their validity and the notified async sync requests
// past theirs, and returns how many rows went. Start runs it every
// Options.PruneEvery.
func (b *Bridge) Prune(ctx context.Context) (int64, error) {
	now := b.now()
	n, err := b.store.PruneResults(ctx, now)
	if err != nil {
		return n, fmt.Errorf("bridge: prune: %w", err)
	}
	g, err := b.store.PruneSyncGroups(ctx, now)
	n += g
	if err != nil {
		return n, fmt.Errorf("bridge: prune: %w", err)
	}
	return n, nil
}

func (b *Bridge) pruneLoop(ctx context.Context) {
	t := time.NewTicker(b.pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := b.Prune(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("bridge: pruning results failed", "err", err)
			} else if n > 0 {
				b.log.Debug("bridge: pruned results", "rows", n)
			}
		}
	}
}
