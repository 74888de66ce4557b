package bridge

import (
	"context"
	"encoding/json"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// Accepted implements handlers.Observer: for each newly stored
// servicemarket_async_api_result push (seed 000) it stores the result under
// its RequestID, valid for the Api's configured validity, and wakes its
// waiters. It does not wait for the result's commit: the push is committed
// already, and Result rebuilds a result from its push should the process die
// before the result is written. Other events are ignored.
func (b *Bridge) Accepted(ctx context.Context, id int64, e events.Event) {
	p, ok := e.(*events.AsyncAPIResult)
	if !ok || p.RequestID == "" {
		return
	}
	now := b.now()
	r := &Result{
		RequestID:  p.RequestID,
		Source:     models.SourceServiceMarket,
		Api:        p.Api,
		Service:    p.Service,
		Data:       []byte(p.Data),
		IsJSON:     json.Valid([]byte(p.Data)),
		ReceivedAt: now,
		ExpiresAt:  now.Add(b.resultValidity(p.Api)),
	}
	if err := b.store.QueueResult(ctx, r); err != nil {
		b.log.WarnContext(ctx, "bridge: storing an async result failed; it will be rebuilt from its push",
			"request_id", p.RequestID, "event_id", id, "err", err)
	}
	b.hub.wake(r.RequestID, r)
}
