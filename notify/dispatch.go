package notify

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushgate/pushgate/models"
)

// Dispatcher timing.
const (
	// minSleep keeps the dispatcher from spinning when a due delivery cannot
	// be claimed yet (another replica's claim of it is not committed).
	minSleep = 10 * time.Millisecond
	// errorSleep is the pause after a failed claim or look-up.
	errorSleep = time.Second
	// leaseSlack is kept free at the end of a lease: an attempt does not
	// start unless its whole budget fits before the lease ends minus this.
	leaseSlack = time.Second
)

// dispatchLoop claims due deliveries and submits them to the pool for as long
// as the pool has room, then sleeps until the earliest next attempt (or for
// ScanPeriod at most, to notice other replicas' work), a hint, or room in a
// full pool.
func (n *Notifier) dispatchLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		full, err := n.claimAndSubmit(ctx)
		wait := n.cfg.ScanPeriod
		if err == nil && !full {
			var (
				next time.Time
				ok   bool
			)
			next, ok, err = n.store.NextDeliveryDue(ctx)
			if ok {
				wait = min(wait, max(next.Sub(n.now()), minSleep))
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Error("notify: looking for due deliveries failed", "err", err)
			wait = errorSleep
		}
		var freed chan struct{}
		if full {
			freed = n.pool.freed // sleep until a worker is free (or a hint)
		}
		n.sleepMu.Lock()
		n.sleepUntil = n.now().Add(wait)
		n.sleepMu.Unlock()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-n.wake:
		case <-freed:
		}
		n.sleepMu.Lock()
		n.sleepUntil = time.Time{}
		n.sleepMu.Unlock()
	}
}

// claimAndSubmit claims due deliveries, at most FetchSize at a time and never
// more than the pool can take, until none is due. full reports that it
// stopped because the pool had no room.
func (n *Notifier) claimAndSubmit(ctx context.Context) (full bool, err error) {
	for {
		limit := min(n.cfg.FetchSize, n.pool.free())
		if limit <= 0 {
			return true, nil
		}
		// Not cancelled with ctx: a claim that commits after its caller gave
		// up would sit out its lease. Claimed deliveries are submitted even
		// when stopping; Stop releases those that did not start.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		ds, err := n.store.ClaimDueDeliveries(cctx, n.now(), limit, n.lease)
		cancel()
		if err != nil {
			return false, err
		}
		for _, d := range ds {
			if !n.pool.submit(d) {
				// Left claimed: it falls due again when its lease ends.
				n.log.Warn("notify: worker pool full; delivery postponed to its lease end",
					"delivery", d.ID, "lease_end", d.NextAttemptAt)
			}
		}
		if len(ds) < limit {
			return false, nil
		}
	}
}

// hint tells the dispatcher that a delivery is due at at (the zero time:
// now), waking it if it sleeps past that.
func (n *Notifier) hint(at time.Time) {
	n.sleepMu.Lock()
	until := n.sleepUntil
	n.sleepMu.Unlock()
	if until.IsZero() || at.IsZero() || at.Before(until) {
		signal(n.wake)
	}
}

// deliver makes one attempt of a claimed delivery and records it. A pool
// worker runs it.
func (n *Notifier) deliver(d models.Delivery) {
	if n.sendCtx.Err() != nil {
		n.release(d, "stopping")
		return
	}
	t := n.targetFor(&d)
	if left := d.NextAttemptAt.Sub(n.now()); left < t.budget()+leaseSlack {
		// It waited in the queue for most of its lease: sending now could
		// overlap another replica's claim after the lease ends.
		n.release(d, "lease nearly over")
		return
	}
	attempt := d.Attempts + 1
	started, clock := n.now(), time.Now()
	ctx, span := n.sendCtx, noSpan
	if n.tracer != nil {
		if d.TraceParent != "" {
			// Continue the trace of the push that stored the event.
			ctx = traceContext.Extract(ctx, traceParentCarrier(d.TraceParent))
		}
		ctx, span = n.tracer.Start(ctx, "notify.attempt", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.Int64("pushgate.delivery_id", d.ID), attribute.Int64("pushgate.event_id", d.EventID),
			attribute.Int("pushgate.attempt", attempt), attribute.String("pushgate.kind", d.Kind)))
	}
	res := n.post(ctx, t, d.URL, webhookID(d.ID), attempt, d.Body)
	if res.err != "" && span.IsRecording() {
		span.SetStatus(codes.Error, res.err)
	}
	span.End()
	if n.sendCtx.Err() != nil {
		n.release(d, "stopped during the attempt")
		return
	}
	o := models.DeliveryOutcome{
		DeliveryID: d.ID, Lease: d.Lease, Attempt: attempt, Started: started,
		Duration: time.Since(clock), Status: res.status, Err: res.err,
	}
	if res.err != "" {
		o.NextAttemptAt, _ = n.schedule.NextAt(attempt)
	}
	err := n.record(o)
	outcome := "success"
	switch {
	case errors.Is(err, models.ErrLeaseLost):
		outcome = "lease_lost"
	case err != nil:
		outcome = "record_failed"
	case res.err != "" && o.NextAttemptAt.IsZero():
		outcome = "dead"
	case res.err != "":
		outcome = "retry"
	}
	n.metrics.attempt(outcome, attempt, o.Duration)
	switch {
	case errors.Is(err, models.ErrLeaseLost):
		n.log.Warn("notify: attempt recorded after its lease ended", "delivery", d.ID, "attempt", attempt)
	case err != nil:
		n.log.Error("notify: recording an attempt failed; it will be sent again after its lease",
			"delivery", d.ID, "attempt", attempt, "err", err)
	case res.err != "" && o.NextAttemptAt.IsZero():
		n.log.Warn("notify: delivery dead after its last attempt", "delivery", d.ID, "url", d.URL,
			"attempts", attempt, "last_error", res.err)
	}
	if !o.NextAttemptAt.IsZero() {
		n.hint(o.NextAttemptAt)
	}
}

// release gives back a claim that will not be attempted now.
func (n *Notifier) release(d models.Delivery, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.store.ReleaseDelivery(ctx, d.ID, d.Lease); err != nil && !errors.Is(err, models.ErrLeaseLost) {
		n.log.Warn("notify: releasing a claim failed; it falls due when its lease ends",
			"delivery", d.ID, "why", why, "err", err)
	}
}

// targetFor returns how to send d: its subscriber's settings, or the global
// ones for deliveries of no event and for subscribers no longer configured.
func (n *Notifier) targetFor(d *models.Delivery) *target {
	if d.EventID != 0 {
		if t, ok := n.subs[d.URL]; ok {
			return t
		}
	}
	return n.global
}

// webhookID is the webhook-id of a delivery: the same on every attempt.
func webhookID(id int64) string { return "msg_" + strconv.FormatInt(id, 10) }
