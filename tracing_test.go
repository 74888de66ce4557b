package pushgate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// TestNotificationCarriesTraceparent: with tracing on, a notification's POST
// carries the W3C traceparent of its attempt's span, so a subscriber can
// join the trace, and that span is a child of the push's server span (kept
// on the event as trace_parent): the notification continues the push's
// trace.
func TestNotificationCarriesTraceparent(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		parents []string
	)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		io.WriteString(w, "success")
	}))
	defer sink.Close()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	cfg := testConfig(t)
	cfg.Notify.URLs = []string{sink.URL}
	svc, err := pushgate.New(cfg, events.NewMux(), quiet(), pushgate.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ts := httptest.NewServer(svc.Handler())
	defer ts.Close()

	stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), "tp1"
	u := fmt.Sprintf("%s/wechat?signature=%s&timestamp=%s&nonce=%s", ts.URL, handlers.Signature(cfg.WeChat.Token, stamp, nonce), stamp, nonce)
	resp, err := http.Post(u, "text/xml", strings.NewReader(`<xml><ToUserName>gh_1</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>TP</EventKey></xml>`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(parents)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var attempt, push *tracetest.SpanStub
	for deadline := time.Now().Add(5 * time.Second); (attempt == nil || push == nil) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range exp.GetSpans() {
			switch s.Name {
			case "notify.attempt":
				attempt = &s
			case "POST /wechat":
				push = &s
			}
		}
	}
	if attempt == nil || push == nil {
		t.Fatalf("spans: notify.attempt %v, POST /wechat %v: want both", attempt != nil, push != nil)
	}
	want := fmt.Sprintf("00-%s-%s-01", attempt.SpanContext.TraceID(), attempt.SpanContext.SpanID())
	mu.Lock()
	defer mu.Unlock()
	if parents[0] != want {
		t.Errorf("Got(traceparent) = %q, want %q (the attempt's span)", parents[0], want)
	}
	if got, want := attempt.SpanContext.TraceID(), push.SpanContext.TraceID(); got != want {
		t.Errorf("Got(notify.attempt trace id) = %v, want %v (the push's)", got, want)
	}
	if got, want := attempt.Parent.SpanID(), push.SpanContext.SpanID(); got != want {
		t.Errorf("Got(notify.attempt parent) = %v, want %v (the push's server span)", got, want)
	}
	if !strings.Contains(parents[0], push.SpanContext.TraceID().String()) {
		t.Errorf("Got(traceparent) = %q, want the push's trace id %v", parents[0], push.SpanContext.TraceID())
	}
}

// WithTracerProvider: pushgate's spans go to your tracer provider (here an
// in-memory exporter; in production an OTLP one, or let the
// OTEL_EXPORTER_OTLP_ENDPOINT variable make one).
func ExampleWithTracerProvider() {
	dir, _ := os.MkdirTemp("", "pushgate-example")
	defer os.RemoveAll(dir)
	cfg := configs.Default()
	cfg.WeChat.Token = "my-token"
	cfg.DB.DSN = filepath.Join(dir, "pushgate.db")

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	svc, err := pushgate.New(cfg, events.NewMux(), pushgate.WithTracerProvider(tp),
		pushgate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	svc.Start(context.Background())
	defer svc.Close()
	ts := httptest.NewServer(svc.Handler())
	defer ts.Close()

	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	u := ts.URL + "/wechat?timestamp=" + stamp + "&nonce=n1&signature=" + handlers.Signature("my-token", stamp, "n1")
	resp, err := http.Post(u, "text/xml", strings.NewReader(`<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey></xml>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	fmt.Println(strings.Join(names, ", "))
	// Output: POST /wechat, answer, decode, dispatch, handler, store
}
