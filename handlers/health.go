package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/models"
)

// healthz answers 200 when the database answers and the store's writer can
// commit (models.Store.WriterHealth: its last commit, or a probe write when
// idle), 503 otherwise. It recovers by itself once the cause is gone. The
// route is unauthenticated, so its body says only what failed, never the
// database's own error (which may name the DSN, host, user or database):
// that goes to the log.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	var reason string
	err := s.store.Ping(ctx)
	switch {
	case errors.Is(err, models.ErrClosed):
		reason = "store closed"
	case err != nil:
		reason = "database unreachable"
	default:
		err = s.store.WriterHealth(ctx)
		switch {
		case errors.Is(err, models.ErrWriterStuck):
			reason = "writes are not committing in time"
		case err != nil:
			reason = "writes are failing"
		}
	}
	if err != nil {
		s.log.Warn("health check failed", "reason", reason, "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": s.store.Driver(), "reason": reason, "accounts": s.Accounts()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "database": s.store.Driver(), "accounts": s.Accounts()})
}

// counter is a set of counters by label value.
type counter struct {
	mu sync.Mutex
	m  map[string]*atomic.Int64
}

func (c *counter) inc(label string) { c.add(label, 1) }

func (c *counter) add(label string, n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	v, ok := c.m[label]
	if !ok {
		v = new(atomic.Int64)
		c.m[label] = v
	}
	c.mu.Unlock()
	v.Add(n)
}

func (c *counter) write(b *strings.Builder, name, label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s{%s=%q} %d\n", name, label, k, c.m[k].Load())
	}
}

// histogram counts durations into fixed buckets.
type histogram struct {
	bounds []float64 // seconds
	counts []atomic.Int64
	sumUS  atomic.Int64
	total  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	sec := d.Seconds()
	i, _ := slices.BinarySearch(h.bounds, sec)
	h.counts[i].Add(1)
	h.sumUS.Add(d.Microseconds())
	h.total.Add(1)
}

func (h *histogram) write(b *strings.Builder, name, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum int64
	for i, bound := range h.bounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(b, "%s_bucket{le=\"%g\"} %d\n", name, bound, cum)
	}
	cum += h.counts[len(h.bounds)].Load()
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(b, "%s_sum %g\n%s_count %d\n", name, float64(h.sumUS.Load())/1e6, name, h.total.Load())
}

type metrics struct {
	refused     counter // refused pushes by what became of them
	pushes      counter
	previousKey counter // pushes verified or opened with a previous token or key, by account
	dispatch    counter
	latency     histogram // whole push
	store       histogram // SaveEvent: queue, batch, commit
	handler     histogram // the handler's run, as seen by the push
}

func newMetrics() *metrics {
	bounds := []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	hist := func() histogram { return histogram{bounds: bounds, counts: make([]atomic.Int64, len(bounds)+1)} }
	return &metrics{
		refused:     counter{m: map[string]*atomic.Int64{}},
		pushes:      counter{m: map[string]*atomic.Int64{}},
		previousKey: counter{m: map[string]*atomic.Int64{}},
		dispatch:    counter{m: map[string]*atomic.Int64{}},
		latency:     hist(),
		store:       hist(),
		handler:     hist(),
	}
}

// metricsHandler writes Prometheus' text format.
func (s *Server) metricsHandler(c *gin.Context) {
	var b strings.Builder
	b.WriteString("# HELP pushgate_pushes_total Pushes received on /wechat by outcome.\n# TYPE pushgate_pushes_total counter\n")
	s.metrics.pushes.write(&b, "pushgate_pushes_total", "outcome")
	b.WriteString("# HELP pushgate_refused_total Refused pushes by what became of them: kept, rate_limited (counted, not stored), save_failed, dropped_retention, dropped_total_cap (oldest dropped for the total cap).\n# TYPE pushgate_refused_total counter\n")
	s.metrics.refused.write(&b, "pushgate_refused_total", "outcome")
	b.WriteString("# HELP pushgate_dispatches_total Handler runs by outcome.\n# TYPE pushgate_dispatches_total counter\n")
	s.metrics.dispatch.write(&b, "pushgate_dispatches_total", "outcome")
	b.WriteString("# HELP pushgate_wechat_previous_key_total Pushes (and URL checks) verified or opened only with an account's previous token or EncodingAESKey.\n# TYPE pushgate_wechat_previous_key_total counter\n")
	s.metrics.previousKey.write(&b, "pushgate_wechat_previous_key_total", "account")
	s.metrics.latency.write(&b, "pushgate_push_seconds", "Time to answer a push.")
	s.metrics.store.write(&b, "pushgate_store_seconds", "Time a push waits for its row to be committed.")
	s.metrics.handler.write(&b, "pushgate_handler_seconds", "Time a push waits for its handler.")
	ws := s.store.WriterStats()
	fmt.Fprintf(&b, "# HELP pushgate_store_commits_total Batches of the store's group-commit writer (a transaction each, unless all its writes were abandoned).\n# TYPE pushgate_store_commits_total counter\npushgate_store_commits_total %d\n", ws.Batches)
	fmt.Fprintf(&b, "# HELP pushgate_store_writes_total Writes (saves, attempts, ...) those transactions carried.\n# TYPE pushgate_store_writes_total counter\npushgate_store_writes_total %d\n", ws.Writes)
	for _, g := range s.gauges {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", g.Name, g.Help, g.Name, g.Name, g.Value())
	}
	c.Data(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", []byte(b.String()))
}
