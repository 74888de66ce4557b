package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"pushgate/events"
	"pushgate/models"
)

// replayOutcome is the answer of POST /v1/events/{id}/replay.
type replayOutcome struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	Error      string  `json:"error"`
	Reply      string  `json:"reply,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Redispatch decodes a stored event from its raw body and runs its
// handlers again, recording the attempt (as a replay when replay is true).
// It is the unit of replay and of start-up recovery.
func (s *Server) Redispatch(ctx context.Context, row *models.Event, replay bool) (replayOutcome, error) {
	out := replayOutcome{ID: strconv.FormatInt(row.ID, 10), Kind: row.Kind}
	e, err := events.Decode(row.Raw, events.ParseFormat(row.Format))
	if err != nil {
		return out, fmt.Errorf("decoding stored event %d: %w", row.ID, err)
	}
	start := time.Now()
	reply := s.dispatch(ctx, row.ID, e, replay)
	out.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	out.Reply = string(reply)
	fresh, err := s.store.GetEvent(ctx, row.ID)
	if err != nil {
		return out, err
	}
	out.Status, out.Error = fresh.Status, fresh.LastError
	return out, nil
}

func (s *Server) replayOne(c *gin.Context) {
	row, ok := s.eventByParam(c)
	if !ok {
		return
	}
	out, err := s.Redispatch(c.Request.Context(), row, true)
	if err != nil {
		jsonError(c, http.StatusInternalServerError, err.Error())
		return
	}
	c.JSON(http.StatusOK, out)
}

// replayMatching replays every event matching a filter, oldest first.
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
	filter.Limit, filter.Cursor = 500, ""
	ctx := c.Request.Context()
	var rows []models.Event
	for {
		page, next, err := s.store.ListEvents(ctx, filter)
		if err != nil {
			s.storeError(c, err)
			return
		}
		rows = append(rows, page...)
		if next == "" {
			break
		}
		filter.Cursor = next
	}
	slices.Reverse(rows) // ListEvents is newest first
	counts := gin.H{}
	handled, failed := 0, 0
	for i := range rows {
		out, err := s.Redispatch(ctx, &rows[i], true)
		if err != nil || out.Status != models.StatusHandled {
			failed++
			continue
		}
		handled++
	}
	counts["matched"], counts["handled"], counts["failed"] = len(rows), handled, failed
	c.JSON(http.StatusOK, counts)
}

// RecoverReceived dispatches every event left "received": a crash came
// between its commit and the end of its handler. Call it at start-up.
func (s *Server) RecoverReceived(ctx context.Context) (int, error) {
	n := 0
	var after int64
	for {
		rows, err := s.store.ReceivedEvents(ctx, 200, after)
		if err != nil {
			return n, err
		}
		if len(rows) == 0 {
			return n, nil
		}
		for i := range rows {
			if _, err := s.Redispatch(ctx, &rows[i], false); err != nil {
				s.log.Error("recovering event", "id", rows[i].ID, "err", err)
			}
			n++
		}
		after = rows[len(rows)-1].ID
	}
}
