package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation name of pushgate's spans.
const TracerName = "github.com/pushgate/pushgate"

// traceContext is the W3C Trace Context propagator (traceparent,
// tracestate): read from requests, written to outbound ones.
var traceContext = propagation.TraceContext{}

// noSpan is what span returns when tracing is off: it records nothing.
var noSpan = trace.SpanFromContext(context.Background())

// span starts a child span of ctx's named name, or, with tracing off,
// returns ctx and a span that records nothing (no allocation).
func (s *Server) span(ctx context.Context, name string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, noSpan
	}
	return s.tracer.Start(ctx, name)
}

// detach returns a context that does not end with ctx and keeps only its
// span: with tracing off, context.Background (no allocation).
func (s *Server) detach(ctx context.Context) context.Context {
	if s.tracer == nil {
		return context.Background()
	}
	return trace.ContextWithSpan(context.Background(), trace.SpanFromContext(ctx))
}

// traceParentCarrier catches the traceparent an injection writes.
type traceParentCarrier struct{ v string }

// Get implements propagation.TextMapCarrier.
func (c *traceParentCarrier) Get(string) string { return "" }

// Set implements propagation.TextMapCarrier.
func (c *traceParentCarrier) Set(key, value string) {
	if key == "traceparent" {
		c.v = value
	}
}

// Keys implements propagation.TextMapCarrier.
func (c *traceParentCarrier) Keys() []string { return nil }

// traceParent returns the W3C traceparent of ctx's span (a push's server
// span), kept on its event so that its notifications continue the trace;
// "" with tracing off or no valid span.
func (s *Server) traceParent(ctx context.Context) string {
	if s.tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	var c traceParentCarrier
	traceContext.Inject(ctx, &c)
	return c.v
}

// fail records err on span as its error.
func failSpan(span trace.Span, err error) {
	if span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// traceRequests starts a server span for every request, the child of the
// incoming traceparent if any, named after the route's pattern (never its
// path: it may hold an account's name or an id).
func (s *Server) traceRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := traceContext.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := s.tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", c.Request.Method),
				attribute.String("http.route", route),
				attribute.String("pushgate.http_request_id", requestIDOf(c)),
			))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
}
