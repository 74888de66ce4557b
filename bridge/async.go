package bridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pushgate/pushgate/models"
)

// Async mode is durable: a request is a models.SyncGroup row with its ops'
// pending requests, created before the 202. Whichever replica commits the
// group's last answer (Answer), the deadline timer of the replica that took
// the request, or the sweep of any replica once the deadline passed (Start;
// it also finishes what a stopped replica left) claims the group with a
// conditional update, so exactly one claim wins, renders the final answer
// from the stored rows and hands it to the Notifier, which delivers it
// durably with retries.
//
// The hand-over is at least once. The Notifier's NotifyURL commits in its own
// transaction, so the claim is committed first and marked notified after:
// a replica that dies in between (or whose NotifyURL fails) leaves the claim
// to run out after groupLease, and a sweep then hands the same body over
// again. Losing a final answer is worse than sending it twice, and a receiver
// must bear duplicates anyway: the notifier itself retries when a success
// answer is lost. The body names each op's request_id to dedupe on.
const (
	// groupLease is how long a claimer has to hand a group's final answer to
	// the notifier before a sweep may claim the group again.
	groupLease = 2 * time.Minute
	// completeTimeout bounds a claim plus its hand-over to the notifier.
	completeTimeout = 30 * time.Second
	// sweepBatch is how many due groups a sweep reads at a time.
	sweepBatch = 100
)

// async records an async sync request (its group and its ops' pending
// requests, in one transaction), answers it at once with its request ids, and
// hands its tasks to their processes in the background; the final answer, in
// the form of a 200 sync answer with each op's request_id, goes to notifyURL
// through the Notifier once every op is answered (or failed), or at the
// deadline. Timed-out ops are "Timeout for create task" errors there; there
// is no 504 in async mode.
func (b *Bridge) async(ctx context.Context, notifyURL string, tasks []*task, wait time.Duration) (SyncResponse, int) {
	release, ok := b.track()
	if !ok {
		return SyncResponse{Error: "shutting down"}, http.StatusServiceUnavailable
	}
	now := b.now()
	g := &models.SyncGroup{
		ID: rand.Text(), NotifyURL: notifyURL, CreatedAt: now,
		Deadline: now.Add(wait), ExpiresAt: now.Add(wait + b.validity),
	}
	reqs := make([]*models.PendingRequest, len(tasks))
	for i, t := range tasks {
		t.id = rand.Text()
		reqs[i] = &models.PendingRequest{
			ID: t.id, ConvID: t.conv, TargetURL: t.url, NotifyURL: notifyURL,
			CreatedAt: now, Deadline: g.Deadline, ResultValidity: b.validity,
		}
	}
	if err := b.store.CreateSyncGroup(ctx, g, reqs); err != nil {
		release()
		b.log.Error("bridge: recording an async sync request failed", "err", err)
		return SyncResponse{Error: "could not record the request"}, http.StatusInternalServerError
	}
	go func() {
		defer release()
		b.runGroup(b.ctx, g.ID, tasks, wait)
	}()
	resp := SyncResponse{RequestProc: ProcOK, Ops: make([]OpResult, len(tasks))}
	for i, t := range tasks {
		resp.Ops[i] = OpResult{Proc: ProcProcessing, RequestID: t.id}
	}
	return resp, http.StatusAccepted
}

// runGroup posts the tasks of group to their processes and, at the deadline,
// completes the group with whatever answers came (the others time out). If
// the Bridge closes first it just returns: the group stays open in the store
// and a sweep completes it.
func (b *Bridge) runGroup(ctx context.Context, group string, tasks []*task, wait time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Go(func() {
			err := b.post(wctx, t)
			if err == nil || wctx.Err() != nil {
				return // taken, or the deadline passed: the answer (or the timeout) settles it
			}
			failed, ferr := b.store.FailPendingRequest(wctx, t.id, err.Error())
			if ferr != nil {
				b.log.Warn("bridge: recording a failed task failed; it will time out", "err", ferr)
				return
			}
			if failed {
				b.completeGroup(ctx, group, models.ClaimIfSettled)
			}
		})
	}
	wg.Wait()
	<-wctx.Done()
	if ctx.Err() != nil {
		return
	}
	b.completeGroup(ctx, group, models.ClaimIfOpen)
}

// completeGroup claims group if cond holds and, when this Bridge won the
// claim, hands the group's final answer to the notifier. Failures are logged:
// a sweep retries.
func (b *Bridge) completeGroup(ctx context.Context, group string, cond models.ClaimCondition) {
	if _, err := b.claimGroup(ctx, group, cond); err != nil {
		b.log.Warn("bridge: claiming an async sync request failed; a sweep will complete it", "err", err)
	}
}

// claimGroup claims group if cond holds and, when this Bridge won the claim,
// hands the group's final answer to the notifier; it reports whether it did.
// Once begun it runs to its end even if ctx ends (within completeTimeout), so
// that a claim is not left to its lease by a shutdown.
func (b *Bridge) claimGroup(ctx context.Context, group string, cond models.ClaimCondition) (bool, error) {
	if b.notifier == nil {
		return false, nil // a replica that can notify will sweep it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	c, err := b.store.ClaimSyncGroup(ctx, group, cond, b.now(), groupLease, renderGroup)
	if err != nil || c == nil {
		return false, err
	}
	return b.notifyGroup(ctx, c), nil
}

// notifyGroup hands claim c's final answer to the notifier and marks the
// group notified; if the notifier refuses it, the claim is given back for the
// next sweep.
func (b *Bridge) notifyGroup(ctx context.Context, c *models.SyncClaim) bool {
	id, err := b.notifier.NotifyURL(ctx, c.NotifyURL, NotifyKind, c.Body)
	if err != nil {
		b.log.Error("bridge: handing an async sync answer to the notifier failed; a sweep will retry", "err", err)
		if err := b.store.ReleaseSyncGroup(ctx, c.GroupID, c.Claim, b.now()); err != nil {
			b.log.Warn("bridge: giving back an async sync claim failed; it is retried when its lease ends", "err", err)
		}
		return false
	}
	if err := b.store.MarkSyncGroupNotified(ctx, c.GroupID, c.Claim, id); err != nil {
		b.log.Warn("bridge: marking an async sync request notified failed; it may be notified twice",
			"delivery", id, "err", err)
	}
	return true
}

// renderGroup renders a group's final answer: seed 001's 200 answer, one op
// per request in order, each with its request_id.
func renderGroup(ops []models.SyncOp) ([]byte, error) {
	resp := SyncResponse{RequestProc: ProcOK, Ops: make([]OpResult, len(ops))}
	for i, op := range ops {
		o := OpResult{Proc: ProcError, RequestID: op.RequestID}
		switch {
		case op.Status == models.RequestAnswered && op.Answer != nil:
			o.Proc, o.Data = ProcOK, op.Answer.Value()
		case op.Status == models.RequestAnswered:
			o.Description = "Error for create task: the answer expired before the request completed"
		case op.Status == models.RequestFailed:
			o.Description = "Error for create task: " + op.Error
		default:
			o.Description = timeoutDescription
		}
		resp.Ops[i] = o
	}
	return json.Marshal(resp)
}

// Sweep completes the async sync requests whose deadline passed while no
// replica completed them (their replica stopped), timing out their missing
// answers, and those whose claimer died before handing them to the notifier.
// It returns how many it handed over. Start runs it at once and then every
// Options.SweepEvery.
func (b *Bridge) Sweep(ctx context.Context) (int, error) {
	if b.notifier == nil {
		return 0, nil
	}
	n := 0
	seen := make(map[string]bool)
	for {
		ids, err := b.store.DueSyncGroups(ctx, b.now(), sweepBatch)
		if err != nil {
			return n, fmt.Errorf("bridge: sweep: %w", err)
		}
		fresh := 0
		for _, id := range ids {
			if ctx.Err() != nil {
				return n, nil
			}
			if seen[id] {
				continue // given back by a failed hand-over: the next sweep retries
			}
			seen[id] = true
			fresh++
			done, err := b.claimGroup(ctx, id, models.ClaimIfDue)
			if err != nil {
				return n, fmt.Errorf("bridge: sweep: %w", err)
			}
			if done {
				n++
			}
		}
		if len(ids) < sweepBatch || fresh == 0 {
			return n, nil
		}
	}
}

func (b *Bridge) sweepLoop(ctx context.Context) {
	t := time.NewTicker(b.sweepEvery)
	defer t.Stop()
	for {
		if n, err := b.Sweep(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("bridge: sweeping async sync requests failed", "err", err)
		} else if n > 0 {
			b.log.Info("bridge: completed async sync requests left behind", "requests", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// track counts a background task in Close's wait, unless the Bridge is
// closed (then it reports false). Call release when the task ends.
func (b *Bridge) track() (release func(), ok bool) {
	b.mu.Lock() // Close cancels under mu: an Add here happens before its Wait
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return nil, false
	}
	b.wg.Add(1)
	return b.wg.Done, true
}
