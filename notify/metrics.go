package notify

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushgate/pushgate/models"
)

// maxAttemptLabel caps the attempt label: later attempts count under it
// with a "+".
const maxAttemptLabel = 10

// metrics are the notifier's collectors.
type metrics struct {
	attempts *prometheus.CounterVec   // by outcome, attempt
	seconds  *prometheus.HistogramVec // POST time by outcome
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushgate_notify_attempts_total",
			Help: "Delivery attempts by outcome (success, retry, dead, lease_lost, record_failed) and attempt number (10+ for the tenth and later).",
		}, []string{"outcome", "attempt"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pushgate_notify_attempt_seconds", Help: "Time one delivery attempt (a POST) takes, by outcome.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
	}
}

func (m *metrics) attempt(outcome string, attempt int, d time.Duration) {
	a := strconv.Itoa(attempt)
	if attempt >= maxAttemptLabel {
		a = strconv.Itoa(maxAttemptLabel) + "+"
	}
	m.attempts.WithLabelValues(outcome, a).Inc()
	m.seconds.WithLabelValues(outcome).Observe(d.Seconds())
}

// register registers the notifier's collectors, and one that reads the
// outbox's state at each scrape, on reg.
func (n *Notifier) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{n.metrics.attempts, n.metrics.seconds, &outboxCollector{store: n.store, now: n.now}} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

var (
	descPending = prometheus.NewDesc("pushgate_notify_pending", "Deliveries still to be made (the outbox's queue depth).", nil, nil)
	descOldest  = prometheus.NewDesc("pushgate_notify_oldest_pending_seconds", "Age of the oldest pending delivery; 0 when none is pending.", nil, nil)
	descDead    = prometheus.NewDesc("pushgate_notify_dead", "Deliveries that gave up after their last attempt (until pruned or retried).", nil, nil)
	descUp      = prometheus.NewDesc("pushgate_notify_outbox_up", "1 when the outbox's state could be read at this scrape, else 0.", nil, nil)
)

// outboxCollector reads the outbox's state from the store at each scrape.
type outboxCollector struct {
	store *models.Store
	now   func() time.Time
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPending
	ch <- descOldest
	ch <- descDead
	ch <- descUp
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.store.DeliveryStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Pending))
	var age float64
	if !st.OldestPending.IsZero() {
		age = max(c.now().Sub(st.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(st.Dead))
}

// noSpan records nothing: the span of an attempt when tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// traceContext writes the W3C traceparent of an attempt's span.
var traceContext = propagation.TraceContext{}

// traceParentCarrier is a propagation.TextMapCarrier holding only a stored
// traceparent, to extract without allocating a map.
type traceParentCarrier string

// Get implements propagation.TextMapCarrier.
func (c traceParentCarrier) Get(key string) string {
	if key == "traceparent" {
		return string(c)
	}
	return ""
}

// Set implements propagation.TextMapCarrier; a stored traceparent is read only.
func (traceParentCarrier) Set(string, string) {}

// Keys implements propagation.TextMapCarrier.
func (traceParentCarrier) Keys() []string { return []string{"traceparent"} }
