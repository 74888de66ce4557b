package pushgate_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// namesRegisterer records the names of the metrics registered on it (all
// of a collector's, children or not).
type namesRegisterer struct {
	mu    sync.Mutex
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *namesRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *namesRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		r.Register(c)
	}
}

func (r *namesRegisterer) Unregister(prometheus.Collector) bool { return true }

// exposedNames is every metric name a Service's /metrics can carry.
func exposedNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &namesRegisterer{names: map[string]bool{}}
	svc, err := pushgate.New(testConfig(t), events.NewMux(), quiet(), pushgate.WithRegisterer(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	fams, err := handlers.NewRegistry().Gather() // the Go runtime and process collectors
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		rec.names[f.GetName()] = true
	}
	return rec.names
}

var metricRef = regexp.MustCompile(`\b(?:pushgate|go|process)_[a-z0-9_]+`)

// unknownMetrics returns the metric names expr refers to that names lacks
// (a histogram's _bucket, _sum and _count series are its name's).
func unknownMetrics(expr string, names map[string]bool) []string {
	var bad []string
	for _, ref := range metricRef.FindAllString(expr, -1) {
		base := ref
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if s, ok := strings.CutSuffix(ref, suf); ok && names[s] {
				base = s
			}
		}
		if !names[base] {
			bad = append(bad, ref)
		}
	}
	return bad
}

// TestGrafanaDashboard: docs/grafana-dashboard.json is valid JSON whose
// every panel query refers only to metrics pushgate exposes.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	names := exposedNames(t)
	b, err := os.ReadFile("docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if len(dash.Panels) == 0 {
		t.Fatal("docs/grafana-dashboard.json has no panels")
	}
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if bad := unknownMetrics(q.Expr, names); len(bad) > 0 {
				t.Errorf("panel %q: Got(%q) refers to %v, which /metrics does not expose", p.Title, q.Expr, bad)
			}
			for _, ref := range metricRef.FindAllString(q.Expr, -1) {
				seen[ref] = true
			}
		}
	}
	// Every part is on the dashboard.
	for _, want := range []string{"pushgate_pushes_total", "pushgate_events_total", "pushgate_handler_runs_total",
		"pushgate_notify_attempts_total", "pushgate_notify_pending", "pushgate_bridge_waiting",
		"pushgate_feed_subscribers", "pushgate_store_commits_total", "pushgate_sync_requests_total"} {
		if !seen[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

// TestAlertRules: docs/alerts.yaml is a Prometheus rule file whose every
// expression refers only to metrics pushgate exposes, with the alerts the
// README promises.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	names := exposedNames(t)
	b, err := os.ReadFile("docs/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("docs/alerts.yaml: %v", err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %q lacks an expr, a severity or a summary", r.Alert)
			}
			if bad := unknownMetrics(r.Expr, names); len(bad) > 0 {
				t.Errorf("alert %q: Got(%q) refers to %v, which /metrics does not expose", r.Alert, r.Expr, bad)
			}
		}
	}
	for _, want := range []string{"PushgateDeadDeliveriesGrowing", "PushgateStoreUnavailable",
		"PushgateHandlerFailureRatio", "PushgateOldestPendingNotification"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("docs/alerts.yaml lacks alert %s (has %v)", want, alerts)
		}
	}
}
