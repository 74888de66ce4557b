package handlers

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pushgate/pushgate/models"
)

// NewRegistry returns a Prometheus registry with the Go runtime and
// process collectors, the registry a Server serves on /metrics when Deps
// gives none.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// durationBuckets are the buckets of every duration histogram, in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// counter is a counter by one label value, its children found in a
// series cache.
type counter struct {
	v *prometheus.CounterVec
	c *series[string, prometheus.Counter]
}

func newCounter(v *prometheus.CounterVec) counter {
	return counter{v, newSeries(func(label string) prometheus.Counter { return v.WithLabelValues(label) })}
}

func (c counter) inc(label string) { c.c.get(label).Inc() }

func (c counter) add(label string, n int64) {
	if n > 0 {
		c.c.get(label).Add(float64(n))
	}
}

// histogram observes durations.
type histogram struct{ h prometheus.Histogram }

func (h histogram) observe(d time.Duration) { h.h.Observe(d.Seconds()) }

// metrics are the server's collectors. Their labels are bounded: outcomes
// and accounts come from fixed or configured sets, kinds are capped by
// kindLabel; never an openid, an event key or a URL.
type metrics struct {
	refused     counter // refused pushes by what became of them
	rejected    counter // refused (kept) pushes by the answer's status: their reason's class
	pushes      counter // pushes by outcome
	previousKey counter // pushes verified or opened with a previous token or key, by account
	dispatch    counter // handler runs by outcome
	latency     histogram
	store       histogram
	handler     histogram

	stored     *prometheus.CounterVec   // stored pushes by account, kind, outcome (accepted, duplicate, accepted_late)
	runs       *prometheus.CounterVec   // handler runs by kind, outcome
	runSeconds *prometheus.HistogramVec // handler run time by kind
	replays    *prometheus.CounterVec   // replays by outcome (the event's status after it)
	recovered  prometheus.Counter       // events dispatched by recovery or the sweep
	sweeps     prometheus.Counter       // sweep runs

	kinds kindLabels

	// The children of the vectors by kind, found by the event's own kind
	// (kindLabel caps the label values they are made with).
	storedBy     *series[storedKey, prometheus.Counter]
	runsBy       *series[runKey, prometheus.Counter]
	runSecondsBy *series[string, prometheus.Observer]
}

type storedKey struct{ account, kind, outcome string }

type runKey struct{ kind, outcome string }

// storedInc counts a stored push of account's of kind by outcome.
func (m *metrics) storedInc(account, kind, outcome string) {
	m.storedBy.get(storedKey{account, kind, outcome}).Inc()
}

// runsInc counts a handler run of kind by outcome.
func (m *metrics) runsInc(kind, outcome string) { m.runsBy.get(runKey{kind, outcome}).Inc() }

// runSecondsFor is the histogram of kind's handler runs.
func (m *metrics) runSecondsFor(kind string) prometheus.Observer { return m.runSecondsBy.get(kind) }

// maxSeries caps the children a series cache holds; past it a lookup goes
// to the vector (the kinds of unknown events come from the senders).
const maxSeries = 4 * maxKinds

// series caches the children of a metric vector by the values they are
// found by, so that a push finds each of its counters with one lookup in a
// map nobody writes (copied on the rare insert), instead of hashing label
// values under the vector's lock. It holds only children that were used:
// no zero series appear before their first event.
type series[K comparable, M any] struct {
	makeFunc func(K) M
	mu       sync.Mutex // serialises inserts
	m        atomic.Pointer[map[K]M]
}

func newSeries[K comparable, M any](makeFunc func(K) M) *series[K, M] {
	return &series[K, M]{makeFunc: makeFunc}
}

// get returns the child of k, made on first use.
func (c *series[K, M]) get(k K) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	v := c.makeFunc(k)
	if old != nil && len(*old) >= maxSeries {
		return v
	}
	next := make(map[K]M, 1)
	if old != nil {
		next = make(map[K]M, len(*old)+1)
		for ok, ov := range *old {
			next[ok] = ov
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

// maxKinds caps the distinct kind label values; the rest count as "other".
const maxKinds = 200

// kindLabels hands out kind label values, at most maxKinds distinct ones.
type kindLabels struct {
	seen sync.Map // kind -> struct{}
	n    atomic.Int64
}

func (k *kindLabels) label(kind string) string {
	if _, ok := k.seen.Load(kind); ok {
		return kind
	}
	if k.n.Add(1) > maxKinds {
		k.n.Add(-1)
		return "other"
	}
	if _, loaded := k.seen.LoadOrStore(kind, struct{}{}); loaded {
		k.n.Add(-1)
	}
	return kind
}

func newMetrics() *metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	hist := func(name, help string) histogram {
		return histogram{prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets})}
	}
	m := &metrics{
		pushes:      newCounter(cv("pushgate_pushes_total", "Pushes received on /wechat by outcome.", "outcome")),
		refused:     newCounter(cv("pushgate_refused_total", "Refused pushes by what became of them: kept, rate_limited (counted, not stored), save_failed, dropped_retention, dropped_total_cap (oldest dropped for the total cap).", "outcome")),
		rejected:    newCounter(cv("pushgate_rejected_total", "Pushes refused as malformed, by the answer's status (the class of their reason): 400 undecodable or unstorable, 401 sealed for another app, 413 over the body limit.", "status")),
		dispatch:    newCounter(cv("pushgate_dispatches_total", "Handler runs by outcome.", "outcome")),
		previousKey: newCounter(cv("pushgate_wechat_previous_key_total", "Pushes (and URL checks) verified or opened only with an account's previous token or EncodingAESKey.", "account")),
		latency:     hist("pushgate_push_seconds", "Time to answer a push."),
		store:       hist("pushgate_store_seconds", "Time a push waits for its row to be committed."),
		handler:     hist("pushgate_handler_seconds", "Time a push waits for its handler."),
		stored:      cv("pushgate_events_total", "Stored pushes by account, kind and outcome: accepted, duplicate, accepted_late (committed after a 503).", "account", "kind", "outcome"),
		runs:        cv("pushgate_handler_runs_total", "Handler runs by kind and outcome: handled, retry, failed.", "kind", "outcome"),
		runSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pushgate_handler_run_seconds", Help: "Time one handler run takes, by kind.", Buckets: durationBuckets,
		}, []string{"kind"}),
		replays:   cv("pushgate_replays_total", "Admin replays by the event's status after them.", "outcome"),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Name: "pushgate_recovered_total", Help: "Events left received that recovery or the sweep dispatched."}),
		sweeps:    prometheus.NewCounter(prometheus.CounterOpts{Name: "pushgate_sweeps_total", Help: "Runs of the sweep of events left received."}),
	}
	m.storedBy = newSeries(func(k storedKey) prometheus.Counter {
		return m.stored.WithLabelValues(k.account, m.kinds.label(k.kind), k.outcome)
	})
	m.runsBy = newSeries(func(k runKey) prometheus.Counter { return m.runs.WithLabelValues(m.kinds.label(k.kind), k.outcome) })
	m.runSecondsBy = newSeries(func(kind string) prometheus.Observer { return m.runSeconds.WithLabelValues(m.kinds.label(kind)) })
	return m
}

// register registers the metrics, and the store's writer counts, on reg.
func (s *Server) registerMetrics(reg prometheus.Registerer) error {
	m := s.metrics
	cs := []prometheus.Collector{
		m.pushes.v, m.refused.v, m.rejected.v, m.dispatch.v, m.previousKey.v, m.latency.h, m.store.h, m.handler.h,
		m.stored, m.runs, m.runSeconds, m.replays, m.recovered, m.sweeps,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "pushgate_store_commits_total",
			Help: "Batches of the store's group-commit writer (a transaction each, unless all its writes were abandoned).",
		}, func() float64 { return float64(s.store.WriterStats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "pushgate_store_writes_total", Help: "Writes (saves, attempts, ...) those transactions carried.",
		}, func() float64 { return float64(s.store.WriterStats().Writes) }),
		commitSizes{s.store},
	}
	for _, g := range s.gauges {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.Name, Help: g.Help}, g.Value))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// commitSizesDesc describes pushgate_store_commit_writes.
var commitSizesDesc = prometheus.NewDesc("pushgate_store_commit_writes",
	"Writes per batch of the store's group-commit writer (its transactions by size).", nil, nil)

// commitSizes collects the store writer's batch sizes, read at scrape.
type commitSizes struct{ store *models.Store }

// Describe implements prometheus.Collector.
func (c commitSizes) Describe(ch chan<- *prometheus.Desc) { ch <- commitSizesDesc }

// Collect implements prometheus.Collector.
func (c commitSizes) Collect(ch chan<- prometheus.Metric) {
	cs := c.store.CommitSizes()
	ch <- prometheus.MustNewConstHistogram(commitSizesDesc, cs.Count, cs.Sum, cs.Buckets)
}

// metricsHandler writes the registry in Prometheus' exposition format.
func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
