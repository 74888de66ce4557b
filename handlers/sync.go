package handlers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/bridge"
)

// syncBodyLimit is the default size limit of sync requests and callbacks.
const syncBodyLimit = 1 << 20

// Sync is the feature serving seed 001's Sync API:
//
//   - POST /v1/sync (API token): seed 001's body; the answers as
//     bridge.Bridge.Sync gives them (200, 202 in async mode with
//     "notify_url", 400 with a JSON error, 504 when no timeout was given and
//     the default one passed);
//   - POST /v1/callbacks/{id} (public: the unguessable id is the
//     capability): the process's answer, any JSON. 200 wakes the waiter;
//     404 for an unknown id; 409 for a second answer (single use).
//
// Bodies over BodyLimit get 413.
type Sync struct {
	Bridge *bridge.Bridge
	// BodyLimit caps request and callback bodies; 0 means 1 MiB.
	BodyLimit int64
	// Logger receives storage errors; nil means slog.Default().
	Logger *slog.Logger
}

// Routes implements Feature.
func (f Sync) Routes(r, api, admin gin.IRouter) {
	api.POST("/v1/sync", f.sync)
	r.POST("/v1/callbacks/:id", f.callback)
}

func (f Sync) sync(c *gin.Context) {
	body, ok := f.read(c)
	if !ok {
		return
	}
	req, err := bridge.DecodeSyncRequest(body)
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	resp, status := f.Bridge.Sync(c.Request.Context(), req)
	if resp.Error != "" {
		jsonError(c, status, resp.Error)
		return
	}
	c.JSON(status, resp)
}

func (f Sync) callback(c *gin.Context) {
	body, ok := f.read(c)
	if !ok {
		return
	}
	switch err := f.Bridge.Answer(c.Request.Context(), c.Param("id"), body); {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"request_proc": "ok"})
	case errors.Is(err, bridge.ErrUnknownRequest):
		jsonError(c, http.StatusNotFound, "unknown callback id")
	case errors.Is(err, bridge.ErrAlreadyAnswered):
		jsonError(c, http.StatusConflict, "already answered: a callback URL is single use")
	default:
		f.logger().Error("storing a callback answer", "err", err)
		jsonError(c, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}

// read reads the body through the size limit, answering 413 or 400 itself.
func (f Sync) read(c *gin.Context) ([]byte, bool) {
	limit := f.BodyLimit
	if limit <= 0 {
		limit = syncBodyLimit
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			jsonError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", limit))
			return nil, false
		}
		jsonError(c, http.StatusBadRequest, "reading body: "+err.Error())
		return nil, false
	}
	return body, true
}

func (f Sync) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
