package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// async answers an async sync request at once with its request ids and runs
// its tasks in the background; the final answer, in the form of a 200 sync
// answer with each op's request_id, goes to notifyURL through the Notifier
// (durable, with its retry schedule). Timed-out ops are "Timeout for create
// task" errors there; there is no 504 in async mode.
func (b *Bridge) async(notifyURL string, tasks []*task, wait time.Duration) (SyncResponse, int) {
	resp := SyncResponse{RequestProc: ProcOK, Ops: make([]OpResult, len(tasks))}
	for i, t := range tasks {
		resp.Ops[i] = OpResult{Proc: ProcProcessing, RequestID: t.id}
	}
	started := b.goBackground(func(ctx context.Context) {
		b.finishAsync(ctx, notifyURL, tasks, wait)
	})
	if !started {
		return SyncResponse{Error: "shutting down"}, http.StatusServiceUnavailable
	}
	return resp, http.StatusAccepted
}

func (b *Bridge) finishAsync(ctx context.Context, notifyURL string, tasks []*task, wait time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ops, _ := b.runTasks(wctx, tasks)
	if ctx.Err() != nil {
		b.log.Warn("bridge: async sync request abandoned at shutdown; its answers stay readable by request id",
			"ops", len(tasks))
		return
	}
	for i := range ops {
		ops[i].RequestID = tasks[i].id
	}
	body, err := json.Marshal(SyncResponse{RequestProc: ProcOK, Ops: ops})
	if err == nil {
		_, err = b.notifier.NotifyURL(ctx, notifyURL, NotifyKind, body)
	}
	if err != nil {
		b.log.Error("bridge: handing an async sync answer to the notifier failed", "err", err)
	}
}

// goBackground runs f under the Bridge's lifetime context, tracked by Close,
// unless the Bridge is closed (then it reports false).
func (b *Bridge) goBackground(f func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return false
	}
	b.wg.Go(func() { f(b.ctx) })
	return true
}
