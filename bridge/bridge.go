// Package bridge lets callers get at the results of asynchronous work: results
// of service-market async APIs pushed by the platform (seed 000), and answers
// that processes post to a callback URL (seed 001, Corezoid's Sync API).
//
// A caller can read a result ([Bridge.Result]), wait for it ([Bridge.Await]),
// or have a synchronous request wait for it ([Bridge.Sync]). Waiters are woken
// by the arrival itself: in this process by a waiter hub, across replicas
// sharing PostgreSQL by LISTEN/NOTIFY. Nothing polls.
//
// Durability: a result is recoverable as soon as its push is committed. If
// the process dies between committing the push and storing its result,
// [Bridge.Result] rebuilds the result from the stored push on first read. An
// async sync request (one with a notify_url) is a stored group whose final
// answer is handed to the notifier by whichever replica completes it, also
// after the replica that took it stopped (see [Bridge.Sweep]).
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrPending means no result has arrived (yet) for the request id.
	ErrPending = errors.New("result pending")
	// ErrExpired means the result arrived but is no longer valid.
	ErrExpired = errors.New("result expired")
	// ErrUnknownRequest is returned by Answer for an id no request was made with.
	ErrUnknownRequest = errors.New("unknown request")
	// ErrAlreadyAnswered is returned by Answer for a request answered before.
	ErrAlreadyAnswered = errors.New("request already answered")
	// ErrInvalidRequest wraps every reason a sync request is refused.
	ErrInvalidRequest = errors.New("invalid sync request")
	// ErrClosed is returned once Close has been called.
	ErrClosed = errors.New("bridge closed")
)

// Result is a stored result; see models.Result. It is read-only: waiters on
// one request id may share it.
type Result = models.Result

// Notifier delivers a final answer to a URL durably, with retries (the notify
// package implements it). The bridge needs one for async sync requests.
type Notifier interface {
	NotifyURL(ctx context.Context, url, kind string, body []byte) (int64, error)
}

// NotifyKind is the kind under which async sync answers are notified.
const NotifyKind = "sync.result"

// Options tunes a Bridge. The zero value works; without a Notifier, async
// mode (a sync request with notify_url) is refused.
type Options struct {
	// Now is the clock for validity and deadlines; default time.Now.
	Now func() time.Time
	// HTTPClient posts tasks to processes; default a client whose only
	// timeout is the request's deadline.
	HTTPClient *http.Client
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Notifier delivers async mode's final answers; nil disables async mode.
	Notifier Notifier
	// PruneEvery is the period of the pruning of expired results; default 1m.
	PruneEvery time.Duration
	// SweepEvery is the period of the sweep that completes async sync
	// requests left behind by a stopped replica (see Bridge.Sweep); default 5s.
	SweepEvery time.Duration
	// MaxOps caps the operations of one sync request; default 100.
	MaxOps int
	// Registerer takes the bridge's metrics (sync requests by mode and
	// status, tasks that timed out); nil: none are registered.
	Registerer prometheus.Registerer
	// TracerProvider, when set, traces each task of a sync request (its
	// POST, which carries a W3C traceparent, and the wait for its answer)
	// and each Await; nil: no spans.
	TracerProvider trace.TracerProvider
}

// Bridge stores, serves and awaits results, and runs sync requests. It is safe
// for concurrent use. Call Start to listen for other replicas and prune, and
// Close when done.
type Bridge struct {
	store    *models.Store
	now      func() time.Time
	client   *http.Client
	log      *slog.Logger
	notifier Notifier
	hub      *hub
	parked   atomic.Int64 // Await calls blocked in their wait
	syncs    *prometheus.CounterVec
	timeouts prometheus.Counter
	tracer   trace.Tracer // nil: no spans
	lookups  chan *lookupJob

	validity       time.Duration
	perAPI         map[string]time.Duration
	targets        map[string]string // normalised conv_id -> URL
	callbackBase   string            // public URL + "/v1/callbacks/"
	defaultTimeout time.Duration
	maxTimeout     time.Duration
	maxOps         int
	pruneEvery     time.Duration
	sweepEvery     time.Duration

	ctx     context.Context // ends at Close; background work runs under it
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	mu      sync.Mutex
}

// New returns a Bridge over store configured by cfg's Results, Sync and
// PublicURL settings (cfg's defaults must be set). It serves Result, Await,
// Sync and Answer at once; Start adds the background work. Call Close when done.
func New(store *models.Store, cfg *configs.Config, opt Options) (*Bridge, error) {
	if store == nil || cfg == nil {
		return nil, errors.New("bridge: new: store and config are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = time.Minute
	}
	if opt.SweepEvery <= 0 {
		opt.SweepEvery = 5 * time.Second
	}
	if opt.MaxOps <= 0 {
		opt.MaxOps = 100
	}
	b := &Bridge{
		store: store, now: opt.Now, client: opt.HTTPClient, log: opt.Logger, notifier: opt.Notifier,
		hub:            newHub(),
		lookups:        make(chan *lookupJob),
		validity:       cfg.Results.Validity,
		perAPI:         make(map[string]time.Duration, len(cfg.Results.PerAPI)),
		targets:        make(map[string]string, len(cfg.Sync.Targets)),
		callbackBase:   strings.TrimRight(cfg.PublicURL, "/") + "/v1/callbacks/",
		defaultTimeout: cfg.Sync.DefaultTimeout,
		maxTimeout:     cfg.Sync.MaxTimeout,
		maxOps:         opt.MaxOps,
		pruneEvery:     opt.PruneEvery,
		sweepEvery:     opt.SweepEvery,
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushgate_sync_requests_total", Help: "Sync requests by mode (sync, async) and HTTP status of their answer.",
		}, []string{"mode", "status"}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushgate_sync_task_timeouts_total", Help: "Tasks of sync-mode requests whose process did not answer in time.",
		}),
	}
	if opt.TracerProvider != nil {
		b.tracer = opt.TracerProvider.Tracer("github.com/pushgate/pushgate/bridge")
	}
	if opt.Registerer != nil {
		for _, c := range []prometheus.Collector{b.syncs, b.timeouts} {
			if err := opt.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("bridge: new: registering metrics: %w", err)
			}
		}
	}
	if b.validity <= 0 || b.defaultTimeout <= 0 || b.maxTimeout <= 0 {
		return nil, errors.New("bridge: new: result validity and sync timeouts must be positive (call cfg.SetDefaults)")
	}
	for api, d := range cfg.Results.PerAPI {
		b.perAPI[api] = d
	}
	for conv, u := range cfg.Sync.Targets {
		n, err := strconv.ParseUint(conv, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bridge: new: sync target conv_id %q is not a number", conv)
		}
		b.targets[strconv.FormatUint(n, 10)] = u
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for range lookupWorkers {
		b.wg.Go(b.lookupLoop)
	}
	return b, nil
}

// Start begins the background work: on PostgreSQL the listener that wakes
// local waiters when another replica stores a result (Start returns once it
// listens, or with its error), the periodic pruning of expired results and
// finished requests, and the sweep (at once, then every Options.SweepEvery)
// that completes the async sync requests whose deadline passed while their
// replica was stopped. Background work stops at Close (or when ctx ends).
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return fmt.Errorf("bridge: start: %w", ErrClosed)
	}
	if b.started {
		return errors.New("bridge: start: already started")
	}
	b.started = true
	bg, cancel := context.WithCancel(b.ctx)
	stop := context.AfterFunc(ctx, cancel)
	b.wg.Go(func() { <-bg.Done(); stop() })
	if b.store.Driver() == models.DriverPostgres {
		if err := b.startListener(ctx, bg); err != nil {
			cancel()
			return err
		}
	}
	b.wg.Go(func() { b.pruneLoop(bg) })
	b.wg.Go(func() { b.sweepLoop(bg) })
	return nil
}

// Close stops the background work and every wait in progress (they return
// ErrClosed or their context's error), and waits for them. Async requests
// still waiting stay open in the store: the replica that stores their last
// answer, or a sweep once their deadline passed (of another replica, or of
// this one's next Start), completes them. The Store is not closed.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.cancel()
	b.mu.Unlock()
	b.wg.Wait()
}

// resultValidity is how long a result of api stays retrievable.
func (b *Bridge) resultValidity(api string) time.Duration {
	if d := b.perAPI[api]; d > 0 {
		return d
	}
	return b.validity
}
