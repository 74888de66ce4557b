package bridge

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// noSpan records nothing: span's answer when tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// span starts a child span of ctx's, or returns ctx and noSpan when
// tracing is off.
func (b *Bridge) span(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if b.tracer == nil {
		return ctx, noSpan
	}
	return b.tracer.Start(ctx, name, opts...)
}

func failSpan(span trace.Span, msg string) {
	if span.IsRecording() {
		span.SetStatus(codes.Error, msg)
	}
}

// traceContext writes the W3C traceparent of a request's span.
var traceContext = propagation.TraceContext{}
