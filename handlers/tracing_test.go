package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// TestTraceOfOnePush checks the span tree of one push whose handler fails:
// the request's server span, the child of the incoming traceparent, with
// decode, store, dispatch and answer as children, and the handler's run a
// child of dispatch with its error recorded.
func TestTraceOfOnePush(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken = testAdmin
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return nil, errors.New("no such menu")
	})
	srv := newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: quietLogger(), TracerProvider: tp})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ts := &testServer{Server: hs, srv: srv, store: store, cfg: cfg}

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("POST", ts.signedURL(freshNonce()), bytes.NewReader(clickBody("TRACED", 1700000000)))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push = %d, want 200", resp.StatusCode)
	}
	reqID := resp.Header.Get(handlers.HeaderRequestID)

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	var names []string
	for _, s := range spans {
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"POST /wechat", "answer", "decode", "dispatch", "handler", "store"}, names); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	root := byName["POST /wechat"]
	if got := root.SpanContext.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("Got(trace id) = %s, want the incoming traceparent's", got)
	}
	if got := root.Parent.SpanID().String(); got != "00f067aa0ba902b7" || !root.Parent.IsRemote() {
		t.Errorf("Got(root's parent) = %s (remote %v), want the incoming span 00f067aa0ba902b7", got, root.Parent.IsRemote())
	}
	attrs := map[string]string{}
	for _, a := range root.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["pushgate.http_request_id"] != reqID || attrs["http.response.status_code"] != "200" {
		t.Errorf("root attributes = %v, want the request id %s and status 200", attrs, reqID)
	}
	for _, c := range []struct{ child, parent string }{
		{"decode", "POST /wechat"}, {"store", "POST /wechat"}, {"dispatch", "POST /wechat"},
		{"answer", "POST /wechat"}, {"handler", "dispatch"},
	} {
		if got, want := byName[c.child].Parent.SpanID(), byName[c.parent].SpanContext.SpanID(); got != want {
			t.Errorf("Got(parent of %s) = %s, want %s (%s)", c.child, got, want, c.parent)
		}
	}
	h := byName["handler"]
	if h.Status.Code != codes.Error || h.Status.Description != "no such menu" {
		t.Errorf("Got(handler status) = %v %q, want Error \"no such menu\"", h.Status.Code, h.Status.Description)
	}
	if len(h.Events) != 1 || h.Events[0].Name != "exception" {
		t.Errorf("Got(handler events) = %v, want the error recorded", h.Events)
	}
	if byName["store"].Status.Code == codes.Error || byName["POST /wechat"].Status.Code == codes.Error {
		t.Errorf("store or request span marked failed: %v, %v", byName["store"].Status, root.Status)
	}
}
