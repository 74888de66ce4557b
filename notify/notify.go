// Package notify tells other systems what pushgate accepted, and keeps telling
// them until they confirm, the way seed 003 (Acooly's asynchronous
// notification) does: a signed JSON POST per subscriber, success only on a 2xx
// answer whose body is "success", retries on a schedule (2m, 10m, 30m, 1h, 2h,
// 6h, 6h, 10h, 15h, 15h by default), then "dead".
//
// Nothing lives only in memory. Every delivery and every attempt is a row of
// the store's outbox (models.Delivery); an accepted event is fanned out to its
// deliveries in the transaction that marks it notified, and a scan of
// unnotified events at start-up repairs a crash in between. A dispatcher claims
// due deliveries with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, so that
// replicas sharing the outbox never send one attempt twice), hands them to a
// bounded worker pool, and sleeps until the earliest next attempt. A worker
// takes its next delivery once its attempt is committed; the attempts of all
// workers are recorded together, a few statements and one commit for many.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// Errors of the Notifier. Methods wrap them with %w.
var (
	// ErrStopped is returned by NotifyURL and Retry once Stop has begun, and
	// by Start when called twice.
	ErrStopped = errors.New("notifier stopped")
	// ErrURL means a notify URL is not an absolute http or https URL.
	ErrURL = errors.New("invalid notify url")
)

// acceptedQueue is the capacity of the hand-off from Accepted to the fan-out
// goroutine. When it is full Accepted drops the id and asks for a scan of
// unnotified events instead, so the push is never held up.
const acceptedQueue = 4096

// Options tunes a Notifier. The zero value is ready to use.
type Options struct {
	// Now is the clock of the retry schedule and of webhook-timestamp;
	// default time.Now.
	Now func() time.Time
	// Client sends the POSTs; nil means a client with the configured connect
	// and read timeouts that does not follow redirects.
	Client *http.Client
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Lease is how long a claimed delivery is reserved for this notifier
	// before another claim may take it; 0 means three times the longest
	// connect+read timeout, at least a minute; never less than that budget
	// plus 3s.
	Lease time.Duration
	// Registerer takes the notifier's metrics (attempts by outcome and
	// attempt number, the outbox's depth, oldest pending age and dead
	// count); nil: none are registered.
	Registerer prometheus.Registerer
	// TracerProvider, when set, traces each delivery attempt; its POST
	// carries the span's W3C traceparent. Nil: no spans.
	TracerProvider trace.TracerProvider
}

// Notifier sends the outbox's deliveries. Create it with New, run it with
// Start, end it with Stop. Its methods are safe for concurrent use.
type Notifier struct {
	store    *models.Store
	cfg      configs.Notify
	subs     map[string]*target // by URL
	order    []*target          // subscribers in configuration order
	global   *target            // for deliveries of no event (NotifyURL)
	schedule Schedule
	now      func() time.Time
	client   *http.Client
	log      *slog.Logger
	lease    time.Duration
	longest  time.Duration // the longest attempt: connect + read timeout
	cfgErr   error
	metrics  *metrics
	tracer   trace.Tracer // nil: no spans

	pool     *pool[models.Delivery]
	records  chan recordReq // workers' attempts, to recordLoop
	recorder sync.WaitGroup
	accepted chan int64
	scanNow  chan struct{}
	wake     chan struct{}

	sleepMu    sync.Mutex
	sleepUntil time.Time // the dispatcher's wake-up time while it sleeps; zero while awake

	lifeMu     sync.Mutex // serialises Start and Stop
	started    atomic.Bool
	stopped    atomic.Bool
	cancel     context.CancelFunc
	loops      sync.WaitGroup
	sendCtx    context.Context // in-flight sends; cancelled when Stop runs out of time
	sendCancel context.CancelFunc
}

// New returns a Notifier over store for the configuration cfg (whose
// Schedule, timeouts, pool sizes, ScanPeriod and FetchSize should have their
// defaults set) and the resolved subscribers (configs.Config.NotifySubscribers).
// A malformed secret is reported by Start.
func New(store *models.Store, cfg configs.Notify, subscribers []configs.Subscriber, opt Options) *Notifier {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	cfg.ScanPeriod = positive(cfg.ScanPeriod, 120*time.Second)
	cfg.ConnectTimeout = positive(cfg.ConnectTimeout, 10*time.Second)
	cfg.ReadTimeout = positive(cfg.ReadTimeout, 10*time.Second)
	if cfg.FetchSize <= 0 {
		cfg.FetchSize = 100
	}
	if cfg.PoolCore <= 0 {
		cfg.PoolCore = 10
	}
	if cfg.PoolMax <= 0 {
		cfg.PoolMax = 50
	}
	n := &Notifier{
		store:    store,
		cfg:      cfg,
		subs:     make(map[string]*target, len(subscribers)),
		schedule: NewSchedule(cfg.Schedule, opt.Now),
		now:      opt.Now,
		client:   opt.Client,
		log:      opt.Logger,
		accepted: make(chan int64, acceptedQueue),
		scanNow:  make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		metrics:  newMetrics(),
	}
	if opt.TracerProvider != nil {
		n.tracer = opt.TracerProvider.Tracer("github.com/pushgate/pushgate/notify")
	}
	var errs []error
	n.global, errs = newTarget("", cfg.Secret, nil, cfg.ConnectTimeout, cfg.ReadTimeout, errs)
	longest := n.global.budget()
	for _, s := range subscribers {
		t, e := newTarget(s.URL, s.Secret, s.Kinds, positive(s.ConnectTimeout, cfg.ConnectTimeout),
			positive(s.ReadTimeout, cfg.ReadTimeout), nil)
		errs = append(errs, e...)
		if _, dup := n.subs[s.URL]; !dup {
			n.subs[s.URL] = t
			n.order = append(n.order, t)
		}
		longest = max(longest, t.budget())
	}
	if opt.Registerer != nil {
		if err := n.register(opt.Registerer); err != nil {
			errs = append(errs, fmt.Errorf("registering metrics: %w", err))
		}
	}
	n.cfgErr = errors.Join(errs...)
	n.longest = longest
	n.lease = opt.Lease
	if n.lease <= 0 {
		n.lease = max(time.Minute, 3*longest)
	}
	// An attempt starts only if its budget fits in what is left of the lease.
	n.lease = max(n.lease, longest+3*leaseSlack)
	if n.client == nil {
		n.client = newClient(cfg.PoolMax)
	}
	return n
}

// Start runs the notifier until ctx ends or Stop is called: a scan of the
// events not yet notified (an interrupted fan-out is finished), the fan-out of
// accepted events, and the dispatcher with its worker pool. It returns at
// once; the error reports a malformed configuration or a second Start.
func (n *Notifier) Start(ctx context.Context) error {
	if n.cfgErr != nil {
		return fmt.Errorf("notify: %w", n.cfgErr)
	}
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if !n.started.CompareAndSwap(false, true) || n.stopped.Load() {
		return fmt.Errorf("notify: start: %w", ErrStopped)
	}
	ctx, n.cancel = context.WithCancel(ctx)
	n.sendCtx, n.sendCancel = context.WithCancel(context.WithoutCancel(ctx))
	n.pool = newPool(n.cfg.PoolCore, n.cfg.PoolMax, n.cfg.QueueSize, poolKeepAlive, n.deliver)
	n.records = make(chan recordReq, n.cfg.PoolMax)
	n.recorder.Go(n.recordLoop)
	n.loops.Add(2)
	go func() { defer n.loops.Done(); n.fanOutLoop(ctx) }()
	go func() { defer n.loops.Done(); n.dispatchLoop(ctx) }()
	return nil
}

// Stop stops claiming and fanning out, gives back the claimed deliveries not
// yet started (they are due again at once, for the next start or another
// replica), and waits for the attempts in flight to be sent and recorded. When
// ctx ends first it aborts them (they are sent again later) and returns ctx's
// error. Stop before the store's Close.
func (n *Notifier) Stop(ctx context.Context) error {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if !n.stopped.CompareAndSwap(false, true) || !n.started.Load() {
		return nil
	}
	n.cancel()
	n.loops.Wait()
	for _, d := range n.pool.close() {
		n.release(d, "stopping")
	}
	done := make(chan struct{})
	go func() {
		n.pool.wait()
		close(n.records) // no worker is left to record
		n.recorder.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.sendCancel()
		return nil
	case <-ctx.Done():
		n.sendCancel()
		<-done
		return fmt.Errorf("notify: stop: %w", ctx.Err())
	}
}

// Close is Stop bounded by the longest attempt (connect plus read timeout,
// plus a second), for owners whose closers take no context.
func (n *Notifier) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), n.longest+time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		n.log.Warn("notify: attempts in flight were cut short; they will be sent again", "err", err)
	}
}

// Accepted implements handlers.Observer: the event id was just committed. It
// hands the id to the fan-out goroutine and returns at once; it never waits on
// the database or a subscriber. If the hand-off is full the id is left to the
// scan of unnotified events, which it triggers.
func (n *Notifier) Accepted(ctx context.Context, id int64, e events.Event) {
	if n.stopped.Load() {
		return // still unnotified: the next start's scan picks it up
	}
	if len(n.order) == 0 {
		return // no subscribers: nothing is owed (see models.Options.BornNotified)
	}
	select {
	case n.accepted <- id:
	default:
		signal(n.scanNow)
	}
}

// NotifyURL creates a durable delivery of body to rawURL, outside the
// subscriber list (the sync bridge's notify_url answers), signed with the
// global secret, and returns its id once it is committed. The first attempt
// goes out at once, retries follow the schedule.
func (n *Notifier) NotifyURL(ctx context.Context, rawURL, kind string, body []byte) (int64, error) {
	if n.stopped.Load() {
		return 0, fmt.Errorf("notify: notify url: %w", ErrStopped)
	}
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, fmt.Errorf("notify: %q: %w", rawURL, ErrURL)
	}
	id := n.store.NewID()
	d := models.NewDelivery{ID: id, URL: rawURL, Kind: kind, Body: body}
	if err := n.store.CreateDeliveries(ctx, 0, []models.NewDelivery{d}); err != nil {
		return 0, fmt.Errorf("notify: notify url: %w", err)
	}
	n.hint(time.Time{})
	return id, nil
}

// Retry makes delivery id due at once (see models.Store.RetryDelivery) and
// wakes the dispatcher, so it is sent within moments.
func (n *Notifier) Retry(ctx context.Context, id int64) error {
	if err := n.store.RetryDelivery(ctx, id); err != nil {
		return err
	}
	n.hint(time.Time{})
	return nil
}

// signal does a non-blocking send on a coalescing channel.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func positive(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
