package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// ReplayOutcome is the outcome of one Redispatch, and the answer of
// POST /v1/events/{id}/replay: the event's id and kind, its status after the
// dispatch ("handled", "failed", or "received" when its handler asked to be
// retried later), the handler's error, the rendered passive reply, and how
// long the dispatch took.
type ReplayOutcome struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	Error      string  `json:"error"`
	Reply      string  `json:"reply,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Redispatch decodes a stored event from its raw body and runs its
// handlers again, recording the attempt (as a replay when replay is true).
// It is the unit of replay and of start-up recovery. It returns once the
// attempt is committed: the outcome it reads back is the attempt's, and a
// recovery that follows finds the event claimable again (ClaimReceived
// refuses an event whose attempt is still on its way to the database).
func (s *Server) Redispatch(ctx context.Context, row *models.Event, replay bool) (ReplayOutcome, error) {
	out := ReplayOutcome{ID: strconv.FormatInt(row.ID, 10), Kind: row.Kind}
	e, err := events.Decode(row.Raw, events.ParseFormat(row.Format))
	if err != nil {
		return out, fmt.Errorf("decoding stored event %d: %w", row.ID, err)
	}
	start := time.Now()
	reply := s.dispatch(ctx, e, infoOf(row, replay), true)
	out.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	out.Reply = string(reply)
	fresh, err := s.store.GetEvent(ctx, row.ID)
	if err != nil {
		return out, err
	}
	out.Status, out.Error = fresh.Status, fresh.LastError
	if replay {
		s.metrics.replays.WithLabelValues(out.Status).Inc()
	}
	return out, nil
}

// ErrBusy is returned by MayReplay for an event that may be in a handler
// right now.
var ErrBusy = errors.New("the event is still received and may be in a handler right now (here, on another replica, or in recovery); replay it once it has been received for longer than the sweep's grace")

// MayReplay reports whether an admin replay may dispatch row now: an event
// handled or failed may always be replayed (that is what replay is for); one
// still received may be in its first dispatch or in recovery, and is
// replayed only if it is not in flight here, is old enough that no other
// replica can still be handling it (PostgreSQL, as RecoverReceived), and its
// recovery claim can be taken; else ErrBusy.
func (s *Server) MayReplay(ctx context.Context, row *models.Event) error {
	if row.Status != models.StatusReceived {
		return nil
	}
	if s.inflight.get(row.ID) != nil {
		return ErrBusy
	}
	if row.ID >= s.othersDoneBefore() {
		return ErrBusy
	}
	won, err := s.store.ClaimReceived(ctx, row.ID, s.now(), RecoveryLease)
	if err != nil {
		return err
	}
	if !won {
		return ErrBusy
	}
	return nil
}

func (s *Server) replayOne(c *gin.Context) {
	row, ok := s.eventByParam(c)
	if !ok {
		return
	}
	switch err := s.MayReplay(c.Request.Context(), row); {
	case errors.Is(err, ErrBusy):
		jsonError(c, http.StatusConflict, err.Error())
		return
	case err != nil:
		s.storeError(c, err)
		return
	}
	out, err := s.Redispatch(c.Request.Context(), row, true)
	if err != nil {
		jsonError(c, http.StatusInternalServerError, err.Error())
		return
	}
	c.JSON(http.StatusOK, out)
}

// replayMatching replays every event matching a filter, oldest first. It
// answers {"matched", "handled", "failed", "busy"} once done; a request
// that accepts application/x-ndjson gets a line of those counts and "done"
// (the events replayed so far) after each batch instead, then the final
// line, so that a client can draw its progress (pushgate replay does).
func (s *Server) replayMatching(c *gin.Context) {
	var f eventFilter
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&f); err != nil {
			jsonError(c, http.StatusBadRequest, "body must be a JSON filter: "+err.Error())
			return
		}
	}
	filter, err := f.model()
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	filter.Limit, filter.Cursor = 0, ""
	ctx := c.Request.Context()
	// The matching events stored before now, oldest first; a received
	// event may be in a handler right now: replay it only when asked for
	// by status.
	var ids []int64
	before := s.store.NewID()
	for after := int64(0); ; {
		page, err := s.store.EventIDs(ctx, filter, after, before, 10_000, filter.Status != models.StatusReceived)
		if err != nil {
			s.storeError(c, err)
			return
		}
		ids = append(ids, page...)
		if len(page) < 10_000 {
			break
		}
		after = page[len(page)-1]
	}
	stream := strings.Contains(c.GetHeader("Accept"), "application/x-ndjson")
	var enc *json.Encoder
	if stream {
		c.Header("Content-Type", "application/x-ndjson")
		c.Status(http.StatusOK)
		enc = json.NewEncoder(c.Writer)
	}
	var sum replaySummary
	sum.Matched = len(ids)
	for lo := 0; lo < len(ids); lo += replayBatch {
		batch := ids[lo:min(lo+replayBatch, len(ids))]
		if err := s.replayBatch(ctx, batch, &sum); err != nil {
			if !stream {
				s.storeError(c, err)
				return
			}
			enc.Encode(gin.H{"error": err.Error()})
			return
		}
		if stream && sum.Done < sum.Matched {
			enc.Encode(sum)
			c.Writer.Flush()
		}
	}
	if stream {
		enc.Encode(sum)
		return
	}
	c.JSON(http.StatusOK, sum)
}

// replaySummary is the answer of POST /v1/replay (Done only in its
// progress lines).
type replaySummary struct {
	Matched int `json:"matched"`
	Done    int `json:"done"`
	Handled int `json:"handled"`
	Failed  int `json:"failed"`
	Busy    int `json:"busy"`
}

// replayBatch is how many events a bulk replay reads at once, and
// replayWorkers how many it dispatches at the same time (handlers that wait
// on something overlap). A dispatch queues its attempt without waiting for
// its commit; the page waits once for all of them (Store.Flush), so the
// writer commits them together, where one at a time would cost a commit (an
// fsync on SQLite) each.
const (
	replayBatch   = 1000
	replayWorkers = 64
)

// replayBatch replays the events of ids (in id order), read in one query;
// the dispatches start in id order, replayWorkers at a time, and the
// statuses after them are read in one query. A dispatch that fails counts
// as failed; only a failing read is an error.
func (s *Server) replayBatch(ctx context.Context, ids []int64, sum *replaySummary) error {
	rows, err := s.store.GetEvents(ctx, ids, models.ReplayColumns...)
	if err != nil {
		return err
	}
	sum.Failed += len(ids) - len(rows) // deleted since the listing
	type result struct {
		id   int64
		busy bool
		err  error
	}
	results := make([]result, len(rows))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(replayWorkers, len(rows)) {
		wg.Go(func() {
			for i := range next {
				row := &rows[i]
				results[i].id = row.ID
				err := s.MayReplay(ctx, row)
				if errors.Is(err, ErrBusy) {
					results[i].busy = true
					continue
				}
				if err == nil {
					err = s.redispatchQuiet(ctx, row)
				}
				results[i].err = err
			}
		})
	}
	for i := range rows {
		next <- i
	}
	close(next)
	wg.Wait()
	// The attempts were queued, not waited for one by one: one wait for
	// the page lets them share commits (see redispatchQuiet).
	if err := s.store.Flush(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	done := make([]int64, 0, len(rows))
	for _, r := range results {
		switch {
		case r.busy:
			sum.Busy++
		case r.err != nil:
			sum.Failed++
		default:
			done = append(done, r.id)
		}
	}
	statuses, err := s.store.EventStatuses(ctx, done)
	if err != nil {
		return err
	}
	for _, id := range done {
		st := statuses[id]
		if st == models.StatusHandled {
			sum.Handled++
		} else {
			sum.Failed++
		}
		if st != "" {
			s.metrics.replays.WithLabelValues(st).Inc()
		}
	}
	sum.Done += len(ids)
	return nil
}

// redispatchQuiet is Redispatch without reading the outcome back: it
// returns once the attempt is queued for the writer (replayBatch waits for
// the page's attempts at once, with Store.Flush).
func (s *Server) redispatchQuiet(ctx context.Context, row *models.Event) error {
	e, err := events.Decode(row.Raw, events.ParseFormat(row.Format))
	if err != nil {
		return fmt.Errorf("decoding stored event %d: %w", row.ID, err)
	}
	s.dispatch(ctx, e, infoOf(row, true), false)
	return nil
}

// infoOf is the handler's Info for another dispatch of a stored event.
func infoOf(row *models.Event, replay bool) events.Info {
	return events.Info{
		ID: row.ID, Account: row.Account, AuthorizerAppID: row.AuthorizerAppID, Attempt: row.Attempts + 1, Replay: replay, ReceivedAt: row.ReceivedAt,
		HTTPRequestID: row.HTTPRequestID,
	}
}

// RecoverReceived dispatches every event with an id below before that is
// still "received": a crash (or a dropped request) came between its commit
// and the end of its handler. Pass store.NewID() taken before serving for
// the rows an earlier run left; pass models.FirstIDAt(now - grace) to sweep
// while serving. It returns how many events it dispatched.
//
// An event is dispatched only by the recoverer that wins its claim
// (models.Store.ClaimReceived, for RecoveryLease), so recoverers running at
// the same time (start-up and sweep here, or those of other replicas) never
// dispatch it twice; events handled in this process right now are skipped.
//
// A push being handled on another replica is invisible here, so on
// PostgreSQL, where replicas share the database, before is lowered to the
// first id of SweepGrace ago: a younger event may be in its handler
// elsewhere, and the sweep takes it if it is still received once that
// grace has passed. On SQLite one process owns the database, so before is
// kept and start-up recovers everything an earlier run left at once.
func (s *Server) RecoverReceived(ctx context.Context, before int64) (int, error) {
	before = min(before, s.othersDoneBefore())
	n := 0
	var after int64
	for {
		rows, err := s.store.ReceivedEvents(ctx, 200, after)
		if err != nil {
			return n, err
		}
		for i := range rows {
			if rows[i].ID >= before {
				return n, nil
			}
			if s.inflight.get(rows[i].ID) != nil {
				continue
			}
			won, err := s.store.ClaimReceived(ctx, rows[i].ID, s.now(), RecoveryLease)
			if err != nil {
				return n, err
			}
			if !won {
				continue // handled meanwhile, or another recoverer has it
			}
			// The listing may predate the last attempt's record (a retry's):
			// read the row the claim was won on, for its attempt count.
			row, err := s.store.GetEvent(ctx, rows[i].ID)
			if err != nil {
				return n, err
			}
			if _, err := s.Redispatch(ctx, row, false); err != nil {
				s.log.Error("recovering event", "id", rows[i].ID, "err", err)
			}
			s.metrics.recovered.Inc()
			n++
		}
		if len(rows) == 0 {
			return n, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// othersDoneBefore returns the id below which no event can still be in the
// hands of another replica: on PostgreSQL (replicas share the database) the
// first id of SweepGrace ago; on SQLite (one process owns the file) no bound.
func (s *Server) othersDoneBefore() int64 {
	if s.store.Driver() == models.DriverPostgres {
		return models.FirstIDAt(s.now().Add(-SweepGrace))
	}
	return math.MaxInt64
}

// SweepGrace is how long an event may stay "received" before the sweep
// (and, on PostgreSQL, start-up recovery) dispatches it. A push's row is
// received from its commit until its handler has returned and its attempt
// is recorded: the commit comes within the reply budget (seconds), the
// handler's context ends after HandlerTimeout, and the attempt is committed
// with the writer's next batch. SweepGrace exceeds all of that by a minute
// (slow commits, clocks of replicas a little apart), so a push still in its
// handler on another replica is not dispatched a second time. A handler
// that ignores its context and runs past SweepGrace can still be.
const SweepGrace = HandlerTimeout + time.Minute

// RecoveryLease is how long a recovery claim keeps other recoverers off an
// event: a whole dispatch (HandlerTimeout) and the recording of its attempt,
// with the same margin as SweepGrace. A recoverer that dies meanwhile leaves
// the event to the sweep once the lease has ended.
const RecoveryLease = HandlerTimeout + time.Minute

// SweepReceived runs RecoverReceived every period until ctx ends, for
// events older than SweepGrace: those whose request was dropped after the
// commit, or whose replica died (on PostgreSQL).
func (s *Server) SweepReceived(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.metrics.sweeps.Inc()
		n, err := s.RecoverReceived(ctx, models.FirstIDAt(s.now().Add(-SweepGrace)))
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweeping received events", "err", err)
		} else if n > 0 {
			s.log.Warn("dispatched events left received", "count", n)
		}
	}
}
