package pushgate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// scrape GETs url/metrics and parses it with Prometheus' text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of family name with exactly labels
// (counter, gauge, or a histogram's count); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !cmp.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAfterScriptedRun drives a real Service over loopback HTTP
// (pushes, a duplicate, a refusal, a failing handler, a notification to a
// loopback sink) and checks the values /metrics reports.
func TestMetricsAfterScriptedRun(t *testing.T) {
	t.Parallel()
	var sunk atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		sunk.Add(1)
		io.WriteString(w, "success")
	}))
	defer sink.Close()

	cfg := testConfig(t)
	cfg.Notify.URLs = []string{sink.URL}
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) { return nil, nil })
	events.Handle(mux, func(ctx context.Context, e *events.TextMessage) (events.Reply, error) {
		return nil, errors.New("text handler fails")
	})
	svc, err := pushgate.New(cfg, mux, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ts := httptest.NewServer(svc.Handler())
	defer ts.Close()

	n := 0
	push := func(body string) int {
		t.Helper()
		n++
		stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), fmt.Sprintf("nonce%d", n)
		u := fmt.Sprintf("%s/wechat?signature=%s&timestamp=%s&nonce=%s", ts.URL, handlers.Signature(cfg.WeChat.Token, stamp, nonce), stamp, nonce)
		resp, err := http.Post(u, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	click := func(i int) string {
		return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[user%d]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[K%d]]></EventKey></xml>`, i, 1700000000+i, i)
	}
	text := `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[user9]]></FromUserName><CreateTime>1700000100</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>77</MsgId></xml>`
	for _, step := range []struct {
		body string
		want int
	}{
		{click(1), 200}, {click(2), 200}, {click(1), 200}, // the third is a duplicate
		{text, 200},               // its handler fails; WeChat still gets success
		{"<xml><not closed", 400}, // refused, kept
	} {
		if got := push(step.body); got != step.want {
			t.Fatalf("push %d: status %d, want %d", n, got, step.want)
		}
	}

	// Three stored pushes are notified to the sink (the duplicate is not).
	deadline := time.Now().Add(10 * time.Second)
	var fams map[string]*dto.MetricFamily
	for {
		fams = scrape(t, ts.URL)
		// The attempt is counted when it ends; its delivery's row is marked
		// succeeded in the commit that follows: wait for both.
		if value(fams, "pushgate_notify_attempts_total", "outcome", "success", "attempt", "1") == 3 &&
			value(fams, "pushgate_notify_pending") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications: %v successful first attempts after 10s (sink got %d), want 3",
				value(fams, "pushgate_notify_attempts_total", "outcome", "success", "attempt", "1"), sunk.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pushgate_pushes_total", []string{"outcome", "accepted"}, 3},
		{"pushgate_pushes_total", []string{"outcome", "duplicate"}, 1},
		{"pushgate_pushes_total", []string{"outcome", "rejected"}, 1},
		{"pushgate_refused_total", []string{"outcome", "kept"}, 1},
		{"pushgate_rejected_total", []string{"status", "400"}, 1},
		{"pushgate_events_total", []string{"account", "default", "kind", "event.CLICK", "outcome", "accepted"}, 2},
		{"pushgate_events_total", []string{"account", "default", "kind", "event.CLICK", "outcome", "duplicate"}, 1},
		{"pushgate_events_total", []string{"account", "default", "kind", "text", "outcome", "accepted"}, 1},
		{"pushgate_dispatches_total", []string{"outcome", "handled"}, 2},
		{"pushgate_dispatches_total", []string{"outcome", "failed"}, 1},
		{"pushgate_handler_runs_total", []string{"kind", "event.CLICK", "outcome", "handled"}, 2},
		{"pushgate_handler_runs_total", []string{"kind", "text", "outcome", "failed"}, 1},
		{"pushgate_handler_run_seconds", []string{"kind", "event.CLICK"}, 2},
		{"pushgate_push_seconds", nil, 5},
		{"pushgate_store_seconds", nil, 4}, // the refusal's save is not a push's
		{"pushgate_notify_attempts_total", []string{"outcome", "success", "attempt", "1"}, 3},
		{"pushgate_notify_pending", nil, 0},
		{"pushgate_notify_dead", nil, 0},
		{"pushgate_notify_oldest_pending_seconds", nil, 0},
		{"pushgate_notify_outbox_up", nil, 1},
		{"pushgate_bridge_waiting", nil, 0},
		{"pushgate_feed_subscribers", nil, 0},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("Got(%s%v) = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := sunk.Load(); got != 3 {
		t.Errorf("sink got %d notifications, want 3", got)
	}
	commits, writes := value(fams, "pushgate_store_commits_total"), value(fams, "pushgate_store_writes_total")
	if commits < 1 || writes < 5 || writes < commits {
		t.Errorf("store commits %v, writes %v: want at least one commit and the 5 saves among the writes", commits, writes)
	}
	if f := fams["pushgate_store_commit_writes"]; f == nil || len(f.GetMetric()) != 1 {
		t.Errorf("/metrics lacks the histogram pushgate_store_commit_writes")
	} else {
		h := f.GetMetric()[0].GetHistogram()
		if got := float64(h.GetSampleCount()); got != commits {
			t.Errorf("Got(pushgate_store_commit_writes count) = %v, want %v (pushgate_store_commits_total)", got, commits)
		}
		if got := h.GetSampleSum(); got != writes {
			t.Errorf("Got(pushgate_store_commit_writes sum) = %v, want %v (pushgate_store_writes_total)", got, writes)
		}
		if n := len(h.GetBucket()); n != 10 {
			t.Errorf("Got(pushgate_store_commit_writes buckets) = %d, want 10 (1 to 256 and +Inf)", n)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "go_memstats_alloc_bytes"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s (Go runtime and process collectors)", name)
		}
	}
}

// WithRegisterer: pushgate's metrics also on the program's own registry,
// next to its own metrics.
func ExampleWithRegisterer() {
	dir, _ := os.MkdirTemp("", "pushgate-example")
	defer os.RemoveAll(dir)
	cfg := configs.Default()
	cfg.WeChat.Token = "my-token"
	cfg.DB.DSN = filepath.Join(dir, "pushgate.db")

	reg := prometheus.NewRegistry()
	svc, err := pushgate.New(cfg, events.NewMux(), pushgate.WithRegisterer(reg),
		pushgate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "pushgate_store_commits_total" {
			fmt.Println(f.GetName(), f.GetType())
		}
	}
	// Output: pushgate_store_commits_total COUNTER
}
