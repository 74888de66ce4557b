package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/stream"
)

// eventView is an event as the admin API shows it: stream.View, the form
// the feeds hand out too, with the dispatch history on GET /v1/events/{id}.
type eventView struct {
	stream.View
	History []attemptView `json:"history,omitempty"`
}

type attemptView struct {
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error"`
	Replay     bool      `json:"replay"`
}

func viewEvent(e *models.Event) eventView {
	return eventView{View: stream.ViewOf(e, true)}
}

// eventFilter is the filter of GET /v1/events and the body of POST
// /v1/replay.
type eventFilter struct {
	Account   string `json:"account" form:"account"`
	Event     string `json:"event" form:"event"`
	MsgType   string `json:"msg_type" form:"msg_type"`
	FromUser  string `json:"from_user" form:"from_user"`
	ToUser    string `json:"to_user" form:"to_user"`
	EventKey  string `json:"event_key" form:"event_key"`
	RequestID string `json:"request_id" form:"request_id"`
	Status    string `json:"status" form:"status"`
	Since     string `json:"since" form:"since"`
	Until     string `json:"until" form:"until"`
	Limit     int    `json:"limit" form:"limit"`
	Cursor    string `json:"cursor" form:"cursor"`

	// AuthorizerAppID: events an Open Platform account received for one
	// authorized account.
	AuthorizerAppID string `json:"authorizer_appid" form:"authorizer_appid"`
}

// parseTime accepts RFC 3339 or Unix seconds.
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, errors.New(name + " must be RFC 3339 or Unix seconds, got " + strconv.Quote(v))
}

func (f eventFilter) model() (models.EventFilter, error) {
	var errs []error
	since, err := parseTime("since", f.Since)
	errs = append(errs, err)
	until, err := parseTime("until", f.Until)
	errs = append(errs, err)
	switch f.Status {
	case "", models.StatusReceived, models.StatusHandled, models.StatusFailed:
	default:
		errs = append(errs, errors.New("status must be received, handled or failed"))
	}
	if f.Limit < 0 || f.Limit > 500 {
		errs = append(errs, errors.New("limit must be between 1 and 500"))
	}
	return models.EventFilter{
		Account: f.Account, AuthorizerAppID: f.AuthorizerAppID, Event: f.Event, MsgType: f.MsgType, FromUser: f.FromUser, ToUser: f.ToUser,
		EventKey: f.EventKey, RequestID: f.RequestID, Status: f.Status,
		Since: since, Until: until, Limit: f.Limit, Cursor: f.Cursor,
	}, errors.Join(errs...)
}

func (s *Server) adminRoutes(admin gin.IRouter) {
	admin.GET("/v1/events", s.listEvents)
	admin.GET("/v1/events/:id", s.getEvent)
	admin.POST("/v1/events/:id/replay", s.replayOne)
	admin.POST("/v1/replay", s.replayMatching)
	admin.GET("/v1/events/:id/raw", s.getEventRaw)
	admin.GET("/v1/rejected", s.listRejected)
	admin.GET("/v1/rejected/:id", s.getRejected)
	admin.GET("/v1/rejected/:id/raw", s.getRejectedRaw)
}

func (s *Server) listEvents(c *gin.Context) {
	var f eventFilter
	if err := c.ShouldBindQuery(&f); err != nil {
		jsonError(c, http.StatusBadRequest, "bad query: "+err.Error())
		return
	}
	filter, err := f.model()
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	rows, next, err := s.store.ListEvents(c.Request.Context(), filter)
	if err != nil {
		s.storeError(c, err)
		return
	}
	out := make([]eventView, len(rows))
	for i := range rows {
		out[i] = viewEvent(&rows[i])
	}
	c.JSON(http.StatusOK, gin.H{"events": out, "next_cursor": next})
}

func (s *Server) getEvent(c *gin.Context) {
	e, ok := s.eventByParam(c)
	if !ok {
		return
	}
	v := viewEvent(e)
	attempts, err := s.store.EventAttempts(c.Request.Context(), e.ID)
	if err != nil {
		s.storeError(c, err)
		return
	}
	for _, a := range attempts {
		v.History = append(v.History, attemptView{Started: a.Started, DurationMS: float64(a.DurationUS) / 1000, Error: a.Error, Replay: a.Replay})
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) eventByParam(c *gin.Context) (*models.Event, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		jsonError(c, http.StatusBadRequest, "event id must be a number")
		return nil, false
	}
	e, err := s.store.GetEvent(c.Request.Context(), id)
	if err != nil {
		s.storeError(c, err)
		return nil, false
	}
	return e, true
}

func (s *Server) listRejected(c *gin.Context) {
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			jsonError(c, http.StatusBadRequest, "limit must be between 1 and 500")
			return
		}
		limit = n
	}
	rows, next, err := s.store.ListRejectedBy(c.Request.Context(),
		models.RejectedFilter{Account: c.Query("account"), Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		s.storeError(c, err)
		return
	}
	out := make([]rejectedView, len(rows))
	for i := range rows {
		out[i] = viewRejected(&rows[i])
	}
	c.JSON(http.StatusOK, gin.H{"rejected": out, "next_cursor": next})
}

// rejectedView is a refused push as the admin API shows it. A listing
// carries at most models.ListBodyCap bytes of raw (RawTruncated);
// GET /v1/rejected/{id} has the whole stored body, and
// GET /v1/rejected/{id}/raw the stored body as bytes.
type rejectedView struct {
	ID           string    `json:"id"`
	Account      string    `json:"account"`
	ReceivedAt   time.Time `json:"received_at"`
	Status       int       `json:"status"`
	Reason       string    `json:"reason"`
	Query        string    `json:"query"`
	RemoteAddr   string    `json:"remote_addr"`
	ContentType  string    `json:"content_type"`
	Raw          string    `json:"raw"`
	RawSize      int64     `json:"raw_size"`
	RawTruncated bool      `json:"raw_truncated,omitempty"`
	// BodySize and BodySHA256 describe the whole body as received, of which
	// only the head may be kept (PUSHGATE_REFUSED_BODY_CAP); no SHA-256
	// when the whole was not read (413).
	BodySize   int64  `json:"body_size"`
	BodySHA256 string `json:"body_sha256,omitempty"`
	// HTTPRequestID is the id of the request that delivered it (its
	// X-Request-Id, echoed in the refusal); "" in rows older than it.
	HTTPRequestID string `json:"http_request_id"`
}

func viewRejected(r *models.Rejected) rejectedView {
	v := rejectedView{ID: strconv.FormatInt(r.ID, 10), Account: r.Account, ReceivedAt: r.ReceivedAt, Status: r.Status, Reason: r.Reason,
		Query: r.Query, RemoteAddr: r.RemoteAddr, ContentType: r.ContentType, Raw: string(r.Raw),
		BodySize: r.BodySize, BodySHA256: r.BodySHA256, HTTPRequestID: r.HTTPRequestID}
	v.RawSize, v.RawTruncated = stream.SizeOf(r.Raw, r.RawLen)
	return v
}

func (s *Server) rejectedByParam(c *gin.Context) (*models.Rejected, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		jsonError(c, http.StatusBadRequest, "rejected push id must be a number")
		return nil, false
	}
	r, err := s.store.GetRejected(c.Request.Context(), id)
	if err != nil {
		s.storeError(c, err)
		return nil, false
	}
	return r, true
}

// getRejected answers one refused push with its whole stored body.
func (s *Server) getRejected(c *gin.Context) {
	if r, ok := s.rejectedByParam(c); ok {
		c.JSON(http.StatusOK, viewRejected(r))
	}
}

// getRejectedRaw answers a refused push's stored body as bytes, as a
// download (see rawDownload).
func (s *Server) getRejectedRaw(c *gin.Context) {
	if r, ok := s.rejectedByParam(c); ok {
		rawDownload(c, fmt.Sprintf("rejected-%d.bin", r.ID))
		c.Data(http.StatusOK, "application/octet-stream", r.Raw)
	}
}

// rawDownload makes a raw body a download named file: the sender's bytes,
// shown in a browser at the inspector's origin (which forwards these
// routes), could render as HTML or XHTML and run scripts there.
func rawDownload(c *gin.Context, file string) {
	c.Header("Content-Disposition", `attachment; filename="`+file+`"`)
	c.Header("X-Content-Type-Options", "nosniff")
}

// getEventRaw answers an event's body as received, as a download (see
// rawDownload).
func (s *Server) getEventRaw(c *gin.Context) {
	e, ok := s.eventByParam(c)
	if !ok {
		return
	}
	ct, ext := "application/xml; charset=utf-8", "xml"
	if e.Format == "json" {
		ct, ext = "application/json; charset=utf-8", "json"
	}
	rawDownload(c, fmt.Sprintf("event-%d.%s", e.ID, ext))
	c.Data(http.StatusOK, ct, e.Raw)
}

// storeError maps store errors: not found 404, a bad cursor 400, else 500.
func (s *Server) storeError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, models.ErrNotFound):
		jsonError(c, http.StatusNotFound, "not found")
	case errors.Is(err, models.ErrInvalid):
		jsonError(c, http.StatusBadRequest, err.Error())
	default:
		s.log.ErrorContext(requestContext(c), "store", "path", c.Request.URL.Path, "err", err)
		jsonError(c, http.StatusInternalServerError, "store error")
	}
}
