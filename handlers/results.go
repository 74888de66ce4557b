package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"pushgate/bridge"
)

// Results is the feature serving GET /v1/results/{request_id}[?timeout=S]
// (API token): the result of an async API (seed 000) or a callback (seed
// 001) stored under request_id.
//
//   - 200 {"request_id","source","api","service","data","received_at","expires_at"},
//     data being the JSON document when the result is JSON, else a string;
//   - 202 {"status":"pending"} when it has not arrived after waiting up to S
//     seconds (default 0: no wait; at most MaxWait). The wait ends the moment
//     the result arrives, on this replica or another;
//   - 410 once it has expired; 400 for a bad timeout.
type Results struct {
	Bridge *bridge.Bridge
	// MaxWait caps ?timeout= (configs Results.MaxWait); 0 means 300 s.
	MaxWait time.Duration
	// Logger receives storage errors; nil means slog.Default().
	Logger *slog.Logger
}

// Routes implements Feature.
func (f Results) Routes(r, api, admin gin.IRouter) {
	api.GET("/v1/results/:request_id", f.get)
}

// resultView is the JSON form of a result.
type resultView struct {
	RequestID  string          `json:"request_id"`
	Source     string          `json:"source"`
	Api        string          `json:"api"`
	Service    string          `json:"service"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt time.Time       `json:"received_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
}

func (f Results) get(c *gin.Context) {
	id := c.Param("request_id")
	wait, err := f.wait(c.Query("timeout"))
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	ctx := c.Request.Context()
	var res *bridge.Result
	if wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		res, err = f.Bridge.Await(wctx, id)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = bridge.ErrPending
		}
	} else {
		res, err = f.Bridge.Result(ctx, id)
	}
	switch {
	case err == nil:
		c.JSON(http.StatusOK, resultView{
			RequestID: res.RequestID, Source: res.Source, Api: res.Api, Service: res.Service,
			Data: res.Value(), ReceivedAt: res.ReceivedAt, ExpiresAt: res.ExpiresAt,
		})
	case errors.Is(err, bridge.ErrPending):
		c.JSON(http.StatusAccepted, gin.H{"status": "pending"})
	case errors.Is(err, bridge.ErrExpired):
		jsonError(c, http.StatusGone, "result expired")
	case ctx.Err() != nil:
		c.Abort() // the caller went away
	case errors.Is(err, bridge.ErrClosed):
		jsonError(c, http.StatusServiceUnavailable, "shutting down")
	default:
		f.logger().Error("reading a result", "err", err)
		jsonError(c, http.StatusInternalServerError, "could not read the result")
	}
}

// wait parses ?timeout=: seconds, a non-negative number up to MaxWait.
func (f Results) wait(q string) (time.Duration, error) {
	if q == "" {
		return 0, nil
	}
	limit := f.MaxWait
	if limit <= 0 {
		limit = 300 * time.Second
	}
	secs, err := strconv.ParseFloat(q, 64)
	if err != nil || math.IsNaN(secs) || secs < 0 || secs > limit.Seconds() {
		return 0, fmt.Errorf("timeout must be a number of seconds from 0 to %g, got %q", limit.Seconds(), q)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func (f Results) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
