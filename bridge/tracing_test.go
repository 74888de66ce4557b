package bridge

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pushgate/pushgate/models"
)

// TestSyncTraced: with a tracer provider, each task of a sync request is a
// span (the child of the caller's) whose POST carries its traceparent, and
// the wait for its answer is that span's child.
func TestSyncTraced(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	reg := prometheus.NewRegistry()
	e := newSyncEnv(t, models.DriverSQLite, nil, Options{TracerProvider: tp, Registerer: reg})
	ctx, caller := tp.Tracer("test").Start(context.Background(), "caller")
	resp, status := e.bridge.Sync(ctx, SyncRequest{Timeout: 5 * time.Second, Ops: []Op{op(42, `{"param":"a"}`)}})
	caller.End()
	if status != http.StatusOK {
		t.Fatalf("Sync = %d %+v, want 200", status, resp)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var syncs float64 = -1
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			if f.GetName() == "pushgate_sync_requests_total" && len(m.GetLabel()) == 2 &&
				m.GetLabel()[0].GetValue() == "sync" && m.GetLabel()[1].GetValue() == "200" {
				syncs = m.GetCounter().GetValue()
			}
		}
	}
	if syncs != 1 {
		t.Errorf(`Got(pushgate_sync_requests_total{mode="sync",status="200"}) = %v, want 1`, syncs)
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = s
	}
	task, wait := byName["sync.task"], byName["bridge.wait"]
	if task.Parent.SpanID() != caller.SpanContext().SpanID() {
		t.Errorf("Got(parent of sync.task) = %s, want the caller's span %s", task.Parent.SpanID(), caller.SpanContext().SpanID())
	}
	if wait.Parent.SpanID() != task.SpanContext.SpanID() {
		t.Errorf("Got(parent of bridge.wait) = %s, want sync.task's %s", wait.Parent.SpanID(), task.SpanContext.SpanID())
	}
	if task.Status.Code == codes.Error {
		t.Errorf("sync.task failed: %v", task.Status)
	}
	e.proc.mu.Lock()
	defer e.proc.mu.Unlock()
	want := fmt.Sprintf("00-%s-%s-01", task.SpanContext.TraceID(), task.SpanContext.SpanID())
	if len(e.proc.parents) != 1 || e.proc.parents[0] != want {
		t.Errorf("Got(traceparent of the task's POST) = %q, want [%q]", e.proc.parents, want)
	}
}
