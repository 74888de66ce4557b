package pushgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// Service is a complete pushgate receiver: the store, the handlers of your
// mux, the outbound notifier, the results and sync bridge, the HTTP routes
// and the background work (recovery of events a crash left unhandled, the
// periodic sweep, pruning). Build it with New; then either Run it (it
// listens on the configured address) or Start it and mount Handler in a
// server of your own; Close it when done.
type Service struct {
	cfg    *configs.Config
	log    *slog.Logger
	store  *models.Store
	parts  []part
	server *handlers.Server
	unlock func() // releases the SQLite file's lock; nil for none

	// watermark: every event an earlier run left received has a lower id.
	watermark int64

	mu      sync.Mutex
	started atomic.Bool
	closed  atomic.Bool
	cancel  context.CancelFunc
	bg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New builds a Service from cfg (see configs.Load and configs.Default;
// New fills the defaults cfg leaves empty and validates it) with the
// handlers registered on mux. It opens the database (migrating it) and
// builds every part, but starts nothing: call Run, or Start and Handler.
//
// mux is wrapped, not changed: pushgate's middleware (panics become
// failures, failures are logged) and those given with WithMiddleware run
// around it. Register every handler before New.
//
// On SQLite New takes a lock on the database file, held until Close: a
// second Service (in this process or another) on the same file is refused
// with ErrLocked. The lock is flock(2): on systems without it (Windows)
// nothing stops a second one.
func New(cfg *configs.Config, mux *events.Mux, opts ...Option) (*Service, error) {
	if cfg == nil {
		return nil, errors.New("pushgate: New needs a configuration (configs.Default() for the defaults)")
	}
	if mux == nil {
		return nil, errors.New("pushgate: New needs a mux of handlers (events.NewMux())")
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	cfg.SetDefaults()
	o.setDefaults(cfg.LogLevel)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reportUnknownKinds(mux, o.log)

	s := &Service{cfg: cfg, log: o.log}
	ok := false
	defer func() {
		if !ok {
			s.closeParts()
		}
	}()
	var err error
	if s.store, s.unlock, err = openStore(cfg, &o); err != nil {
		return nil, err
	}
	s.watermark = s.store.NewID()

	wrapped := events.NewMux()
	wrapped.Use(events.Recover(), events.Log(o.log))
	wrapped.Use(o.middleware...)
	wrapped.Fallback(events.HandlerFunc(mux.Dispatch))
	if err := s.wire(cfg, wrapped, &o); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Start starts the background work, then returns: the outbound notifier,
// the bridge's listener and pruning, the dispatch of the events an earlier
// run left unhandled (a crash between a push's commit and its handler's
// end), the sweep that dispatches events left received later on (every
// 30 seconds), the hourly pruning of handled events and succeeded
// deliveries older than the retention, and the hourly pruning of refused
// pushes past their retention or total cap (configs.Refused). It runs
// until ctx ends or Close.
//
// Run calls Start itself. A program that serves Handler from its own server
// calls Start first: until then Handler answers 503, so a receiver without
// its recovery never goes unnoticed.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.started.Load() {
		return errors.New("pushgate: Start: already started")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	for _, p := range s.parts {
		if err := p.start(ctx); err != nil {
			return fmt.Errorf("pushgate: start: %w", err)
		}
	}
	s.bg.Go(func() {
		n, err := s.server.RecoverReceived(ctx, s.watermark)
		if err != nil && ctx.Err() == nil {
			s.log.Error("recovering received events", "err", err)
		} else if n > 0 {
			s.log.Info("dispatched events left received by an earlier run", "count", n)
		}
	})
	s.bg.Go(func() { s.server.SweepReceived(ctx, 30*time.Second) })
	s.bg.Go(func() { pruneLoop(ctx, s.store, s.cfg.DB.Retention, s.log) })
	s.bg.Go(func() { s.server.KeepRefusals(ctx, time.Hour) })
	s.started.Store(true)
	return nil
}

// Handler returns pushgate's routes (/wechat, /healthz, /metrics, /v1/...)
// as an http.Handler to mount in a server of your own, with its own TLS or
// under a path prefix:
//
//	http.Handle("/pushgate/", http.StripPrefix("/pushgate", svc.Handler()))
//
// The web inspector (/ui/) is the exception: its pages, assets and session
// cookie use absolute /ui/ paths, so it works only when Handler is served
// at the root.
//
// The background work must run: call Start before serving (Run does). Until
// Start, and after Close, the handler answers 503 with a message saying so.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.started.Load() || s.closed.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			msg := `{"error":"pushgate is not running: call Service.Start before serving its Handler"}`
			if s.closed.Load() {
				msg = `{"error":"pushgate is closed"}`
			}
			fmt.Fprintln(w, msg)
			return
		}
		s.server.ServeHTTP(w, r)
	})
}

// Run starts the Service (see Start), serves its Handler on the configured
// listen address until ctx ends, then shuts down gracefully and closes the
// Service: it stops accepting, lets the requests in flight and the handlers
// still running finish (for at most the configured shutdown timeout), then
// stops the background work and closes the database.
func (s *Service) Run(ctx context.Context) error {
	ln, err := Listen(s.cfg)
	if err != nil {
		s.Close()
		return err
	}
	return s.Serve(ctx, ln)
}

// Listen opens the listener of cfg's listen address, with an error that
// names the setting, its value and the cause. Call it before New to find a
// taken port before the database is opened, then hand it to Serve.
func Listen(cfg *configs.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		var cause error = err
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			cause = op.Err
		}
		return nil, fmt.Errorf("listen address (PUSHGATE_ADDR, --addr) %q: %w", cfg.Addr, cause)
	}
	return ln, nil
}

// Serve is Run on a listener of your own (from Listen, or port 0 in a
// test). It closes ln and the Service when it returns.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	if !s.started.Load() {
		if err := s.Start(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	httpSrv := s.cfg.HTTPServer(s.Handler())
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	s.log.Info("pushgate serving", "addr", ln.Addr().String(), "db", s.cfg.DB.Driver, "dsn", redactDSN(s.cfg.DB.DSN))
	for _, a := range s.server.Accounts() {
		s.log.Info("wechat account", "name", a.Name, "kind", a.Kind, "mode", a.Mode, "path", a.Path, "rotating", a.Rotating,
			"max_skew", s.cfg.MaxSkewOrDefault())
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := httpSrv.Shutdown(shutCtx)
	if derr := s.server.Drain(shutCtx); derr != nil && err == nil {
		err = fmt.Errorf("pushgate: handlers still running at the end of the shutdown timeout: %w", derr)
	}
	return err
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("pushgate: service closed")

// Close stops the background work, waits for it (handlers of pushes still
// running get up to the shutdown timeout to record their outcome), and
// closes the notifier, the bridge and the database (not one given with
// WithDB). Calls after the first return the first call's result.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		if s.cancel != nil {
			s.cancel()
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		if err := s.server.Drain(ctx); err != nil {
			s.log.Warn("closing with handlers still running; they will be dispatched again at the next start", "err", err)
		}
		cancel()
		s.bg.Wait()
		s.closeErr = s.closeParts()
	})
	return s.closeErr
}

// closeParts closes what New built, in the reverse order.
func (s *Service) closeParts() error {
	var err error
	for i := len(s.parts) - 1; i >= 0; i-- {
		s.parts[i].close()
	}
	if s.store != nil {
		err = s.store.Close()
	}
	if s.unlock != nil {
		s.unlock()
	}
	return err
}
