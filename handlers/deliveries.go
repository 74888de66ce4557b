package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
)

// Deliveries is the admin face of outbound notifications (seed 003):
//
//	GET  /v1/deliveries?status=pending|succeeded|dead&event_id=&limit=&cursor=
//	GET  /v1/deliveries/{id}         one delivery with its attempts and body
//	POST /v1/deliveries/{id}/retry   send a dead or pending delivery again at once
//
// Unknown ids answer 404, malformed query values 400, a retry of a delivery
// that succeeded or is being sent right now 409.
type Deliveries struct {
	Store *models.Store
	// Notifier wakes its dispatcher on a retry; nil means the retry is only
	// stored, and goes out when a notifier next looks for due deliveries.
	Notifier *notify.Notifier
	// Logger receives store errors; nil means slog.Default().
	Logger *slog.Logger
}

// The Notifier is told of accepted pushes.
var _ Observer = (*notify.Notifier)(nil)

// Routes implements Feature: every route needs the admin token.
func (d Deliveries) Routes(_, _, admin gin.IRouter) {
	admin.GET("/v1/deliveries", d.list)
	admin.GET("/v1/deliveries/:id", d.get)
	admin.POST("/v1/deliveries/:id/retry", d.retry)
}

// deliveryView is a delivery as the admin API shows it. Ids are strings, as
// in the events API: 64-bit numbers lose digits in JavaScript. event_id is
// null for deliveries of no event (the sync bridge's notify_url answers);
// next_attempt_at is null unless the delivery is pending.
type deliveryView struct {
	ID            string                `json:"id"`
	EventID       *string               `json:"event_id"`
	Account       string                `json:"account"`
	URL           string                `json:"url"`
	Kind          string                `json:"kind"`
	Status        string                `json:"status"`
	Attempts      int                   `json:"attempts"`
	NextAttemptAt *time.Time            `json:"next_attempt_at"`
	LastStatus    int                   `json:"last_status"`
	LastError     string                `json:"last_error"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
	Body          *string               `json:"body,omitempty"`
	History       []deliveryAttemptView `json:"history,omitempty"`
}

type deliveryAttemptView struct {
	Attempt    int       `json:"attempt"`
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"duration_ms"`
	Status     int       `json:"status"`
	Error      string    `json:"error"`
}

func viewDelivery(d *models.Delivery) deliveryView {
	v := deliveryView{
		ID: strconv.FormatInt(d.ID, 10), Account: d.Account, URL: d.URL, Kind: d.Kind, Status: d.Status,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if d.EventID != 0 {
		id := strconv.FormatInt(d.EventID, 10)
		v.EventID = &id
	}
	if d.Status == models.DeliveryPending {
		next := d.NextAttemptAt
		v.NextAttemptAt = &next
	}
	return v
}

func (d Deliveries) list(c *gin.Context) {
	f := models.DeliveryFilter{Cursor: c.Query("cursor"), Account: c.Query("account")}
	switch s := c.Query("status"); s {
	case "", models.DeliveryPending, models.DeliverySucceeded, models.DeliveryDead:
		f.Status = s
	default:
		jsonError(c, http.StatusBadRequest, "status must be pending, succeeded or dead, got "+strconv.Quote(s))
		return
	}
	if v := c.Query("event_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			jsonError(c, http.StatusBadRequest, "event_id must be a positive number, got "+strconv.Quote(v))
			return
		}
		f.EventID = id
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > models.MaxPageSize {
			jsonError(c, http.StatusBadRequest, "limit must be between 1 and 500, got "+strconv.Quote(v))
			return
		}
		f.Limit = n
	}
	rows, next, err := d.Store.ListDeliveries(c.Request.Context(), f)
	if err != nil {
		d.deliveryError(c, err)
		return
	}
	out := make([]deliveryView, len(rows))
	for i := range rows {
		out[i] = viewDelivery(&rows[i])
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": out, "next_cursor": next})
}

func (d Deliveries) get(c *gin.Context) {
	id, ok := deliveryID(c)
	if !ok {
		return
	}
	d.respond(c, id, true)
}

func (d Deliveries) retry(c *gin.Context) {
	id, ok := deliveryID(c)
	if !ok {
		return
	}
	var err error
	if d.Notifier != nil {
		err = d.Notifier.Retry(c.Request.Context(), id)
	} else {
		err = d.Store.RetryDelivery(c.Request.Context(), id)
	}
	if err != nil {
		d.deliveryError(c, err)
		return
	}
	d.respond(c, id, false)
}

// respond answers the delivery id, with its attempts and body when full.
func (d Deliveries) respond(c *gin.Context, id int64, full bool) {
	ctx := c.Request.Context()
	row, err := d.Store.GetDelivery(ctx, id)
	if err != nil {
		d.deliveryError(c, err)
		return
	}
	v := viewDelivery(row)
	if full {
		body := string(row.Body)
		v.Body = &body
		attempts, err := d.Store.DeliveryAttempts(ctx, id)
		if err != nil {
			d.deliveryError(c, err)
			return
		}
		for _, a := range attempts {
			v.History = append(v.History, deliveryAttemptView{
				Attempt: a.Attempt, Started: a.Started, DurationMS: float64(a.DurationUS) / 1000,
				Status: a.Status, Error: a.Error,
			})
		}
	}
	c.JSON(http.StatusOK, v)
}

func deliveryID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		jsonError(c, http.StatusBadRequest, "delivery id must be a number, got "+strconv.Quote(c.Param("id")))
		return 0, false
	}
	return id, true
}

// deliveryError maps store errors: not found 404, a bad cursor 400, a retry
// refused by the delivery's state 409, else 500 (logged).
func (d Deliveries) deliveryError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, models.ErrNotFound):
		jsonError(c, http.StatusNotFound, "delivery not found")
	case errors.Is(err, models.ErrInvalid):
		jsonError(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, models.ErrDeliveryState):
		jsonError(c, http.StatusConflict, err.Error())
	default:
		log := d.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("deliveries: store", "path", c.Request.URL.Path, "err", err)
		jsonError(c, http.StatusInternalServerError, "store error")
	}
}
