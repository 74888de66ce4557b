// Package handlers is pushgate's HTTP face: the gin engine, its middleware
// (body limits, WeChat signatures, bearer tokens) and thin adapters that
// read a request, call events/, models/ and the feature packages, and
// answer. No business logic, no SQL.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// Observer is told of every newly stored push after its row is committed
// (never of duplicates). It must return quickly: it runs on the push's
// request path, before the answer.
type Observer interface {
	Accepted(ctx context.Context, id int64, e events.Event)
}

// Feature adds a feature's routes: public ones on r, ones that need the API
// token on api, ones that need the admin token on admin.
type Feature interface {
	Routes(r, api, admin gin.IRouter)
}

// Deps is what the server is built from.
type Deps struct {
	Config *configs.Config
	Store  *models.Store
	Mux    *events.Mux
	Logger *slog.Logger
	// Observers are told of each accepted push (results, notifications).
	Observers []Observer
	// Features add their routes (results, sync, deliveries).
	Features []Feature
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Gauges are read at each scrape of /metrics (waiters of the bridge, say).
	Gauges []Gauge
	// Registerer takes the server's collectors; Gatherer is what GET
	// /metrics serves. Both nil: a registry of the server's own (NewRegistry).
	// One given without the other is an error.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// TracerProvider, when set, traces every request (a server span, the
	// child of an incoming traceparent) and each push's steps: decode,
	// store, dispatch with the handler's run as a child, answer. Nil:
	// tracing is off and costs nothing.
	TracerProvider trace.TracerProvider
}

// Gauge is a value /metrics reports as a Prometheus gauge named Name.
type Gauge struct {
	Name, Help string
	Value      func() float64
}

// Server serves pushgate's routes.
type Server struct {
	cfg       *configs.Config
	store     *models.Store
	mux       *events.Mux
	log       *slog.Logger
	observers []Observer
	gauges    []Gauge
	gatherer  prometheus.Gatherer
	tracer    trace.Tracer // nil: tracing is off
	now       func() time.Time
	engine    *gin.Engine
	inflight  inflight
	metrics   *metrics
	refusals  *refusals

	accounts    map[string]*account // by name
	accountList []*account          // in configuration order
	maxSkew     time.Duration       // the freshness window; 0: off
}

// New builds the gin engine with the routes of /wechat, /healthz, /metrics,
// the admin API of events and replay, and those of d.Features. It serves
// requests only: the recovery of events a crash left received
// (RecoverReceived), the sweep (SweepReceived) and pruning are the caller's
// to run. The package pushgate wires all of it; use pushgate.New unless you
// are building pushgate itself. New returns an error when d lacks the
// Config, the Store or the Mux.
func New(d Deps) (*Server, error) {
	var missing []string
	if d.Config == nil {
		missing = append(missing, "Config")
	}
	if d.Store == nil {
		missing = append(missing, "Store")
	}
	if d.Mux == nil {
		missing = append(missing, "Mux")
	}
	if (d.Registerer == nil) != (d.Gatherer == nil) {
		missing = append(missing, "Registerer and Gatherer together")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("handlers: New: Deps lacks %s", strings.Join(missing, ", "))
	}
	if d.Registerer == nil {
		reg := NewRegistry()
		d.Registerer, d.Gatherer = reg, reg
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		cfg:       d.Config,
		store:     d.Store,
		mux:       d.Mux,
		log:       d.Logger,
		observers: d.Observers,
		gauges:    d.Gauges,
		gatherer:  d.Gatherer,
		now:       d.Now,
		engine:    gin.New(),
		inflight:  newInflight(),
		metrics:   newMetrics(),
		refusals:  newRefusals(d.Config.Refused),
	}
	if err := s.registerMetrics(d.Registerer); err != nil {
		return nil, fmt.Errorf("handlers: New: registering metrics: %w", err)
	}
	s.maxSkew = d.Config.MaxSkewOrDefault()
	s.accounts = make(map[string]*account)
	for _, a := range d.Config.WeChatAccounts() {
		acct, err := newAccount(a)
		if err != nil {
			s.log.Error("sealed pushes refused: bad EncodingAESKey", "account", a.Name, "err", err)
		}
		s.accounts[a.Name] = acct
		s.accountList = append(s.accountList, acct)
	}
	s.engine.Use(requestID())
	if d.TracerProvider != nil {
		s.tracer = d.TracerProvider.Tracer(TracerName)
		s.engine.Use(s.traceRequests())
	}
	s.engine.Use(s.recoverJSON())
	s.engine.HandleMethodNotAllowed = true
	s.engine.NoRoute(func(c *gin.Context) { jsonError(c, http.StatusNotFound, "no such route") })
	s.engine.NoMethod(func(c *gin.Context) { s.fail(c, http.StatusMethodNotAllowed, "method not allowed") })

	s.engine.GET("/wechat", s.verifyURL)
	s.engine.POST("/wechat", s.receive)
	s.engine.GET("/wechat/:account", s.verifyURL)
	s.engine.POST("/wechat/:account", s.receive)
	s.engine.POST("/wechat/:account/:authorizer", s.receive)
	s.engine.GET("/healthz", s.healthz)
	s.engine.GET("/metrics", s.metricsHandler())

	api := s.engine.Group("/", bearer(d.Config.APIToken, "api"))
	admin := s.engine.Group("/", bearer(d.Config.AdminToken, "admin"))
	s.adminRoutes(admin)
	s.platformRoutes(api)
	for _, f := range d.Features {
		f.Routes(s.engine, api, admin)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Engine returns the gin engine, for tests and for mounting more routes.
func (s *Server) Engine() *gin.Engine { return s.engine }
